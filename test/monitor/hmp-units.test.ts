/**
 * QEMU's HMP units, in process: `migrate_set_speed` and `migrate_set_cachesize` read a number
 * without a suffix as MiB (QEMU's argument type 'o', qemu_strtosz_MiB), as
 * `migrate_set_parameter max-bandwidth` does, while the xbzrle-cache-size parameter stays in
 * bytes; `info migrate_parameters` shows the bytes that resulted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { Hmp, Machine } from '../../src/monitor/index.js';

const MiB = 1024 * 1024;
let guest: Guest;
let machine: Machine;
let hmp: Hmp;

before(async () => {
  guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * MiB }]), workload: 'idle' });
  machine = new Machine({ source: new SourceManager(guest) });
  hmp = new Hmp(machine, () => undefined);
});
after(async () => {
  machine.close();
  await guest.stop();
});

/** Runs `command` (which must print nothing), then returns `name` from `info migrate_parameters`. */
async function set(command: string, name: string): Promise<string> {
  assert.equal(await hmp.execute(command), '', command);
  const line = (await hmp.execute('info migrate_parameters')).split('\n').find((l) => l.startsWith(`${name}: `));
  assert.ok(line, `info migrate_parameters shows ${name}`);
  return line.slice(name.length + 2);
}

describe('HMP units', () => {
  test('migrate_set_speed: MiB/s without a suffix, bytes with b, any suffix as given', async () => {
    assert.equal(await set('migrate_set_speed 100', 'max-bandwidth'), `${100 * MiB} bytes/second`);
    assert.equal(await set('migrate_set_speed 0.5', 'max-bandwidth'), `${MiB / 2} bytes/second`);
    assert.equal(await set('migrate_set_speed 100b', 'max-bandwidth'), '100 bytes/second');
    assert.equal(await set('migrate_set_speed 64k', 'max-bandwidth'), `${64 * 1024} bytes/second`);
    assert.equal(await set('migrate_set_speed 1G', 'max-bandwidth'), `${1024 * MiB} bytes/second`);
    assert.equal(await set('migrate_set_speed 0', 'max-bandwidth'), '0 bytes/second');
    // the same as the parameter, which QEMU reads in MiB too
    assert.equal(await set('migrate_set_parameter max-bandwidth 20', 'max-bandwidth'), await set('migrate_set_speed 20', 'max-bandwidth'));
    assert.match(await hmp.execute('migrate_set_speed 1.0000001'), /^Error: invalid speed '1.0000001': not a whole number of bytes/);
  });

  test('migrate_set_cachesize: MiB without a suffix; the parameter stays in bytes', async () => {
    assert.equal(await set('migrate_set_cachesize 64', 'xbzrle-cache-size'), `${64 * MiB} bytes`);
    assert.equal(await set('migrate_set_cachesize 0.5', 'xbzrle-cache-size'), `${MiB / 2} bytes`);
    assert.equal(await set('migrate_set_cachesize 8192b', 'xbzrle-cache-size'), '8192 bytes');
    assert.equal(await set('migrate_set_cachesize 1g', 'xbzrle-cache-size'), `${1024 * MiB} bytes`);
    assert.equal(await set('migrate_set_parameter xbzrle-cache-size 65536', 'xbzrle-cache-size'), '65536 bytes');
    assert.match(await hmp.execute('migrate_set_cachesize 3'), /^Error: .*power of two no less than the target page size/);
  });

  test('help names the units', async () => {
    assert.match(await hmp.execute('help migrate_set_speed'), /MiB\/s without a suffix/);
    assert.match(await hmp.execute('help migrate_set_cachesize'), /MiB without a suffix/);
  });
});
