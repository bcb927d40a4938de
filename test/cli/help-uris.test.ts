/**
 * Every migration URI scheme the transport takes (SUPPORTED_MIGRATION_URIS) is named where a
 * user looks for it: `livemig incoming --help`, `livemig send --help` and the monitor's
 * `help migrate`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Hmp } from '../../src/monitor/index.js';
import type { Machine } from '../../src/monitor/index.js';
import { SUPPORTED_MIGRATION_URIS } from '../../src/transport/index.js';
import { CLI } from '../helpers/processes.js';

const SCHEMES = SUPPORTED_MIGRATION_URIS.split(', ').map((u) => u.slice(0, u.indexOf(':') + 1));

test('the transport has the six schemes this test expects', () => {
  assert.deepEqual([...SCHEMES].sort(), ['exec:', 'fd:', 'file:', 'tcp:', 'tls:', 'unix:']);
});

for (const command of ['incoming', 'send']) {
  test(`livemig ${command} --help names every URI scheme`, () => {
    const r = spawnSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const s of SCHEMES) assert.match(r.stdout, new RegExp(`\\b${s}[A-Z]`), `${command} --help names ${s}`);
  });
}

test('the monitor\'s help migrate names every URI scheme', async () => {
  // help reads nothing from the machine
  const hmp = new Hmp({} as Machine, () => undefined);
  const text = await hmp.execute('help migrate');
  assert.match(text, /^migrate \[-d\] \[-x\] uri/);
  for (const s of SCHEMES) assert.match(text, new RegExp(`\\b${s}[a-zN]`), `help migrate names ${s}`);
});
