/**
 * A listening monitor socket (unix or tcp): every connection is handed to `serve`, which runs
 * one monitor session on it. A unix socket file left by a crashed livemig is replaced, but
 * only if it is a socket and nobody answers on it; close() removes the file if it is still
 * ours and ends every open connection.
 */
import { lstat, unlink } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { LivemigError } from '../errors.js';
import { formatMonitorAddress } from './monitor-address.js';
import type { MonitorAddress } from './monitor-address.js';

export interface MonitorListener {
  /** Where it listens, with the real port when port 0 was asked (e.g. "tcp:127.0.0.1:41234"). */
  readonly address: string;
  /** Stops listening and ends every connection (idempotent). */
  close(): Promise<void>;
}

/** Open connections per monitor socket; more are refused by the OS backlog / closed. */
const MAX_CONNECTIONS = 64;
/** How long close() lets a connection flush its last reply before destroying it. */
const CLOSE_GRACE_MS = 200;
/** How long to wait for a possibly live unix socket to answer. */
const PROBE_MS = 1000;

/**
 * Listens on a unix or tcp monitor address.
 * @throws LivemigError `TRANSPORT_CLOSED` naming `option` and the address when it cannot listen.
 */
export async function listenMonitor(addr: Extract<MonitorAddress, { kind: 'unix' | 'tcp' }>, option: string, serve: (socket: Socket) => void): Promise<MonitorListener> {
  const text = formatMonitorAddress(addr);
  const fail = (why: string, cause?: unknown) => new LivemigError('TRANSPORT_CLOSED', `${option} ${text}: ${why}`, cause === undefined ? undefined : { cause });
  const connections = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined); // the session sees the close
    serve(socket);
  });
  server.maxConnections = MAX_CONNECTIONS;
  let ino: number | undefined;
  if (addr.kind === 'unix') await clearStaleSocket(addr.path, fail);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(fail(`cannot listen: ${e.code ?? e.message}`, e)));
    if (addr.kind === 'unix') server.listen(addr.path, resolve);
    else server.listen({ host: addr.host === '' ? undefined : addr.host, port: addr.port }, resolve);
  });
  server.on('error', () => undefined);
  if (addr.kind === 'unix') ino = (await lstat(addr.path).catch(() => undefined))?.ino;
  const bound = server.address();
  const address = addr.kind === 'unix' || bound === null || typeof bound === 'string' ? text : formatMonitorAddress({ kind: 'tcp', host: addr.host === '' ? '127.0.0.1' : addr.host, port: bound.port });
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => (closing ??= closeServer(server, connections, addr.kind === 'unix' ? addr.path : undefined, ino)),
  };
}

async function closeServer(server: Server, connections: Set<Socket>, path: string | undefined, ino: number | undefined): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of connections) {
    s.end();
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
  }
  await closed;
  if (path !== undefined && ino !== undefined) {
    const st = await lstat(path).catch(() => undefined);
    if (st?.ino === ino) await unlink(path).catch(() => undefined);
  }
}

async function clearStaleSocket(path: string, fail: (why: string, cause?: unknown) => LivemigError): Promise<void> {
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(fail(`cannot check the socket path: ${e.code ?? e.message}`, e))));
  if (!st) return;
  if (!st.isSocket()) throw fail(`${path} exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect({ path });
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(true), PROBE_MS);
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
  if (live) throw fail(`another process is listening on ${path}`);
  await unlink(path).catch(() => undefined);
}
