/**
 * livemig's return path: after loading, verifying and resuming, the destination answers
 * the source with one JSON line on the same connection (tcp and unix only; exec, file and
 * fd streams have none, and the source completes when its stream is flushed).
 *
 *   {"status":"completed","digest":"<hex>"}   (the RAM digest, in the stream's digest algorithm)  or  {"status":"failed","error":"..."}
 *
 * With `verify after-resume` a line {"status":"resumed"} comes first, as soon as the guest runs
 * (the downtime ends there), and the final line follows the check. When a page128 check finds
 * chunks that differ, the final line carries `mismatch`: those chunks (at most
 * MAX_REPORTED_CHUNKS) with the destination's page hashes of each (base64, 16 bytes a page), so
 * that the source, whose RAM is still paused, names the pages that differ.
 */
import type { Readable } from 'node:stream';
import { LivemigError } from '../errors.js';

export interface DestinationReply {
  status: 'completed' | 'failed';
  digest?: string;
  error?: string;
  /** The verify mode the destination applied (`after-resume` when it resumed first). */
  verify?: string;
  mismatch?: ReplyMismatch;
}

/** Chunks whose digests differed (and how many in all), with the destination's page hashes of each. */
export interface ReplyMismatch {
  chunkCount: number;
  chunks: { chunk: number; pageHashes: string }[];
}

/** Chunks whose page hashes a reply carries (about 1.4 KiB of base64 each). */
export const MAX_REPORTED_CHUNKS = 16;

const MAX_REPLY_BYTES = 64 * 1024;

const RESUMED_LINE = '{"status":"resumed"}\n';

/** The after-resume line: the guest runs on the destination. */
export function encodeResumed(): Uint8Array {
  return Buffer.from(RESUMED_LINE, 'utf8');
}

export function encodeReply(reply: DestinationReply): Uint8Array {
  return Buffer.from(JSON.stringify(reply) + '\n', 'utf8');
}

/**
 * Reads the destination's reply. Rejects when the connection ends first, the reply is
 * malformed or larger than 64 KiB, or `timeoutMs` passes.
 */
export function readReply(input: Readable, timeoutMs: number, signal?: AbortSignal, onResumed?: () => void): Promise<DestinationReply> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err: Error | null, reply?: DestinationReply) => {
      clearTimeout(timer);
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.off('close', onEnd);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(reply!);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      let nl = text.indexOf('\n');
      if (nl < 0) {
        if (text.length > MAX_REPLY_BYTES) done(new LivemigError('MIGRATION_FAILED', 'destination reply longer than 64 KiB'));
        return;
      }
      if (text.startsWith(RESUMED_LINE)) {
        // after-resume: the guest runs on the destination; the check's result follows
        text = text.slice(RESUMED_LINE.length);
        onResumed?.();
        nl = text.indexOf('\n');
        if (nl < 0) return;
      }
      try {
        const v = JSON.parse(text.slice(0, nl)) as DestinationReply;
        if (v.status !== 'completed' && v.status !== 'failed') throw new Error(`unknown status ${String(v.status)}`);
        done(null, v);
      } catch (e) {
        done(new LivemigError('MIGRATION_FAILED', `malformed destination reply: ${(e as Error).message}`));
      }
    };
    const onEnd = () => done(new LivemigError('TRANSPORT_CLOSED', 'destination closed the connection before confirming the migration'));
    const onError = (e: Error) => done(new LivemigError('TRANSPORT_CLOSED', `return path failed: ${e.message}`, { cause: e }));
    const onAbort = () => done(new LivemigError('MIGRATION_STATE', 'cancelled'));
    const timer = setTimeout(() => done(new LivemigError('MIGRATION_FAILED', `no reply from the destination within ${timeoutMs} ms`)), timeoutMs);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('close', onEnd);
    input.on('error', onError);
    signal?.addEventListener('abort', onAbort);
  });
}
