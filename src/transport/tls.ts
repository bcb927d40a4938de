/**
 * TLS for migration sockets (`tls:host:port`, or `tcp:` given credentials, as QEMU's
 * `tls-creds`): Node's `tls` with mutual authentication. Both sides hold a certificate signed
 * by a CA the other trusts; neither accepts a peer whose certificate does not verify.
 *
 * The acceptance line. In TLS 1.3 the client finishes its handshake before the server has
 * checked the client's certificate, so a source could start sending guest memory to a
 * destination that is about to refuse it. So the destination, once it has verified the source,
 * sends one line inside the encrypted session before it reads a byte of the stream:
 *
 *   "LIVEMIG-TLS OK\n"                 the source is accepted; the migration stream may flow
 *   "LIVEMIG-TLS REFUSED <reason>\n"   the source is refused; the destination closes
 *
 * and the source hands out its channel only after reading "OK". A refused source learns the
 * reason (the line comes from the destination it has authenticated). No memory goes to, or is
 * taken from, a peer without a valid certificate.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, createSecureContext, connect as tlsConnect, createServer as createTlsServer, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { TransportError, closedTransport, describeCause, invalidTransport } from './errors.js';
import type { MigrationUri } from './uri.js';

/** PEM text or bytes; `ca` may list several certificates. */
export type PemInput = string | Uint8Array;

/** What one side needs for mutually authenticated TLS (QEMU's tls-creds-x509 directory: ca-cert.pem, cert.pem, key.pem). */
export interface TlsCredentials {
  /** The CA(s) that must have signed the peer's certificate. */
  ca: PemInput | readonly PemInput[];
  /** This side's certificate (PEM), signed by a CA the peer trusts. */
  cert: PemInput;
  /** This side's private key (PEM, unencrypted). */
  key: PemInput;
  /** Source only: the name the destination's certificate must carry (default: the URI's host). */
  servername?: string;
  /** Milliseconds for the handshake and the acceptance line (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * A check after the certificate chain verified (QEMU's tls-authz): return a reason to refuse
   * the peer, or undefined to accept it. On the destination a refusal reaches the source.
   */
  authorize?: (peer: TlsPeer) => string | undefined;
}

/** The verified peer, as `authorize` sees it. */
export interface TlsPeer {
  /** "CN=src,O=example" */
  subject: string;
  issuer: string;
  /** SHA-256 fingerprint of the peer's certificate, "AB:CD:...". */
  fingerprint256: string;
  certificate: PeerCertificate;
}

/** The TLS session of a channel, for `info migrate` and logs. */
export interface TlsInfo {
  /** "TLSv1.3" */
  protocol: string;
  /** IANA cipher suite name, "TLS_AES_256_GCM_SHA384". */
  cipher: string;
  /** The verified peer's certificate subject, "CN=src". */
  peerSubject: string;
  peerIssuer: string;
  peerFingerprint256: string;
  /** When the peer's certificate expires (OpenSSL's text form). */
  peerValidTo: string;
}

/** Checked credentials, with the secure context built once (bad PEM or a key that does not match fails here). */
export interface CheckedTls {
  readonly credentials: TlsCredentials;
  readonly context: SecureContext;
  readonly handshakeTimeoutMs: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const ACCEPT_LINE = 'LIVEMIG-TLS OK';
const REFUSE_PREFIX = 'LIVEMIG-TLS REFUSED ';
/** Longest acceptance line read (a refusal reason is short). */
const MAX_LINE_BYTES = 1024;
/** Time a refused peer gets to read the refusal before the socket is torn down. */
const REFUSAL_LINGER_MS = 1000;
const MIN_VERSION = 'TLSv1.2';

/**
 * Validates credentials and builds the secure context.
 * @throws TransportError TRANSPORT_INVALID naming the URI and the bad field.
 */
export function checkTlsCredentials(uriText: string, tls: unknown): CheckedTls {
  if (typeof tls !== 'object' || tls === null) throw invalidTransport(uriText, 'TLS needs credentials: { ca, cert, key } (PEM)');
  const c = tls as TlsCredentials;
  const pem = (name: 'ca' | 'cert' | 'key', v: unknown): void => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.some((x) => !(typeof x === 'string' || x instanceof Uint8Array) || x.length === 0)) {
      throw invalidTransport(uriText, `TLS credential '${name}' must be PEM text or bytes${name === 'ca' ? ' (or a list of them)' : ''}`);
    }
  };
  pem('ca', c.ca);
  pem('cert', c.cert);
  pem('key', c.key);
  if (c.servername !== undefined && (typeof c.servername !== 'string' || c.servername === '')) throw invalidTransport(uriText, 'TLS servername must be a non-empty string');
  if (c.authorize !== undefined && typeof c.authorize !== 'function') throw invalidTransport(uriText, 'TLS authorize must be a function');
  const handshakeTimeoutMs = c.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (typeof handshakeTimeoutMs !== 'number' || !(handshakeTimeoutMs > 0) || handshakeTimeoutMs > 0x7fffffff) {
    throw invalidTransport(uriText, `TLS handshakeTimeoutMs must be a positive number of milliseconds, got ${String(handshakeTimeoutMs)}`);
  }
  let context: SecureContext;
  try {
    const ca = (Array.isArray(c.ca) ? c.ca : [c.ca]).map(toPem);
    context = createSecureContext({ ca, cert: toPem(c.cert as PemInput), key: toPem(c.key as PemInput), minVersion: MIN_VERSION });
  } catch (err) {
    throw invalidTransport(uriText, `TLS credentials are unusable: ${describeCause(err)}`, err);
  }
  return { credentials: c, context, handshakeTimeoutMs };
}

/**
 * Source side: connects to host:port, runs the handshake (the destination's certificate must
 * verify against `ca` and name the host), then waits for the destination's acceptance line.
 * Resolves with the TLS socket and its session; rejects with TRANSPORT_CLOSED naming the reason
 * (the destination's refusal, a certificate that does not verify, a timeout). `onSocket` gets the
 * raw socket at once, so a deadline can destroy it.
 */
export function tlsConnectTo(uriText: string, host: string, port: number, tls: CheckedTls, onSocket: (raw: Socket) => void): Promise<{ socket: TLSSocket; raw: Socket; info: TlsInfo }> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host, port, allowHalfOpen: true });
    onSocket(raw);
    let settled = false;
    const timer = setTimeout(() => fail(new TransportError('TRANSPORT_CLOSED', `${uriText}: TLS handshake timed out after ${tls.handshakeTimeoutMs} ms`, { uri: uriText, osCode: 'ETIMEDOUT' })), tls.handshakeTimeoutMs);
    const fail = (err: TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    raw.on('error', (err) => fail(closedTransport(uriText, 'cannot connect', err)));
    raw.once('connect', () => {
      raw.setNoDelay(true);
      const servername = tls.credentials.servername ?? (isIP(host) === 0 ? host : undefined);
      const socket = tlsConnect({
        socket: raw,
        secureContext: tls.context,
        host: tls.credentials.servername ?? host,
        ...(servername !== undefined ? { servername } : {}),
        rejectUnauthorized: true,
        minVersion: MIN_VERSION,
        ...(tls.credentials.authorize !== undefined ? { checkServerIdentity: checkIdentityThen(tls.credentials.authorize) } : {}),
      });
      socket.on('error', (err) => fail(closedTransport(uriText, 'TLS handshake with the destination failed', err)));
      socket.once('secureConnect', () => {
        readLine(socket, (line, err) => {
          if (err !== undefined) {
            fail(closedTransport(uriText, 'the destination closed the TLS connection before accepting this source', err));
            return;
          }
          if (line === ACCEPT_LINE) {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            socket.removeAllListeners('error');
            socket.on('error', () => undefined); // the channel attaches its own
            resolve({ socket, raw, info: sessionInfo(socket) });
          } else if (line.startsWith(REFUSE_PREFIX)) {
            fail(new TransportError('TRANSPORT_CLOSED', `${uriText}: the destination refused this source's TLS certificate: ${line.slice(REFUSE_PREFIX.length)}`, { uri: uriText, osCode: 'ERR_TLS_PEER_REFUSED' }));
          } else {
            fail(new TransportError('TRANSPORT_CLOSED', `${uriText}: the TLS peer is not a livemig destination (it sent ${JSON.stringify(line.slice(0, 40))} instead of the acceptance line)`, { uri: uriText, osCode: 'EPROTO' }));
          }
        });
      });
    });
  });
}

/**
 * Destination side: runs the server handshake on an accepted socket, requires a client
 * certificate that verifies against `ca` (and passes `authorize`), then sends the acceptance
 * line. A refused source gets the refusal line and the connection is closed; the promise
 * rejects with TRANSPORT_CLOSED naming the source's address and the reason (osCode: the
 * verification error, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, or NO_PEER_CERTIFICATE).
 */
export function tlsAccept(address: string, raw: Socket, tls: CheckedTls): Promise<{ socket: TLSSocket; info: TlsInfo }> {
  const c = tls.credentials;
  const peerAddress = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new TransportError('TRANSPORT_CLOSED', `${address}: TLS handshake with ${peerAddress} timed out after ${tls.handshakeTimeoutMs} ms`, { uri: address, osCode: 'ETIMEDOUT' })), tls.handshakeTimeoutMs);
    raw.setNoDelay(true);
    raw.allowHalfOpen = false;
    // One server object per connection: it does the verification a bare TLSSocket would skip
    // (authorized/authorizationError), and its events belong to this socket alone.
    const server = createTlsServer({
      ca: (Array.isArray(c.ca) ? c.ca : [c.ca]).map(toPem),
      cert: toPem(c.cert),
      key: toPem(c.key),
      requestCert: true,
      rejectUnauthorized: false, // checked below, so the source can be told why
      // Not half-open during the handshake: a source that refuses this destination's certificate
      // just closes (Node verifies after OpenSSL's handshake, without an alert), and only a full
      // close reaches 'tlsClientError'. Half-open again once accepted (see below).
      allowHalfOpen: false,
      minVersion: MIN_VERSION,
    });
    server.once('tlsClientError', (err) => {
      const hangUp = (err as { code?: string }).code === 'ECONNRESET';
      fail(closedTransport(address, `TLS handshake with ${peerAddress} failed${hangUp ? ' (the source hung up: did it refuse this destination\'s certificate?)' : ''}`, err));
    });

    server.once('secureConnection', (socket: TLSSocket) => {
      // The source ending its stream must not end our return path.
      socket.allowHalfOpen = true;
      socket.on('error', (err) => fail(closedTransport(address, `TLS session with ${peerAddress} failed`, err)));
      const refusal = refusalOf(socket, c.authorize);
      if (refusal !== undefined) {
        socket.end(`${REFUSE_PREFIX}${refusal.reason}\n`);
        const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
        linger.unref();
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new TransportError('TRANSPORT_CLOSED', `${address}: refused the source at ${peerAddress}: ${refusal.reason}`, { uri: address, osCode: refusal.code }));
        return;
      }
      if (settled) {
        socket.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.write(`${ACCEPT_LINE}\n`);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // the channel attaches its own
      resolve({ socket, info: sessionInfo(socket) });
    });
    server.emit('connection', raw);
  });
}

/** The session's protocol, cipher and verified peer. */
export function sessionInfo(socket: TLSSocket): TlsInfo {
  const peer = socket.getPeerCertificate();
  const cipher = socket.getCipher();
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: cipher.standardName ?? cipher.name,
    peerSubject: formatName(peer.subject),
    peerIssuer: formatName(peer.issuer),
    peerFingerprint256: peer.fingerprint256 ?? '',
    peerValidTo: peer.valid_to ?? '',
  };
}

function refusalOf(socket: TLSSocket, authorize: TlsCredentials['authorize']): { reason: string; code: string } | undefined {
  const peer = socket.getPeerCertificate();
  if (peer === null || peer === undefined || Object.keys(peer).length === 0) {
    return { reason: 'no client certificate was presented (mutual TLS is required)', code: 'NO_PEER_CERTIFICATE' };
  }
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? 'CERT_REJECTED');
    return { reason: `certificate of ${formatName(peer.subject)} does not verify against the destination's CA: ${VERIFY_WORDS[code] ?? code} [${code}]`, code };
  }
  if (authorize !== undefined) {
    let why: string | undefined;
    try {
      why = authorize(toPeer(peer));
    } catch (err) {
      why = `authorize() failed: ${describeCause(err)}`;
    }
    if (why !== undefined) return { reason: `certificate of ${formatName(peer.subject)} is not authorized: ${why}`, code: 'ERR_TLS_PEER_NOT_AUTHORIZED' };
  }
  return undefined;
}

/** Node's identity check, then the caller's authorization of the destination. */
function checkIdentityThen(authorize: (peer: TlsPeer) => string | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const err = checkServerIdentity(host, cert);
    if (err !== undefined) return err;
    const why = authorize(toPeer(cert));
    return why === undefined ? undefined : new Error(`the destination's certificate of ${formatName(cert.subject)} is not authorized: ${why}`);
  };
}

function toPeer(cert: PeerCertificate): TlsPeer {
  return { subject: formatName(cert.subject), issuer: formatName(cert.issuer), fingerprint256: cert.fingerprint256 ?? '', certificate: cert };
}

/**
 * Reads one '\n'-terminated line (at most MAX_LINE_BYTES) and puts back anything after it.
 * Paused-mode reads ('readable'), so that afterwards the socket is neither flowing nor
 * explicitly paused: a later 'data' listener or iterator sees every byte that follows.
 */
function readLine(socket: TLSSocket, done: (line: string, err?: Error) => void): void {
  let buf = Buffer.alloc(0);
  const finish = (line: string, err?: Error): void => {
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    done(line, err);
  };
  const onReadable = (): void => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        const rest = buf.subarray(nl + 1);
        if (rest.length > 0) socket.unshift(rest);
        finish(buf.subarray(0, nl).toString('utf8'));
        return;
      }
      if (buf.length > MAX_LINE_BYTES) {
        finish(buf.subarray(0, 80).toString('utf8'));
        return;
      }
    }
  };
  const onEnd = (): void => finish('', new Error('connection closed'));
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}

function toPem(v: PemInput): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** "CN=src,O=example" from Node's subject object. */
function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (name === undefined || name === null) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(',');
}

/** OpenSSL's verification errors in words. */
const VERIFY_WORDS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'issuer unknown',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issuer unknown',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  INVALID_PURPOSE: 'certificate is not for this purpose',
};

/** Checked TLS credentials for `u`: required by tls:, allowed with tcp:, refused elsewhere. */
export function tlsFor(u: MigrationUri, text: string, tls: TlsCredentials | undefined): CheckedTls | undefined {
  if (tls === undefined) {
    if (u.kind === 'tls') throw invalidTransport(text, 'tls: needs TLS credentials (ca, cert and key in PEM; the CLI\'s --tls-creds DIR)');
    return undefined;
  }
  if (u.kind !== 'tls' && u.kind !== 'tcp') throw invalidTransport(text, `TLS credentials apply to tls: and tcp: only, not ${u.kind}:`);
  return checkTlsCredentials(text, tls);
}
