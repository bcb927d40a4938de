/**
 * The source side of tcp:, tls: and unix: — connect, within the deadline, and hand the socket over
 * as a Channel. Sockets are half-open capable (`allowHalfOpen`): the destination ending its return
 * path must not end the migration stream, and ending the stream must not stop return-path reads.
 * tls: (or tcp: given TLS credentials, as QEMU's tls-creds) also runs the mutually authenticated
 * handshake and waits for the destination's acceptance before the channel is handed over.
 */
import { connect, type Socket } from 'node:net';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS, checkTimeouts, type Channel, type ChannelTimeouts } from './channel.js';
import { withDeadline, type Deadline } from './deadline.js';
import { closedTransport, invalidTransport } from './errors.js';
import { describeSocket, socketChannel } from './socket-channel.js';
import { tlsConnectTo, type CheckedTls } from './tls.js';
import { formatChecked, type MigrationUri } from './uri.js';

type SocketUri = Extract<MigrationUri, { kind: 'tcp' | 'tls' | 'unix' }>;

/** Connects to a tcp:, tls: or unix: URI; fails with TRANSPORT_CLOSED naming the URI and the OS (or TLS) error. */
export function connectSocket(uri: SocketUri, deadline: Deadline, tls?: CheckedTls, timeouts?: ChannelTimeouts): Promise<Channel> {
  const text = formatChecked(uri);
  if (uri.kind === 'tcp' || uri.kind === 'tls') {
    if (uri.host === '') return Promise.reject(invalidTransport(text, 'an outgoing migration needs a host to connect to (an empty host is only for listening)'));
    if (uri.port === 0) return Promise.reject(invalidTransport(text, 'port 0 is only for listening (it picks a free port); connect to the port the destination reported'));
  }
  let t: Required<ChannelTimeouts>;
  try {
    t = checkTimeouts(text, timeouts, { readTimeoutMs: DEFAULT_READ_TIMEOUT_MS, writeTimeoutMs: DEFAULT_WRITE_TIMEOUT_MS });
  } catch (err) {
    return Promise.reject(err);
  }
  if (uri.kind !== 'unix' && tls !== undefined) {
    const { host, port } = uri;
    return withDeadline<Channel>(text, 'connect', deadline, (outcome) => {
      let raw: Socket | undefined;
      tlsConnectTo(text, host, port, tls, (s) => (raw = s)).then(({ socket, raw: r, info }) => {
        const description = `tls ${describeSocket(r, { kind: 'tcp', host, port }, 'outgoing').slice(4)} (${info.protocol}, peer ${info.peerSubject})`;
        const channel = socketChannel(socket, uri, 'outgoing', description, { ...t, tls: info, teardown: () => r.destroy() });
        if (!outcome.resolve(channel)) channel.destroy();
      }, (err: unknown) => outcome.reject(err));
      return () => raw?.destroy();
    });
  }
  return withDeadline<Channel>(text, 'connect', deadline, (outcome) => {
    const socket: Socket = uri.kind === 'unix'
      ? connect({ path: uri.path, allowHalfOpen: true })
      : connect({ host: uri.host, port: uri.port, allowHalfOpen: true });
    // Stays attached: a socket that errors after a timeout already failed the step must not crash the process.
    socket.on('error', (err) => outcome.reject(closedTransport(text, 'cannot connect', err)));
    socket.once('connect', () => {
      const channel = socketChannel(socket, uri, 'outgoing', undefined, t);
      if (!outcome.resolve(channel)) channel.destroy();
    });
    return () => socket.destroy();
  });
}


