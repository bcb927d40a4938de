import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { ParkedVcpus } from '../../src/guest/parked-vcpus.js';
import { syntheticKind } from '../../src/guest/synthetic-kind.js';
import { workAdvances } from '../helpers/wait.js';

/** A 1 MiB seed guest's device state, taken paused, the guest stopped after; and its RAM. */
async function seedState(vcpus = 1): Promise<{ memory: GuestMemory; state: Uint8Array }> {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }]);
  const source = await Guest.start({ memory, workload: 'seed', vcpus });
  await source.pause();
  const state = source.deviceState();
  await source.stop();
  return { memory, state };
}

// a vCPU that never works fails the test at its timeout instead of waiting for ever
test('parked vCPU threads run the resumed workload: resumeFrom takes one per vCPU and starts no other', { timeout: 30_000 }, async () => {
  const { memory, state } = await seedState(2);
  const pool = ParkedVcpus.start(3);
  const g = await Guest.resumeFrom(memory, state, { parked: pool, paused: true });
  try {
    assert.equal(g.vcpus, 2);
    const spare = pool.take();
    assert.ok(spare !== undefined, 'one of the three is left');
    assert.equal(pool.take(), undefined, 'the other two run the vCPUs');
    await spare.terminate();
    g.resume();
    await workAdvances(g); // the parked threads run the workload
  } finally {
    await g.stop();
    await pool.close();
  }
});

test('startEarly: the synthetic kind starts its vCPU thread before the stream, and prepare takes that one', { timeout: 30_000 }, async () => {
  const kind = syntheticKind();
  const before = ParkedVcpus.started;
  await kind.startEarly!();
  assert.equal(ParkedVcpus.started, before + 1, 'startEarly starts the parked vCPU thread');
  await kind.startEarly!();
  assert.equal(ParkedVcpus.started, before + 1, 'a second startEarly before prepare starts no other');
  const prepared = await kind.prepare(null, [{ idstr: 'pc.ram', lengthBytes: 1 << 20 }]);
  assert.equal(ParkedVcpus.started, before + 1, 'prepare took the thread started early');
  // and the machine resumes on it: its vCPU works
  const { state } = await seedState();
  const vm = await prepared.start(state, { paused: true });
  try {
    assert.equal(ParkedVcpus.started, before + 1, 'the resumed vCPU ran on the early thread');
    const g = vm as Guest;
    g.resume();
    await workAdvances(g);
  } finally {
    await vm.stop();
  }
  // the next prepare (another migration after a failed one) starts a thread of its own
  const again = await kind.prepare(null, [{ idstr: 'pc.ram', lengthBytes: 1 << 20 }]);
  assert.equal(ParkedVcpus.started, before + 2);
  await again.discard();
});

test('startEarly starts nothing for a destination that will not resume (parkVcpus false)', async () => {
  const kind = syntheticKind({ parkVcpus: false });
  const before = ParkedVcpus.started;
  await kind.startEarly!();
  const prepared = await kind.prepare(null, [{ idstr: 'pc.ram', lengthBytes: 1 << 20 }]);
  await prepared.discard();
  assert.equal(ParkedVcpus.started, before);
});
