/**
 * The destination of a tls: migration says who it let in: `livemig incoming --tls-creds` shows
 * the TLS protocol, the cipher and the source's verified certificate (subject, issuer, SHA-256
 * fingerprint) in its `info migrate` and in the completed JSON event (`incoming.transport.tls`),
 * as the source shows the destination. Both ends name the same session.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { makePki } from '../transport/pki.js';
import { requires } from '../helpers/requirements.js';
import { parseInfo, startSource, stopAll } from '../helpers/processes.js';
import { killAll, livemig } from '../monitor/procs.js';

const OPENSSL = requires.openssl();
const pki = OPENSSL.skip ? undefined : makePki();
after(() => {
  stopAll();
  killAll();
  pki?.remove();
});

test('livemig incoming over tls: info migrate and the completed event name the protocol, cipher and the source\'s certificate', { ...OPENSSL, timeout: 60_000 }, async () => {
  if (!pki) return;
  const dst = livemig(['incoming', 'tls:127.0.0.1:0', '--tls-creds', pki.writeDir('dst', pki.destination), '--json']);
  const listening = JSON.parse(await dst.waitLine(/"event":"listening"/)) as { uri: string };
  const src = startSource(['--ram', '4M', '--workload', 'stride', '--tls-creds', pki.writeDir('src', pki.source)]);
  assert.deepEqual(await src.ask(`migrate ${listening.uri}`), ['Migration status: completed']);
  const completed = JSON.parse(await dst.waitLine(/"event":"completed"/)) as { incoming: { transport?: { description: string; tls?: Record<string, string> } } };

  const sourceFingerprint = new X509Certificate(String(pki.source.cert)).fingerprint256;
  const t = completed.incoming.transport;
  assert.match(t?.description ?? '', /^tls 127\.0\.0\.1:\d+ <- 127\.0\.0\.1:\d+ \(TLSv1\.3, peer CN=livemig-source\)$/);
  assert.equal(t?.tls?.['protocol'], 'TLSv1.3');
  assert.match(t?.tls?.['cipher'] ?? '', /^TLS_[A-Z0-9_]+$/);
  assert.equal(t?.tls?.['peerSubject'], 'CN=livemig-source');
  assert.equal(t?.tls?.['peerIssuer'], 'CN=livemig-test-ca');
  assert.equal(t?.tls?.['peerFingerprint256'], sourceFingerprint);

  const dstInfo = parseInfo(await dst.ask('info migrate'));
  assert.equal(dstInfo.get('Migration status'), 'completed');
  assert.equal(dstInfo.get('tls'), `TLSv1.3 ${t?.tls?.['cipher']}, peer CN=livemig-source (sha256 ${sourceFingerprint})`);
  // the source shows the same session from its side
  const srcTls = parseInfo(await src.ask('info migrate')).get('tls') ?? '';
  assert.equal(srcTls, `TLSv1.3 ${t?.tls?.['cipher']}, peer CN=livemig-destination (sha256 ${new X509Certificate(String(pki.destination.cert)).fingerprint256})`);

  src.send('quit');
  dst.send('quit');
  assert.equal(await dst.exited, 0);
  assert.equal(await src.exited, 0);
});
