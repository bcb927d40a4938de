/**
 * fd:N — a descriptor this process inherited (or opened) already connected to the peer. What
 * the descriptor is decides how it is driven: a socket (full duplex, so with a return path) or a
 * pipe/FIFO goes through net.Socket, which uses non-blocking I/O and can be torn down at any
 * time; a regular file or device goes through fs streams. The channel owns the descriptor and
 * closes it when it ends or is destroyed.
 */
import { fstatSync, createReadStream, createWriteStream } from 'node:fs';
import { Socket } from 'node:net';
import { StreamChannel, type Channel } from './channel.js';
import { closedTransport } from './errors.js';
import { closed } from './file-channel.js';
import type { Side } from './socket-channel.js';
import { formatChecked, type MigrationUri } from './uri.js';

type FdUri = Extract<MigrationUri, { kind: 'fd' }>;

/** What an inherited descriptor refers to, as far as driving it goes. */
export type FdKind = 'socket' | 'pipe' | 'file';

/** The kind of an open descriptor; TRANSPORT_CLOSED (EBADF) if it is not open. */
export function fdKind(uri: FdUri): FdKind {
  try {
    const st = fstatSync(uri.fd);
    return st.isSocket() ? 'socket' : st.isFIFO() ? 'pipe' : 'file';
  } catch (err) {
    throw closedTransport(formatChecked(uri), `descriptor ${uri.fd} is not usable`, err);
  }
}

/** Wraps descriptor `uri.fd`: the stream goes out through it (outgoing) or comes in (incoming). */
export function openFd(uri: FdUri, side: Side): Channel {
  const text = formatChecked(uri);
  const kind = fdKind(uri);
  const description = `fd ${uri.fd} (${kind}, ${side})`;
  if (kind === 'socket') {
    const socket = wrap(text, () => new Socket({ fd: uri.fd, readable: true, writable: true, allowHalfOpen: true }));
    socket.setNoDelay(true);
    return new StreamChannel({ uri, description, output: socket, input: socket, hasReturnPath: true });
  }
  if (kind === 'pipe') {
    const outgoing = side === 'outgoing';
    const socket = wrap(text, () => new Socket({ fd: uri.fd, readable: !outgoing, writable: outgoing, allowHalfOpen: true }));
    if (!outgoing) return new StreamChannel({ uri, description, output: null, input: socket, hasReturnPath: false });
    return new StreamChannel({
      uri,
      description,
      output: socket,
      input: null,
      hasReturnPath: false,
      // The reader sees EOF only when the descriptor is closed.
      afterFinish: () => {
        socket.destroy();
        return closed(socket, text);
      },
    });
  }
  if (side === 'outgoing') {
    const output = createWriteStream('', { fd: uri.fd });
    return new StreamChannel({ uri, description, output, input: null, hasReturnPath: false, afterFinish: () => closed(output, text) });
  }
  return new StreamChannel({ uri, description, output: null, input: createReadStream('', { fd: uri.fd }), hasReturnPath: false });
}

function wrap(text: string, make: () => Socket): Socket {
  try {
    return make();
  } catch (err) {
    throw closedTransport(text, 'cannot use the descriptor', err);
  }
}
