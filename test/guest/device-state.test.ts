import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, PAGE_SIZE } from '../../src/guest/index.js';
import { decodeDeviceState, encodeDeviceState } from '../../src/guest/device-state.js';
import { resolveRegion } from '../../src/guest/region.js';

const spec = [{ idstr: 'pc.ram', sizeBytes: 64 * PAGE_SIZE }];

function sample(m: GuestMemory): Record<string, unknown> {
  const bytes = encodeDeviceState(m, {
    workload: 'random',
    vcpus: 2,
    seed: 3,
    region: resolveRegion(m, { offsetBytes: 8 * PAGE_SIZE }),
    vcpu: [
      { page: 5, prng: [1, 2, 3, 4], workDone: 100 },
      { page: 40, prng: [5, 6, 7, 0xffffffff], workDone: 90 },
    ],
  });
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
}

const enc = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));

test('device state: round trip, with the RAM layout checked', () => {
  const m = new GuestMemory(spec);
  const doc = sample(m);
  assert.equal(doc.format, 'livemig-guest');
  const s = decodeDeviceState(m, enc(doc));
  assert.equal(s.workload, 'random');
  assert.equal(s.region.firstPage, 8);
  assert.equal(s.region.pageCount, 56);
  assert.deepEqual(s.vcpu[1], { page: 40, prng: [5, 6, 7, 0xffffffff], workDone: 90 });
  const other = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 32 * PAGE_SIZE }]);
  assert.throws(() => decodeDeviceState(other, enc(doc)), { name: 'InvalidArgumentError', message: /source block 0 is "pc.ram" of 262144 bytes, destination has "pc.ram" of 131072/ });
});

test('device state: malformed input names the bad field', () => {
  const m = new GuestMemory(spec);
  const bad = (patch: (d: Record<string, unknown>) => void, re: RegExp): void => {
    const d = sample(m);
    patch(d);
    assert.throws(() => decodeDeviceState(m, enc(d)), { name: 'InvalidArgumentError', message: re });
  };
  assert.throws(() => decodeDeviceState(m, new Uint8Array([0xff, 0x7b])), { name: 'InvalidArgumentError', message: /not UTF-8 JSON/ });
  bad((d) => (d.version = 2), /expected format livemig-guest version 1/);
  bad((d) => (d.workload = 'spin'), /unknown workload "spin"/);
  bad((d) => (d.vcpus = 3), /2 vCPU entries for 3 vCPUs/);
  bad((d) => ((d.vcpu as { page: number }[])[0]!.page = 28), /vcpu\[0\]\.page 28 outside its pages 0\.\.27/);
  bad((d) => ((d.vcpu as { prng: number[] }[])[1]!.prng = [0, 0, 0, 0]), /prng is all zero/);
  bad((d) => ((d.vcpu as { prng: number[] }[])[1]!.prng = [1, 2, 3]), /4 uint32 values/);
  bad((d) => ((d.vcpu as { workDone: number }[])[1]!.workDone = -1), /workDone -1 is not a count/);
  bad((d) => ((d.region as { sizeBytes: number }).sizeBytes = 4095), /region sizeBytes 4095/);
  bad((d) => (d.ram = []), /source had 0 RAM blocks, destination has 1/);
});
