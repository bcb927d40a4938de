/**
 * The file a listening unix socket lives at. A previous destination that crashed leaves its
 * socket file behind and the next bind fails with EADDRINUSE, so a stale one is removed — but
 * only if it is a socket (never a regular file someone mistyped) and only if nobody answers on
 * it (never another live destination). On close the file is removed only if it is still ours.
 */
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { TransportError, closedTransport, osCodeOf } from './errors.js';

/** Identity of the socket file this process created, so close() never removes a successor's. */
export interface SocketFileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** How long to wait for a possibly live socket to answer (a local connect answers at once). */
const PROBE_MS = 1000;

/** Makes `path` free to bind: absent, or a stale socket that is removed. */
export async function clearStaleSocket(uriText: string, path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (osCodeOf(err) === 'ENOENT') return;
    throw closedTransport(uriText, 'cannot check the socket path', err);
  }
  if (!isSocket) {
    throw new TransportError('TRANSPORT_CLOSED', `${uriText}: ${path} exists and is not a socket; not replacing it`, { uri: uriText, osCode: 'EEXIST' });
  }
  const state = await probe(path);
  if (state === 'live') {
    throw new TransportError('TRANSPORT_CLOSED', `${uriText}: another process is listening on ${path}`, { uri: uriText, osCode: 'EADDRINUSE' });
  }
  if (state !== 'stale') throw closedTransport(uriText, `cannot tell whether the existing socket ${path} is in use`, state);
  try {
    await unlink(path);
  } catch (err) {
    if (osCodeOf(err) !== 'ENOENT') throw closedTransport(uriText, 'cannot remove the stale socket file', err);
  }
}

/** The identity of the socket file just bound at `path`. */
export async function socketFileIdentity(path: string): Promise<SocketFileIdentity | undefined> {
  try {
    const st = await lstat(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Removes `path` if it is still the socket file identified by `own`; errors are ignored (best effort at close). */
export async function removeOwnSocket(path: string, own: SocketFileIdentity | undefined): Promise<void> {
  if (own === undefined) return;
  try {
    const st = await lstat(path);
    if (st.isSocket() && st.dev === own.dev && st.ino === own.ino) await unlink(path);
  } catch {
    // Already gone (Node removes it when the server closes) or not ours to remove.
  }
}

/** 'live' when a process accepts connections on the unix socket at `path`, 'stale' when none does, else the probe's error. */
function probe(path: string): Promise<'live' | 'stale' | Error> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (state: 'live' | 'stale' | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(state);
    };
    // No answer in time (a full accept queue): treat it as live rather than delete someone's socket.
    const timer = setTimeout(() => done('live'), PROBE_MS);
    socket.on('connect', () => done('live'));
    socket.on('error', (err) => {
      const code = osCodeOf(err);
      done(code === 'ECONNREFUSED' || code === 'ENOENT' ? 'stale' : err);
    });
  });
}
