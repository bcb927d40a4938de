/**
 * The destination side of tcp: and unix:: a listening server whose connections are handed to
 * `accept()` calls in arrival order. A connection that arrives while no accept() waits is kept
 * (a few at most) until one does, so the source may connect before the destination asks.
 */
import { createServer, type AddressInfo, type ListenOptions, type Server, type Socket } from 'node:net';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS, checkTimeouts, type Channel, type ChannelTimeouts } from './channel.js';
import { checkWaitOptions, withDeadline, type StepOutcome, type WaitOptions } from './deadline.js';
import { TransportError, closedTransport } from './errors.js';
import type { IncomingListener } from './listener.js';
import { PooledReader } from './pooled-reader.js';
import { describeSocket, socketChannel } from './socket-channel.js';
import { tlsAccept, type CheckedTls } from './tls.js';
import { clearStaleSocket, removeOwnSocket, socketFileIdentity, type SocketFileIdentity } from './unix-socket-file.js';
import { formatChecked, formatHost, type MigrationUri } from './uri.js';

type SocketUri = Extract<MigrationUri, { kind: 'tcp' | 'tls' | 'unix' }>;

/** Connections kept for later accept() calls; more are refused (closed at once). */
const MAX_UNACCEPTED = 8;

/**
 * Starts listening on a tcp:, tls: or unix: URI (port 0 picks a free port). With `tls`, each
 * accepted connection must complete the mutually authenticated handshake before accept()
 * hands it out (see tls.ts); a source that fails it makes that accept() reject.
 */
export async function listenSocket(uri: SocketUri, tls?: CheckedTls, timeouts?: ChannelTimeouts, pooledReads = false): Promise<IncomingListener> {
  const text = formatChecked(uri);
  const t = checkTimeouts(text, timeouts, { readTimeoutMs: DEFAULT_READ_TIMEOUT_MS, writeTimeoutMs: DEFAULT_WRITE_TIMEOUT_MS });
  if (uri.kind === 'unix') await clearStaleSocket(text, uri.path);
  // pooled reads take over the socket's handle before it read anything (TLS reads its own way)
  const pooled = pooledReads && tls === undefined;
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: pooled });
  const options: ListenOptions = uri.kind === 'unix' ? { path: uri.path } : uri.host === '' ? { port: uri.port } : { host: uri.host, port: uri.port };
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(closedTransport(text, 'cannot listen', err));
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
  if (uri.kind === 'unix') return new SocketListener(server, uri, text, await socketFileIdentity(uri.path), tls, t, pooled);
  const bound = server.address() as AddressInfo;
  const actual: MigrationUri = { kind: uri.kind, host: uri.host, port: bound.port };
  const connectTo = isWildcard(uri.host) ? loopbackFor(uri.host) : bound.address;
  return new SocketListener(server, actual, `${uri.kind}:${formatHost(connectTo)}:${bound.port}`, undefined, tls, t, pooled);
}

function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

function loopbackFor(wildcard: string): string {
  return wildcard === '::' ? '::1' : '127.0.0.1';
}

class SocketListener implements IncomingListener {
  readonly uri: MigrationUri;
  readonly address: string;
  private readonly server: Server;
  private readonly socketFile: SocketFileIdentity | undefined;
  private readonly unaccepted: Socket[] = [];
  private readonly waiters: Array<StepOutcome<Socket>> = [];
  private closing: Promise<void> | undefined;
  private serverError: TransportError | undefined;
  private readonly tls: CheckedTls | undefined;
  private readonly timeouts: Required<ChannelTimeouts>;

  constructor(
    server: Server,
    uri: MigrationUri,
    address: string,
    socketFile: SocketFileIdentity | undefined,
    tls: CheckedTls | undefined,
    timeouts: Required<ChannelTimeouts>,
    private readonly pooled: boolean,
  ) {
    this.server = server;
    this.tls = tls;
    this.timeouts = timeouts;
    this.uri = Object.freeze(uri);
    this.address = address;
    this.socketFile = socketFile;
    server.on('connection', (socket) => this.arrived(socket));
    server.on('error', (err) => {
      this.serverError = closedTransport(this.address, 'listener failed', err);
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.serverError);
    });
  }

  accept(options?: WaitOptions): Promise<Channel> {
    try {
      const deadline = checkWaitOptions(this.address, options);
      if (this.closing !== undefined) throw closedTransport(this.address, 'the listener is closed');
      if (this.serverError !== undefined) throw this.serverError;
      return withDeadline<Socket>(this.address, 'waiting for the source to connect', deadline, (outcome) => {
        const ready = this.unaccepted.shift();
        if (ready !== undefined) {
          outcome.resolve(ready);
          return () => undefined;
        }
        this.waiters.push(outcome);
        return () => {
          const i = this.waiters.indexOf(outcome);
          if (i >= 0) this.waiters.splice(i, 1);
        };
      }).then((socket) => this.channelFor(socket));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The accepted socket as a channel; over TLS only once the source is verified and accepted. */
  private async channelFor(socket: Socket): Promise<Channel> {
    if (this.tls === undefined && this.pooled) {
      const adopted = PooledReader.adopt(socket, true);
      if (adopted !== null) return socketChannel(adopted.socket, this.uri, 'incoming', undefined, { ...this.timeouts, pooled: adopted.reader });
      socket.resume(); // this Node cannot adopt the handle: read the usual way
    }
    if (this.tls === undefined) return socketChannel(socket, this.uri, 'incoming', undefined, this.timeouts);
    const description = describeSocket(socket, this.uri, 'incoming');
    const { socket: secure, info } = await tlsAccept(this.address, socket, this.tls);
    return socketChannel(secure, this.uri, 'incoming', `tls ${description.slice(4)} (${info.protocol}, peer ${info.peerSubject})`, { ...this.timeouts, tls: info, teardown: () => socket.destroy() });
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // server.close() stops accepting now; its callback would wait for accepted channels too.
    this.server.close();
    for (const socket of this.unaccepted.splice(0)) socket.destroy();
    const err = closedTransport(this.address, 'the listener was closed before a source connected');
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
    if (this.uri.kind === 'unix') await removeOwnSocket(this.uri.path, this.socketFile);
  }

  private arrived(socket: Socket): void {
    // Until a channel owns it, errors only mean the connection is gone.
    socket.on('error', () => undefined);
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      if (!waiter.resolve(socket)) socket.destroy();
      return;
    }
    if (this.closing !== undefined || this.unaccepted.length >= MAX_UNACCEPTED) {
      socket.destroy();
      return;
    }
    this.unaccepted.push(socket);
    socket.once('close', () => {
      const i = this.unaccepted.indexOf(socket);
      if (i >= 0) this.unaccepted.splice(i, 1);
    });
  }
}
