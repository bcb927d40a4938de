/**
 * tls: — mutual authentication with throwaway certificates: a stream crosses intact and both
 * ends see the cipher and the verified peer; a source or destination whose certificate does not
 * verify, a plain-tcp client, or a source without a certificate is refused before a single
 * stream byte is accepted, and both sides name the reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { listenIncoming, openOutgoing, parseMigrationUri, formatMigrationUri, TransportError } from '../../src/transport/index.js';
import type { Channel, IncomingListener } from '../../src/transport/index.js';
import { assertNoLeaks, MiB, payload, receiveAll, sendAll, sha256 } from './helpers.js';
import { makePki, type Pki } from './pki.js';
import { requires } from '../helpers/requirements.js';

const OPENSSL = requires.openssl();
let pki: Pki;
before(() => {
  if (!OPENSSL.skip) pki = makePki();
});
after(() => {
  if (!OPENSSL.skip) pki.remove();
});

/** accept() and openOutgoing() together; both outcomes, whichever way they go. */
async function pair(listener: IncomingListener, source: Parameters<typeof openOutgoing>[1]): Promise<{ out: PromiseSettledResult<Channel>; inc: PromiseSettledResult<Channel> }> {
  const [inc, out] = await Promise.allSettled([listener.accept({ timeoutMs: 5000 }), openOutgoing(listener.address, { timeoutMs: 5000, ...source })]);
  return { out, inc };
}

function rejected(r: PromiseSettledResult<Channel>): TransportError {
  assert.equal(r.status, 'rejected', 'expected a refusal');
  const e = (r as PromiseRejectedResult).reason as unknown;
  assert.ok(e instanceof TransportError, String(e));
  assert.equal(e.code, 'TRANSPORT_CLOSED');
  return e;
}

describe('tls: URIs', () => {
  it('parse and format like tcp:', () => {
    assert.deepEqual(parseMigrationUri('tls:127.0.0.1:4444'), { kind: 'tls', host: '127.0.0.1', port: 4444 });
    assert.deepEqual(parseMigrationUri('tls:[::1]:0'), { kind: 'tls', host: '::1', port: 0 });
    assert.equal(formatMigrationUri({ kind: 'tls', host: '::1', port: 5 }), 'tls:[::1]:5');
    assert.throws(() => parseMigrationUri('tls:host'), /^.*tls:host: missing port; expected tls:host:port/);
  });

  it('need credentials, and refuse them on non-tcp URIs or when unusable', OPENSSL, async () => {
    await assert.rejects(openOutgoing('tls:127.0.0.1:1'), { code: 'TRANSPORT_INVALID', message: /tls: needs TLS credentials/ });
    await assert.rejects(listenIncoming('tls:127.0.0.1:0'), { code: 'TRANSPORT_INVALID', message: /tls: needs TLS credentials/ });
    await assert.rejects(openOutgoing('unix:/tmp/x.sock', { tls: pki.source }), { code: 'TRANSPORT_INVALID', message: /apply to tls: and tcp: only, not unix:/ });
    await assert.rejects(openOutgoing('tls:127.0.0.1:1', { tls: { ...pki.source, key: pki.destination.key } }), { code: 'TRANSPORT_INVALID', message: /TLS credentials are unusable/ });
    await assert.rejects(openOutgoing('tls:127.0.0.1:1', { tls: { ...pki.source, cert: '' } }), { code: 'TRANSPORT_INVALID', message: /'cert' must be PEM/ });
  });
});

describe('tls: mutual authentication', { ...OPENSSL, timeout: 60_000 }, () => {
  after(assertNoLeaks);

  it('carries 8 MiB intact; both ends report protocol, cipher and the verified peer', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    assert.match(listener.address, /^tls:127\.0\.0\.1:\d+$/);
    const { out, inc } = await pair(listener, { tls: pki.source });
    await listener.close();
    assert.equal(out.status, 'fulfilled');
    assert.equal(inc.status, 'fulfilled');
    const src = (out as PromiseFulfilledResult<Channel>).value;
    const dst = (inc as PromiseFulfilledResult<Channel>).value;
    assert.equal(src.tls?.peerSubject, 'CN=livemig-destination');
    assert.equal(dst.tls?.peerSubject, 'CN=livemig-source');
    assert.equal(dst.tls?.peerIssuer, 'CN=livemig-test-ca');
    assert.equal(src.tls?.protocol, 'TLSv1.3');
    assert.match(src.tls?.cipher ?? '', /^TLS_(AES|CHACHA20)/);
    assert.match(dst.tls?.peerFingerprint256 ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(src.description, /^tls 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(TLSv1\.3, peer CN=livemig-destination\)$/);
    const data = payload(8 * MiB);
    const [received] = await Promise.all([receiveAll(dst), sendAll(src, data)]);
    assert.deepEqual(received, { sha256: sha256(data), length: data.length });
    // the return path works inside the session too
    const reply = new Promise<string>((resolve) => src.input!.once('data', (b: Buffer) => resolve(b.toString())));
    await dst.write(Buffer.from('done\n'));
    assert.equal(await reply, 'done\n');
    src.destroy();
    dst.destroy();
  });

  it('tcp: with credentials is TLS too (QEMU\'s tls-creds)', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { tls: pki.destination });
    const { out, inc } = await pair(listener, { tls: pki.source });
    await listener.close();
    const src = (out as PromiseFulfilledResult<Channel>).value;
    const dst = (inc as PromiseFulfilledResult<Channel>).value;
    assert.equal(src.tls?.peerSubject, 'CN=livemig-destination');
    assert.equal(dst.tls?.peerSubject, 'CN=livemig-source');
    src.destroy();
    dst.destroy();
  });

  it('refuses a source whose certificate is from another CA; the source learns why', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    const { out, inc } = await pair(listener, { tls: pki.rogueSource });
    await listener.close();
    const d = rejected(inc);
    assert.match(d.message, /refused the source at 127\.0\.0\.1:\d+: certificate of CN=livemig-source does not verify against the destination's CA/);
    assert.equal(d.osCode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const s = rejected(out);
    assert.match(s.message, /the destination refused this source's TLS certificate: certificate of CN=livemig-source does not verify/);
    assert.equal(s.osCode, 'ERR_TLS_PEER_REFUSED');
  });

  it('refuses a source that presents no certificate', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    const accepted = Promise.allSettled([listener.accept({ timeoutMs: 5000 })]);
    const port = Number(listener.address.split(':').pop());
    const said = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, rejectUnauthorized: true });
      let text = '';
      s.on('data', (b: Buffer) => (text += b.toString()));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(said, /^LIVEMIG-TLS REFUSED no client certificate was presented/);
    const d = rejected((await accepted)[0]);
    assert.equal(d.osCode, 'NO_PEER_CERTIFICATE');
    await listener.close();
  });

  it('a source refuses a destination whose certificate is from another CA, before sending anything', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.rogueDestination });
    const { out, inc } = await pair(listener, { tls: pki.source });
    await listener.close();
    const s = rejected(out);
    assert.match(s.message, /TLS handshake with the destination failed: .*(self-signed|unable to verify|issuer)/i);
    const d = rejected(inc);
    assert.match(d.message, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
  });

  it('a source refuses a destination certificate for another name', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.misnamedDestination });
    const { out, inc } = await pair(listener, { tls: pki.source });
    await listener.close();
    const s = rejected(out);
    assert.match(s.message, /TLS handshake with the destination failed: .*(IP: 127\.0\.0\.1 is not in the cert's list|ERR_TLS_CERT_ALTNAME_INVALID)/);
    rejected(inc);
  });

  it('an authorize() hook can refuse a verified peer (QEMU\'s tls-authz)', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: { ...pki.destination, authorize: (p) => (p.subject === 'CN=someone-else' ? undefined : `${p.subject} is not on the list`) } });
    const { out, inc } = await pair(listener, { tls: pki.source });
    await listener.close();
    assert.match(rejected(inc).message, /is not authorized: CN=livemig-source is not on the list/);
    assert.match(rejected(out).message, /refused this source's TLS certificate: .*not on the list/);
  });

  it('a plain tcp client gets nothing; the accept fails with a TLS error', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    const accepted = Promise.allSettled([listener.accept({ timeoutMs: 5000 })]);
    const port = Number(listener.address.split(':').pop());
    const got = await new Promise<number>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port });
      let n = 0;
      s.on('data', (b: Buffer) => (n += b.length));
      s.on('connect', () => s.write(Buffer.from('QEVM\0\0\0\x03 this is not TLS\n')));
      s.on('close', () => resolve(n));
      s.on('error', () => undefined);
    });
    assert.ok(got < 64, 'no stream or acceptance line goes to a plain client');
    assert.match(rejected((await accepted)[0]).message, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
    await listener.close();
  });

  it('a handshake that never starts times out', async () => {
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: { ...pki.destination, handshakeTimeoutMs: 300 } });
    const accepted = Promise.allSettled([listener.accept({ timeoutMs: 5000 })]);
    const port = Number(listener.address.split(':').pop());
    const s = netConnect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    const d = rejected((await accepted)[0]);
    assert.match(d.message, /TLS handshake with .* timed out after 300 ms/);
    assert.equal(d.osCode, 'ETIMEDOUT');
    s.destroy();
    await listener.close();
  });
});
