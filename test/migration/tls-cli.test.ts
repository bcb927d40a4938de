/** `livemig run --tls-creds` to `livemig incoming tls:... --tls-creds`: mutual TLS end to end, and a rogue source refused. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { makePki } from '../transport/pki.js';
import { requires } from '../helpers/requirements.js';
import { parseInfo, startDestination, startSource, stopAll } from '../helpers/processes.js';

const OPENSSL = requires.openssl();
const pki = OPENSSL.skip ? undefined : makePki();
after(() => {
  stopAll();
  pki?.remove();
});

test('a migration over tls: with credential directories reports cipher and peer; a rogue source is refused', { ...OPENSSL, timeout: 60_000 }, async () => {
  if (!pki) return;
  const dst = startDestination('tls:127.0.0.1:0', ['--tls-creds', pki.writeDir('dst', pki.destination), '--exit-after', '100']);
  const uri = String((await dst.waitFor('listening'))['uri']);
  const src = startSource(['--ram', '4M', '--workload', 'stride', '--tls-creds', pki.writeDir('src', pki.source)]);
  assert.deepEqual(await src.ask(`migrate ${uri}`), ['Migration status: completed']);
  const info = parseInfo(await src.ask('info migrate'));
  assert.match(info.get('tls') ?? '', /^TLSv1\.[23] \S+, peer CN=livemig-destination \(sha256 [0-9A-F:]+\)$/);
  const done = await dst.waitFor('completed');
  assert.equal((done['incoming'] as Record<string, unknown>)['ram-digest'], info.get('ram digest (page128)'));
  src.send('quit');

  const dst2 = startDestination('tls:127.0.0.1:0', ['--tls-creds', pki.writeDir('dst2', pki.destination)]);
  const uri2 = String((await dst2.waitFor('listening'))['uri']);
  const rogue = startSource(['--ram', '4M', '--workload', 'idle', '--tls-creds', pki.writeDir('rogue', pki.rogueSource)]);
  const out = await rogue.ask(`migrate ${uri2}`);
  assert.match(out.join('\n'), /^Error: migration failed: .*(certificate|TLS)/);
  assert.deepEqual(await rogue.ask('info status'), ['VM status: running']);
  assert.notEqual(await dst2.exited, 0, 'the destination never completed');
  rogue.send('quit');
});
