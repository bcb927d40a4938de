/**
 * The fuzz targets, shared by the coverage-guided fuzzer (`fuzz/`, `npm run fuzz`) and the CI
 * replay of the minimised corpus (`corpus.test.ts`). Each target takes arbitrary bytes and
 * returns what happened; anything that is a bug throws a `FuzzFinding` instead:
 *
 * - `stream`: `loadMigrationStream` on the bytes (fed in 1021-byte chunks, so records straddle
 *   chunks) into RAM blocks laid out in one buffer with guard bytes around each block, with a
 *   1 MiB RAM bound. Expected: success, or a StreamError / StreamLimitError (LivemigError codes
 *   STREAM_INVALID / STREAM_LIMIT) whose `offset` lies inside the input and is named in the
 *   message. A finding: any other exception, a guard byte changed (a write outside the blocks),
 *   more RAM asked of the target than the bound, a success that read past the input.
 * - `xbzrle`, `xbrle`: the decoder on (page, delta) where byte 0 picks the page size and the
 *   old page's contents and the rest is the delta; the page is a subarray of a larger buffer
 *   with guard bytes on both sides. Expected: success, or a DeltaError (DELTA_INVALID) naming a
 *   payload offset inside the delta, with the page unchanged. A finding: any other exception,
 *   a guard byte changed, a rejected delta that changed the page, and for XBZRLE a decoded page
 *   that differs from the old one outside the runs the delta names.
 *
 * The fuzzer's watchdog adds the last kind of finding: an input that does not finish (a hang).
 */
import { createHash } from 'node:crypto';
import { DeltaError, LivemigError, StreamError } from '../../src/errors.js';
import { xbrleDecode, xbzrleDecode } from '../../src/codec/index.js';
import { loadMigrationStream, StreamLimitError } from '../../src/stream/index.js';
import type { LoadTarget, RamBlockInfo } from '../../src/stream/index.js';

export type TargetName = 'stream' | 'xbzrle' | 'xbrle';
export const TARGET_NAMES: readonly TargetName[] = ['stream', 'xbzrle', 'xbrle'];

/** What a target did with an input that is not a bug. */
export interface Outcome {
  outcome: 'accepted' | 'rejected';
  /** Rejections: the error's class, code, offset and message. */
  name?: string;
  code?: string;
  offset?: number;
  message?: string;
}

/** A bug: the input made a target break one of its promises. */
export class FuzzFinding extends Error {
  constructor(readonly kind: 'unexpected-error' | 'guard-overwritten' | 'page-changed' | 'bound-broken' | 'bad-rejection' | 'hang', message: string, options?: ErrorOptions) {
    super(`${kind}: ${message}`, options);
    this.name = 'FuzzFinding';
  }
}

/** Most RAM a fuzzed stream may make the target allocate. */
export const FUZZ_MAX_RAM_BYTES = 1024 * 1024;
/** Chunk size the stream is fed in: odd, so records and pages straddle chunks. */
const STREAM_CHUNK_BYTES = 1021;
const GUARD_BYTES = 64;
const GUARD_VALUE = 0xa5;

/** Runs `target` on `data`. Resolves with the outcome; rejects with FuzzFinding for a bug. */
export function runTarget(target: TargetName, data: Uint8Array): Promise<Outcome> | Outcome {
  switch (target) {
    case 'stream':
      return streamTarget(data);
    case 'xbzrle':
      return deltaTarget('xbzrle', data);
    case 'xbrle':
      return deltaTarget('xbrle', data);
  }
}

/** RAM blocks in one buffer: [guard][block][guard][block]...[guard]. */
class GuardedTarget implements LoadTarget {
  buffer: Uint8Array | null = null;
  private readonly blocks = new Map<string, Uint8Array>();
  /** Set when the loader asks for more than its bound (the loader would wrap a thrown error). */
  finding: FuzzFinding | undefined;

  setupRam(list: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> {
    const total = list.reduce((n, b) => n + b.lengthBytes, 0);
    if (total > FUZZ_MAX_RAM_BYTES) {
      this.finding = new FuzzFinding('bound-broken', `setupRam asked for ${total} bytes, over the ${FUZZ_MAX_RAM_BYTES}-byte bound the loader was given`);
      return new Map();
    }
    this.buffer = new Uint8Array(total + GUARD_BYTES * (list.length + 1)).fill(GUARD_VALUE);
    let at = GUARD_BYTES;
    for (const b of list) {
      const mem = this.buffer.subarray(at, at + b.lengthBytes);
      mem.fill(0);
      this.blocks.set(b.idstr, mem);
      at += b.lengthBytes + GUARD_BYTES;
    }
    return this.blocks;
  }

  onDeviceState(): void {}
  onDigest(): void {}

  /** Throws FuzzFinding when a guard byte changed. */
  checkGuards(): void {
    const buf = this.buffer;
    if (buf === null) return;
    let at = 0;
    const check = (from: number): void => {
      for (let i = from; i < from + GUARD_BYTES; i++) {
        if (buf[i] !== GUARD_VALUE) throw new FuzzFinding('guard-overwritten', `byte ${i - from} of the guard at buffer offset ${from} changed to 0x${buf[i]!.toString(16)}: a write outside the RAM blocks`);
      }
    };
    check(at);
    for (const mem of this.blocks.values()) {
      at = mem.byteOffset - buf.byteOffset + mem.length;
      check(at);
    }
  }
}

async function streamTarget(data: Uint8Array): Promise<Outcome> {
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += STREAM_CHUNK_BYTES) chunks.push(data.subarray(off, off + STREAM_CHUNK_BYTES));
  const target = new GuardedTarget();
  let outcome: Outcome;
  try {
    const result = await loadMigrationStream(chunks, target, { maxRamBytes: FUZZ_MAX_RAM_BYTES, maxDeviceStateBytes: 64 * 1024, maxVmdescBytes: 64 * 1024 });
    if (result.bytesRead > data.length) throw new FuzzFinding('bound-broken', `the load reports ${result.bytesRead} bytes read of a ${data.length}-byte input`);
    outcome = { outcome: 'accepted' };
  } catch (e) {
    if (e instanceof FuzzFinding) throw e;
    if (target.finding !== undefined) throw target.finding;
    outcome = expectedRejection(e, data.length, 'stream');
  }
  if (target.finding !== undefined) throw target.finding;
  target.checkGuards();
  return outcome;
}

/** The rejection as an Outcome, or a FuzzFinding when it is not one a caller can rely on. */
function expectedRejection(e: unknown, inputBytes: number, where: 'stream' | 'payload'): Outcome {
  const ok = where === 'stream' ? e instanceof StreamError || e instanceof StreamLimitError : e instanceof DeltaError;
  if (!ok || !(e instanceof LivemigError)) {
    throw new FuzzFinding('unexpected-error', `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
  }
  const offset = (e as unknown as { offset: unknown }).offset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > inputBytes) {
    throw new FuzzFinding('bad-rejection', `${e.name} offset ${String(offset)} is outside the ${inputBytes}-byte input: ${e.message}`);
  }
  if (!e.message.includes(`at ${where} offset ${offset}`)) {
    throw new FuzzFinding('bad-rejection', `${e.name} message does not name its offset ${offset}: ${e.message}`);
  }
  return { outcome: 'rejected', name: e.name, code: e.code, offset, message: e.message };
}

/** Byte 0: page size (bit 7 set: 4096, else 64 × (low 6 bits + 1)) and the old page's seed; the rest: the delta. */
export function deltaInput(data: Uint8Array): { pageBytes: number; old: Uint8Array; delta: Uint8Array } {
  const b0 = data.length > 0 ? data[0]! : 0x80;
  const pageBytes = (b0 & 0x80) !== 0 ? 4096 : 64 * ((b0 & 0x3f) + 1);
  const old = new Uint8Array(pageBytes);
  let s = (b0 * 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < pageBytes; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    old[i] = (b0 & 0x40) !== 0 && (s & 3) === 0 ? 0 : s & 0xff; // some zero bytes too
  }
  return { pageBytes, old, delta: data.subarray(1) };
}

function deltaTarget(codec: 'xbzrle' | 'xbrle', data: Uint8Array): Outcome {
  const { pageBytes, old, delta } = deltaInput(data);
  const buf = new Uint8Array(pageBytes + 2 * GUARD_BYTES).fill(GUARD_VALUE);
  const page = buf.subarray(GUARD_BYTES, GUARD_BYTES + pageBytes);
  page.set(old);
  // the delta is a view too, as the loader hands it over; the decoder must not write to it
  const deltaCopy = delta.slice();
  let outcome: Outcome;
  try {
    if (codec === 'xbzrle') xbzrleDecode(delta, page);
    else xbrleDecode(delta, page);
    outcome = { outcome: 'accepted' };
  } catch (e) {
    outcome = expectedRejection(e, delta.length, 'payload');
    if (!equal(page, old)) throw new FuzzFinding('page-changed', `${codec}Decode rejected the delta (${outcome.message}) but changed the page`);
  }
  for (let i = 0; i < GUARD_BYTES; i++) {
    if (buf[i] !== GUARD_VALUE || buf[GUARD_BYTES + pageBytes + i] !== GUARD_VALUE) {
      throw new FuzzFinding('guard-overwritten', `${codec}Decode wrote outside the ${pageBytes}-byte page (guard byte ${buf[i] !== GUARD_VALUE ? `${GUARD_BYTES - i} before` : `${i} after`} it)`);
    }
  }
  if (!equal(delta, deltaCopy)) throw new FuzzFinding('unexpected-error', `${codec}Decode modified its input delta`);
  if (codec === 'xbzrle' && outcome.outcome === 'accepted') checkXbzrleRuns(delta, old, page);
  return outcome;
}

/** An accepted XBZRLE delta changes exactly the bytes of its changed runs, to the run's bytes. */
function checkXbzrleRuns(delta: Uint8Array, old: Uint8Array, page: Uint8Array): void {
  const expect = old.slice();
  let i = 0;
  let d = 0;
  const uleb = (): number => {
    let v = delta[i++]!;
    if (v & 0x80) v = (v & 0x7f) | (delta[i++]! << 7);
    return v;
  };
  while (i < delta.length) {
    d += uleb();
    const n = uleb();
    expect.set(delta.subarray(i, i + n), d);
    d += n;
    i += n;
  }
  if (!equal(expect, page)) throw new FuzzFinding('unexpected-error', 'xbzrleDecode accepted a delta but the page differs from what its runs say');
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The message with its numbers blanked: rejections of one kind share it (for deduplication). */
export function messageTemplate(message: string): string {
  return message.replace(/'[^']*'/gu, "'…'").replace(/"[^"]*"/gu, '"…"').replace(/0x[0-9a-f]+/giu, '0x#').replace(/[0-9]+/gu, '#');
}

/** Short content name for corpus files. */
export function contentName(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}
