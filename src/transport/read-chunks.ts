/**
 * Reading a channel's input as a loop: `for await (const chunk of readChunks(channel))`. The loop
 * ends cleanly only at a real end of stream (for exec: with exit status 0); any failure — reset,
 * premature close, a command's error status, an unreadable file — is thrown as a TransportError
 * naming the URI, so the stream parser never mistakes a lost connection for a short stream.
 */
import type { Channel } from './channel.js';
import { invalidTransport, toTransportError } from './errors.js';
import { formatChecked } from './uri.js';

/**
 * The channel's `input` as an async iterable of chunks that ends cleanly at EOF and throws
 * TransportError on an error. Leaving the loop early (break) does not close the channel.
 */
export async function* readChunks(channel: Channel): AsyncGenerator<Uint8Array, void, undefined> {
  const text = formatChecked(channel.uri);
  const input = channel.input;
  if (input === null) throw invalidTransport(text, `${channel.description} has no input to read`);
  const chunks: AsyncIterator<unknown> = input.iterator({ destroyOnReturn: false });
  let done = false;
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await chunks.next();
      } catch (err) {
        done = true;
        throw toTransportError(text, `reading ${channel.description} failed`, err);
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
