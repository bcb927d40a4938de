/**
 * A migration over tls: with mutual authentication: the guest arrives intact and the source's
 * query-migrate names the protocol, cipher and the verified destination; a source whose
 * certificate comes from another CA is refused before a byte of memory moves: the destination's
 * accept fails with the TLS reason (no IncomingMigration ever starts, nothing is allocated) and
 * the source fails with the destination's refusal. Also the CLI's --tls-creds directory loader.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory, checkStride } from '../../src/guest/index.js';
import { IncomingMigration, OutgoingMigration } from '../../src/migration/index.js';
import { listenIncoming } from '../../src/transport/index.js';
import { loadTlsCreds } from '../../src/cli/tls-creds.js';
import { makePki, type Pki } from '../transport/pki.js';
import { requires } from '../helpers/requirements.js';

const OPENSSL = requires.openssl();
let pki: Pki;
const guests: Guest[] = [];
before(() => {
  if (!OPENSSL.skip) pki = makePki();
});
after(async () => {
  for (const g of guests) await g.stop();
  if (!OPENSSL.skip) pki.remove();
});

async function stridingGuest(): Promise<Guest> {
  const g = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 8 * 1024 * 1024 }]), workload: 'stride' });
  guests.push(g);
  return g;
}

describe('migration over tls:', { ...OPENSSL, timeout: 60_000 }, () => {
  it('completes with equal digests; info names the cipher and the verified peer', async () => {
    const guest = await stridingGuest();
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    const incoming = new IncomingMigration({ maxRamBytes: 64 * 1024 * 1024, checks: (memory) => ({ 'stride-check': checkStride(memory) }) });
    const received = listener.accept().then(async (ch) => {
      assert.equal(ch.tls?.peerSubject, 'CN=livemig-source');
      return incoming.run(ch);
    });
    const m = new OutgoingMigration({ guest, capabilities: { xbzrle: true }, parameters: { 'xbzrle-cache-size': 8 * 1024 * 1024 }, transport: { tls: pki.source } });
    const status = await m.run(listener.address);
    assert.equal(status, 'completed', m.error?.message);
    assert.equal(await received, 'completed', incoming.error?.message);
    await listener.close();
    assert.equal(incoming.ramDigest, m.ramDigest);
    assert.equal((incoming.checks['stride-check'] as { ok: boolean }).ok, true, 'checked before the guest resumed');
    const t = m.info().livemig?.transport;
    assert.match(t?.description ?? '', /^tls 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(TLSv1\.3, peer CN=livemig-destination\)$/);
    assert.equal(t?.tls?.peerSubject, 'CN=livemig-destination');
    assert.equal(t?.tls?.peerIssuer, 'CN=livemig-test-ca');
    assert.equal(t?.tls?.protocol, 'TLSv1.3');
    assert.match(t?.tls?.cipher ?? '', /^TLS_/);
    assert.match(t?.tls?.peerFingerprint256 ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    await incoming.guest?.stop();
  });

  it('a source with a certificate from another CA is refused before any memory moves', async () => {
    const guest = await stridingGuest();
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.destination });
    const accepted = Promise.allSettled([listener.accept()]);
    const m = new OutgoingMigration({ guest, transport: { tls: pki.rogueSource } });
    const status = await m.run(listener.address);
    const [acc] = await accepted;
    await listener.close();
    assert.equal(status, 'failed');
    assert.match(m.error?.message ?? '', /the destination refused this source's TLS certificate: certificate of CN=livemig-source does not verify against the destination's CA: not signed by a trusted CA \[UNABLE_TO_VERIFY_LEAF_SIGNATURE\]/);
    assert.match(m.info()['error-desc'] ?? '', /refused this source's TLS certificate/);
    assert.equal(m.info().ram?.transferred, 0, 'not a byte of the stream was sent');
    assert.equal(acc!.status, 'rejected', 'the destination never gets a channel, so never allocates RAM');
    assert.match(String((acc as PromiseRejectedResult).reason), /refused the source at 127\.0\.0\.1:\d+: certificate of CN=livemig-source does not verify/);
    assert.equal(guest.status, 'running');
  });

  it('a destination with a certificate from another CA is refused by the source', async () => {
    const guest = await stridingGuest();
    const listener = await listenIncoming('tls:127.0.0.1:0', { tls: pki.rogueDestination });
    const accepted = Promise.allSettled([listener.accept()]);
    const m = new OutgoingMigration({ guest, transport: { tls: pki.source } });
    assert.equal(await m.run(listener.address), 'failed');
    await accepted;
    await listener.close();
    assert.match(m.error?.message ?? '', /TLS handshake with the destination failed: /);
    assert.equal(m.info().ram?.transferred, 0);
  });
});

describe('--tls-creds DIR', OPENSSL, () => {
  it('loads QEMU\'s layout (ca-cert.pem, server-/client- cert and key) or cert.pem/key.pem', () => {
    const dir = pki.writeDir('dst', pki.destination);
    const c = loadTlsCreds(dir, 'server');
    assert.equal(c.ca, pki.ca);
    assert.equal(c.cert, pki.destination.cert);
    assert.equal(c.key, pki.destination.key);
    assert.throws(() => loadTlsCreds(`${pki.dir}/nowhere`, 'client'), { code: 'INVALID_ARGUMENT', message: /--tls-creds .*nowhere: none of ca-cert\.pem exists/ });
  });
});
