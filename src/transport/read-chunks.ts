/**
 * Reading a channel's input as a loop: `for await (const chunk of readChunks(channel))`. The loop
 * ends cleanly only at a real end of stream (for exec: with exit status 0); any failure — reset,
 * premature close, a command's error status, an unreadable file — is thrown as a TransportError
 * naming the URI, so the stream parser never mistakes a lost connection for a short stream.
 */
import type { Channel } from './channel.js';
import type { PooledReader } from './pooled-reader.js';
import { TransportError, invalidTransport, toTransportError } from './errors.js';
import { formatChecked } from './uri.js';

export interface ReadChunksOptions {
  /** Overrides the channel's read timeout. */
  readTimeoutMs?: number;
  /**
   * The caller is done with each chunk when it asks for the next one (a ByteSource is): on a
   * channel with pooled reads (see Channel.pooled) chunks then come straight from its reused
   * buffers; otherwise they are copied out of them.
   */
  reuseBuffers?: boolean;
}

/** A PooledReader as an iterator: chunks valid until the next call, or copies the caller may keep. */
function pooledIterator(reader: PooledReader, copy: boolean): AsyncIterator<Uint8Array> {
  return {
    next: async () => {
      const chunk = await reader.next();
      return chunk === null ? { done: true, value: undefined } : { done: false, value: copy ? chunk.slice() : chunk };
    },
    return: async () => ({ done: true, value: undefined }),
  };
}

/**
 * The channel's `input` as an async iterable of chunks that ends cleanly at EOF and throws
 * TransportError on an error. Leaving the loop early (break) does not close the channel.
 * When no bytes arrive for `readTimeoutMs` (default: the channel's), the input is destroyed and
 * the loop throws TRANSPORT_CLOSED with osCode ETIMEDOUT.
 */
export async function* readChunks(channel: Channel, options: ReadChunksOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const text = formatChecked(channel.uri);
  const input = channel.input;
  if (input === null) throw invalidTransport(text, `${channel.description} has no input to read`);
  const idleMs = options.readTimeoutMs ?? channel.readTimeoutMs ?? Infinity;
  if (typeof idleMs !== 'number' || Number.isNaN(idleMs) || idleMs <= 0) throw invalidTransport(text, `readTimeoutMs must be a positive number of milliseconds or Infinity, got ${String(idleMs)}`);
  const idleName = options.readTimeoutMs === undefined ? (channel.timeoutNames?.read ?? 'readTimeoutMs') : 'readTimeoutMs';
  // on a pooled channel the bytes only come through its reader: copied out unless the caller
  // lets each chunk go when it asks for the next
  const pooled = channel.pooled;
  const chunks: AsyncIterator<unknown> = pooled !== undefined ? pooledIterator(pooled, options.reuseBuffers !== true) : input.iterator({ destroyOnReturn: false });
  let done = false;
  // One timer for the whole read, not one per chunk: it fires at most once per idleMs and
  // re-arms itself for what is left of the current wait (-1: not waiting for bytes now).
  let waitingSince = -1;
  let idle: NodeJS.Timeout | undefined;
  const onIdle = (): void => {
    idle = undefined;
    if (waitingSince < 0) return;
    const waited = performance.now() - waitingSince;
    if (waited < idleMs) {
      idle = setTimeout(onIdle, idleMs - waited);
      return;
    }
    input.destroy(new TransportError('TRANSPORT_CLOSED', `${text}: ${channel.description}: no data from the peer for ${idleMs} ms (${idleName})`, { uri: text, osCode: 'ETIMEDOUT' }));
  };
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      // A peer that stopped sending: fail the read (and the connection) rather than wait for ever.
      if (idleMs !== Infinity) {
        waitingSince = performance.now();
        idle ??= setTimeout(onIdle, idleMs);
      }
      try {
        next = await chunks.next();
      } catch (err) {
        done = true;
        throw toTransportError(text, `reading ${channel.description} failed`, err);
      } finally {
        waitingSince = -1;
      }
      if (next.done === true) {
        done = true;
        return;
      }
      const chunk = next.value;
      yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
    }
  } finally {
    if (idle !== undefined) clearTimeout(idle);
    // The consumer left the loop early: detach from the stream without closing it.
    if (!done) await chunks.return?.();
  }
}
