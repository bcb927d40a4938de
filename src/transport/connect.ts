/**
 * The source side of tcp: and unix: — connect, within the deadline, and hand the socket over as a
 * Channel. Sockets are half-open capable (`allowHalfOpen`): the destination ending its return
 * path must not end the migration stream, and ending the stream must not stop return-path reads.
 */
import { connect, type Socket } from 'node:net';
import type { Channel } from './channel.js';
import { withDeadline, type Deadline } from './deadline.js';
import { closedTransport, invalidTransport } from './errors.js';
import { socketChannel } from './socket-channel.js';
import { formatChecked, type MigrationUri } from './uri.js';

type SocketUri = Extract<MigrationUri, { kind: 'tcp' | 'unix' }>;

/** Connects to a tcp: or unix: URI; fails with TRANSPORT_CLOSED naming the URI and the OS error. */
export function connectSocket(uri: SocketUri, deadline: Deadline): Promise<Channel> {
  const text = formatChecked(uri);
  if (uri.kind === 'tcp') {
    if (uri.host === '') return Promise.reject(invalidTransport(text, 'an outgoing migration needs a host to connect to (an empty host is only for listening)'));
    if (uri.port === 0) return Promise.reject(invalidTransport(text, 'port 0 is only for listening (it picks a free port); connect to the port the destination reported'));
  }
  return withDeadline<Channel>(text, 'connect', deadline, (outcome) => {
    const socket: Socket = uri.kind === 'tcp'
      ? connect({ host: uri.host, port: uri.port, allowHalfOpen: true })
      : connect({ path: uri.path, allowHalfOpen: true });
    // Stays attached: a socket that errors after a timeout already failed the step must not crash the process.
    socket.on('error', (err) => outcome.reject(closedTransport(text, 'cannot connect', err)));
    socket.once('connect', () => {
      const channel = socketChannel(socket, uri, 'outgoing');
      if (!outcome.resolve(channel)) channel.destroy();
    });
    return () => socket.destroy();
  });
}
