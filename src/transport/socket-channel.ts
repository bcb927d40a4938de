/**
 * A connected stream socket (tcp, unix, or an inherited socket descriptor) as a Channel: the
 * same socket carries the migration stream one way and the return path the other.
 */
import type { Socket } from 'node:net';
import { StreamChannel, type Channel } from './channel.js';
import { formatHost, type MigrationUri } from './uri.js';

/** Which end of the migration this process is. */
export type Side = 'outgoing' | 'incoming';

/**
 * Wraps a connected socket. Nagle is switched off (`setNoDelay`) because the stream ends with
 * small records (device state, EOS) whose delay would add straight to the downtime.
 */
export function socketChannel(socket: Socket, uri: MigrationUri, side: Side, description?: string): Channel {
  socket.setNoDelay(true);
  return new StreamChannel({
    uri,
    description: description ?? describeSocket(socket, uri, side),
    output: socket,
    input: socket,
    hasReturnPath: true,
  });
}

/** "tcp 127.0.0.1:41234 -> 127.0.0.1:4444" (local first; `<-` on the incoming side), "unix -> /run/x.sock". */
export function describeSocket(socket: Socket, uri: MigrationUri, side: Side): string {
  const arrow = side === 'outgoing' ? '->' : '<-';
  if (uri.kind === 'tcp') {
    return `tcp ${endpoint(socket.localAddress, socket.localPort)} ${arrow} ${endpoint(socket.remoteAddress, socket.remotePort)}`;
  }
  if (uri.kind === 'unix') return side === 'outgoing' ? `unix -> ${uri.path}` : `unix ${uri.path} <- peer`;
  return `${uri.kind} socket (${side})`;
}

function endpoint(address: string | undefined, port: number | undefined): string {
  return `${formatHost(address ?? '?')}:${port ?? '?'}`;
}
