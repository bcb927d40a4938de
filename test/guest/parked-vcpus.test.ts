import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { ParkedVcpus } from '../../src/guest/parked-vcpus.js';

test('parked vCPU threads run the resumed workload: resumeFrom takes one per vCPU and starts no other', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }]);
  const source = await Guest.start({ memory, workload: 'seed', vcpus: 2 });
  await source.pause();
  const state = source.deviceState();
  await source.stop();
  const pool = ParkedVcpus.start(3);
  const g = await Guest.resumeFrom(memory, state, { parked: pool, paused: true });
  try {
    assert.equal(g.vcpus, 2);
    const spare = pool.take();
    assert.ok(spare !== undefined, 'one of the three is left');
    assert.equal(pool.take(), undefined, 'the other two run the vCPUs');
    await spare.terminate();
    const before = g.workDone();
    g.resume();
    // the parked threads write the workload: wait for the counter to move (bounded)
    for (let i = 0; i < 400 && g.workDone() === before; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(g.workDone() > before, 'the resumed vCPUs work');
  } finally {
    await g.stop();
    await pool.close();
  }
});
