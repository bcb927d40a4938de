/**
 * The source side: `openOutgoing(uri)` connects, spawns or opens what the URI names and returns
 * the channel to write the migration stream into. The URI and options are checked first, so a
 * malformed one fails (TRANSPORT_INVALID) without touching the network, a process or a file.
 */
import type { Channel } from './channel.js';
import { connectSocket } from './connect.js';
import { checkWaitOptions, type WaitOptions } from './deadline.js';
import { closedTransport } from './errors.js';
import { startOutgoingCommand } from './exec-channel.js';
import { openFd } from './fd-channel.js';
import { openFileForWriting } from './file-channel.js';
import { formatChecked, toMigrationUri, type MigrationUri } from './uri.js';

/**
 * Opens the outgoing side of a migration: tcp/unix connect (failing after `timeoutMs`, default
 * 10 s), exec starts `/bin/sh -c command` with the stream as its stdin, fd wraps the descriptor,
 * file creates or truncates the file. Rejects with TransportError naming the URI and the cause.
 */
export async function openOutgoing(uri: string | MigrationUri, options?: WaitOptions): Promise<Channel> {
  const u = toMigrationUri(uri);
  const text = formatChecked(u);
  const deadline = checkWaitOptions(text, options);
  switch (u.kind) {
    case 'tcp':
    case 'unix':
      return connectSocket(u, deadline);
    case 'exec':
      return startOutgoingCommand(u, deadline);
    case 'file':
      return openFileForWriting(u, deadline);
    case 'fd':
      if (deadline.signal?.aborted) throw closedTransport(text, 'opening aborted', deadline.signal.reason);
      return openFd(u, 'outgoing');
  }
}
