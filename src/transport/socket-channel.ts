/**
 * A connected stream socket (tcp, tls, unix, or an inherited socket descriptor) as a Channel: the
 * same socket carries the migration stream one way and the return path the other.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { StreamChannel, type Channel, type ChannelTimeouts } from './channel.js';
import type { PooledReader } from './pooled-reader.js';
import type { TlsInfo } from './tls.js';
import { formatHost, type MigrationUri } from './uri.js';

/** Which end of the migration this process is. */
export type Side = 'outgoing' | 'incoming';

/** Extras of a socket channel: its timeouts and, on TLS, the session and the raw socket's teardown. */
export interface SocketChannelExtras extends ChannelTimeouts {
  tls?: TlsInfo;
  pooled?: PooledReader;
  teardown?: () => void;
}

/**
 * Wraps a connected socket. Nagle is switched off (`setNoDelay`) because the stream ends with
 * small records (device state, EOS) whose delay would add straight to the downtime (a TLS
 * socket's raw socket had it switched off before the handshake).
 */
export function socketChannel(socket: Socket | TLSSocket, uri: MigrationUri, side: Side, description?: string, extras: SocketChannelExtras = {}): Channel {
  if (extras.tls === undefined) socket.setNoDelay(true);
  return new StreamChannel({
    uri,
    description: description ?? describeSocket(socket, uri, side),
    output: socket,
    input: socket,
    hasReturnPath: true,
    ...(extras.tls !== undefined ? { tls: extras.tls } : {}),
    ...(extras.pooled !== undefined ? { pooled: extras.pooled } : {}),
    ...(extras.teardown !== undefined ? { teardown: extras.teardown } : {}),
    ...(extras.readTimeoutMs !== undefined ? { readTimeoutMs: extras.readTimeoutMs } : {}),
    ...(extras.writeTimeoutMs !== undefined ? { writeTimeoutMs: extras.writeTimeoutMs } : {}),
    ...(extras.timeoutNames !== undefined ? { timeoutNames: extras.timeoutNames } : {}),
  });
}

/** "tcp 127.0.0.1:41234 -> 127.0.0.1:4444" (local first; `<-` on the incoming side), "unix -> /run/x.sock". */
export function describeSocket(socket: Socket, uri: MigrationUri, side: Side): string {
  const arrow = side === 'outgoing' ? '->' : '<-';
  if (uri.kind === 'tcp' || uri.kind === 'tls') {
    return `tcp ${endpoint(socket.localAddress, socket.localPort)} ${arrow} ${endpoint(socket.remoteAddress, socket.remotePort)}`;
  }
  if (uri.kind === 'unix') return side === 'outgoing' ? `unix -> ${uri.path}` : `unix ${uri.path} <- peer`;
  return `${uri.kind} socket (${side})`;
}

function endpoint(address: string | undefined, port: number | undefined): string {
  return `${formatHost(address ?? '?')}:${port ?? '?'}`;
}
