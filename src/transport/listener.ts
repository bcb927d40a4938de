/**
 * The destination's side of a migration URI, between "ready to receive" and "a migration came":
 * the `IncomingListener` interface that every transport's listener implements.
 */
import type { Channel } from './channel.js';
import type { WaitOptions } from './deadline.js';
import type { MigrationUri } from './uri.js';

/**
 * Waits for migrations on a URI. tcp/unix listen at once (so `address` can be handed to the
 * source before it connects) and each `accept()` takes the next connection; exec, file and fd
 * open nothing until `accept()`, which returns the one channel over the command's stdout, the
 * file or the descriptor (a second accept() is a TRANSPORT_INVALID error).
 */
export interface IncomingListener {
  /** The URI listened on, with the real port when port 0 was asked. */
  readonly uri: MigrationUri;
  /**
   * The concrete URI to give to the source, e.g. "tcp:127.0.0.1:41234": the bound address and
   * port. A wildcard listen ("tcp::0", "tcp:0.0.0.0:0", "tcp:[::]:0") reports the loopback
   * address, right for a source on this host; a remote source needs this host's name instead.
   */
  readonly address: string;
  /**
   * The next migration's channel. Fails with TRANSPORT_CLOSED after `timeoutMs` (default 10 s;
   * `Infinity` waits for ever), when `signal` aborts, or when the listener is closed meanwhile.
   */
  accept(options?: WaitOptions): Promise<Channel>;
  /**
   * Stops listening (idempotent): pending accepts fail, connections not yet accepted are
   * dropped, and a unix socket file this listener created is removed. Accepted channels stay
   * open. An `fd:` descriptor that was never accepted is left open (it was never used).
   */
  close(): Promise<void>;
}
