/**
 * The destination side: `listenIncoming(uri)` gets ready to receive a migration. tcp and unix
 * listen at once; exec, file and fd are opened by the single `accept()` (a descriptor is checked
 * right away so a wrong number fails early). The URI is checked before anything is opened.
 */
import type { Channel, ChannelTimeouts } from './channel.js';
import { pickTimeouts } from './channel.js';
import { checkWaitOptions, type WaitOptions } from './deadline.js';
import { closedTransport, invalidTransport } from './errors.js';
import { startIncomingCommand } from './exec-channel.js';
import { fdKind, openFd } from './fd-channel.js';
import { openFileForReading } from './file-channel.js';
import type { IncomingListener } from './listener.js';
import { listenSocket } from './socket-listener.js';
import { tlsFor, type TlsCredentials } from './tls.js';
import { formatChecked, toMigrationUri, type MigrationUri } from './uri.js';

type OneShotUri = Extract<MigrationUri, { kind: 'exec' | 'file' | 'fd' }>;

/** Options of `listenIncoming`: stall timeouts of accepted sockets and TLS credentials. */
export interface ListenOptions extends ChannelTimeouts {
  /** Required for tls:; given with tcp:, every source must authenticate with TLS (QEMU's tls-creds). */
  tls?: TlsCredentials;
  /**
   * tcp:/unix: without TLS: accepted connections read into reused 1 MiB buffers, for
   * `readChunks(channel, { reuseBuffers: true })` (see Channel.pooled); their `input` then
   * carries no data. Several times faster on a fast link. Default false.
   */
  pooledReads?: boolean;
}

/** Starts waiting for a migration on `uri`; see IncomingListener. */
export async function listenIncoming(uri: string | MigrationUri, options?: ListenOptions): Promise<IncomingListener> {
  const u = toMigrationUri(uri);
  const tls = tlsFor(u, formatChecked(u), options?.tls);
  const timeouts = pickTimeouts(options);
  switch (u.kind) {
    case 'tcp':
    case 'tls':
    case 'unix':
      return listenSocket(u, tls, timeouts, options?.pooledReads === true);
    case 'fd':
      fdKind(u);
      return new OneShotListener(u);
    case 'exec':
    case 'file':
      return new OneShotListener(u);
  }
}

/** exec/file/fd: nothing to listen on; the one accept() opens the stream's source. */
class OneShotListener implements IncomingListener {
  readonly uri: MigrationUri;
  readonly address: string;
  private readonly target: OneShotUri;
  private accepted = false;
  private isClosed = false;

  constructor(uri: OneShotUri) {
    this.target = uri;
    this.uri = uri;
    this.address = formatChecked(uri);
  }

  async accept(options?: WaitOptions): Promise<Channel> {
    const deadline = checkWaitOptions(this.address, options);
    if (this.isClosed) throw closedTransport(this.address, 'the listener is closed');
    if (this.accepted) throw invalidTransport(this.address, `${this.target.kind}: carries one migration and it was already accepted`);
    this.accepted = true;
    const u = this.target;
    switch (u.kind) {
      case 'exec':
        return startIncomingCommand(u, deadline);
      case 'file':
        return openFileForReading(u, deadline);
      case 'fd':
        if (deadline.signal?.aborted) throw closedTransport(this.address, 'accept aborted', deadline.signal.reason);
        return openFd(u, 'incoming');
    }
  }

  close(): Promise<void> {
    this.isClosed = true;
    return Promise.resolve();
  }
}
