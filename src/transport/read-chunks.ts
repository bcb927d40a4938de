/**
 * Reading a channel's input as a loop: `for await (const chunk of readChunks(channel))`. The loop
 * ends cleanly only at a real end of stream (for exec: with exit status 0); any failure — reset,
 * premature close, a command's error status, an unreadable file — is thrown as a TransportError
 * naming the URI, so the stream parser never mistakes a lost connection for a short stream.
 */
import type { Channel } from './channel.js';
import { TransportError, invalidTransport, toTransportError } from './errors.js';
import { formatChecked } from './uri.js';

/**
 * The channel's `input` as an async iterable of chunks that ends cleanly at EOF and throws
 * TransportError on an error. Leaving the loop early (break) does not close the channel.
 * When no bytes arrive for `readTimeoutMs` (default: the channel's), the input is destroyed and
 * the loop throws TRANSPORT_CLOSED with osCode ETIMEDOUT.
 */
export async function* readChunks(channel: Channel, options: { readTimeoutMs?: number } = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const text = formatChecked(channel.uri);
  const input = channel.input;
  if (input === null) throw invalidTransport(text, `${channel.description} has no input to read`);
  const idleMs = options.readTimeoutMs ?? channel.readTimeoutMs ?? Infinity;
  if (typeof idleMs !== 'number' || Number.isNaN(idleMs) || idleMs <= 0) throw invalidTransport(text, `readTimeoutMs must be a positive number of milliseconds or Infinity, got ${String(idleMs)}`);
  const chunks: AsyncIterator<unknown> = input.iterator({ destroyOnReturn: false });
  let done = false;
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      // A peer that stopped sending: fail the read (and the connection) rather than wait for ever.
      const idle = idleMs === Infinity ? undefined : setTimeout(() => {
        input.destroy(new TransportError('TRANSPORT_CLOSED', `${text}: ${channel.description}: no data from the peer for ${idleMs} ms (readTimeoutMs)`, { uri: text, osCode: 'ETIMEDOUT' }));
      }, idleMs);
      try {
        next = await chunks.next();
      } catch (err) {
        done = true;
        throw toTransportError(text, `reading ${channel.description} failed`, err);
      } finally {
        if (idle !== undefined) clearTimeout(idle);
      }
      if (next.done === true) {
        done = true;
        return;
      }
      const chunk = next.value;
      yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
    }
  } finally {
    // The consumer left the loop early: detach from the stream without closing it.
    if (!done) await chunks.return?.();
  }
}
