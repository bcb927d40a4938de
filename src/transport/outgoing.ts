/**
 * The source side: `openOutgoing(uri)` connects, spawns or opens what the URI names and returns
 * the channel to write the migration stream into. The URI and options are checked first, so a
 * malformed one fails (TRANSPORT_INVALID) without touching the network, a process or a file.
 */
import type { Channel, ChannelTimeouts } from './channel.js';
import { pickTimeouts } from './channel.js';
import { connectSocket } from './connect.js';
import { checkWaitOptions, type WaitOptions } from './deadline.js';
import { closedTransport } from './errors.js';
import { tlsFor, type TlsCredentials } from './tls.js';
import { startOutgoingCommand } from './exec-channel.js';
import { openFd } from './fd-channel.js';
import { openFileForWriting } from './file-channel.js';
import { formatChecked, toMigrationUri, type MigrationUri } from './uri.js';

/** Options of `openOutgoing`: the connect deadline, stall timeouts (sockets) and TLS credentials. */
export interface OutgoingOptions extends WaitOptions, ChannelTimeouts {
  /** Required for tls:; given with tcp:, the connection uses TLS too (QEMU's tls-creds). */
  tls?: TlsCredentials;
}

/**
 * Opens the outgoing side of a migration: tcp/unix connect (failing after `timeoutMs`, default
 * 10 s), tls connects and authenticates both ways (the destination must accept this source's
 * certificate before the channel is returned), exec starts `/bin/sh -c command` with the stream
 * as its stdin, fd wraps the descriptor, file creates or truncates the file. Rejects with
 * TransportError naming the URI and the cause.
 */
export async function openOutgoing(uri: string | MigrationUri, options?: OutgoingOptions): Promise<Channel> {
  const u = toMigrationUri(uri);
  const text = formatChecked(u);
  const deadline = checkWaitOptions(text, options);
  const tls = tlsFor(u, text, options?.tls);
  const timeouts = pickTimeouts(options);
  switch (u.kind) {
    case 'tcp':
    case 'tls':
    case 'unix':
      return connectSocket(u, deadline, tls, timeouts);
    case 'exec':
      return startOutgoingCommand(u, deadline);
    case 'file':
      return openFileForWriting(u, deadline);
    case 'fd':
      if (deadline.signal?.aborted) throw closedTransport(text, 'opening aborted', deadline.signal.reason);
      return openFd(u, 'outgoing');
  }
}

