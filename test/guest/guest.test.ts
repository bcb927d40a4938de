import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory, PAGE_SIZE, checkStride, dirtyBitmapWords } from '../../src/guest/index.js';
import type { DirtyLogKind, GuestOptions, WorkloadName } from '../../src/guest/index.js';
import { MiB, copyDirty, copyMemory, sleep } from './helpers.js';

const guestState = { name: 'LivemigError', code: 'GUEST_STATE' };

/** Starts a guest, runs `body`, and always stops it (no worker may outlive a test). */
async function withGuest(options: GuestOptions, body: (g: Guest) => Promise<void>): Promise<void> {
  const g = await Guest.start(options);
  try {
    await body(g);
  } finally {
    await g.stop();
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test('guest: bad options are refused before any worker starts', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  const bad = async (o: Partial<GuestOptions>, re: RegExp): Promise<void> => {
    await assert.rejects(Guest.start({ memory, workload: 'stride', ...o } as GuestOptions), { name: 'InvalidArgumentError', message: re });
  };
  await bad({ workload: 'spin' as WorkloadName }, /unknown workload "spin": expected one of idle, stride, seed, random, xbzrle-doc, bwmem, zipf, video, mixed/);
  await bad({ vcpus: 0 }, /vcpus must be an integer 1\.\.64/);
  await bad({ seed: -1 }, /seed must be an integer/);
  await bad({ region: { offsetBytes: 1 * MiB } }, /beyond guest RAM/);
  await bad({ region: { sizeBytes: 2 * MiB } }, /ends beyond guest RAM/);
  await bad({ dirtyLog: 'pml' as DirtyLogKind }, /dirtyLog must be 'explicit' or 'scan'/);
  const plain = GuestMemory.wrap([{ idstr: 'heap', bytes: new Uint8Array(PAGE_SIZE) }]);
  await bad({ memory: plain }, /not in a SharedArrayBuffer/);
});

test('guest: stride runs in a worker; pause really stops writes; resume restarts them; stop is final', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  const g = await Guest.start({ memory, workload: 'stride' });
  try {
    assert.equal(g.status, 'running');
    assert.equal(g.dirtyLog.kind, 'explicit');
    assert.throws(() => g.deviceState(), { ...guestState, message: /needs a paused guest; it is running/ });
    await until(() => g.workDone() > 20 * memory.pageCount, 'twenty sweeps');
    await g.pause();
    assert.equal(g.status, 'paused');
    const check = checkStride(memory);
    assert.ok(check.ok, check.message);
    const d0 = memory.digest();
    const w0 = g.workDone();
    await sleep(100);
    assert.equal(memory.digest(), d0, 'RAM is stable while paused');
    assert.equal(g.workDone(), w0);
    await g.pause(); // already paused: resolves at once
    g.resume();
    g.resume(); // no-op
    assert.equal(g.status, 'running');
    await until(() => g.workDone() > w0 + memory.pageCount, 'another sweep');
    assert.notEqual(memory.digest(), d0);
  } finally {
    await g.stop();
  }
  assert.equal(g.status, 'stopped');
  const w = g.workDone();
  await sleep(30);
  assert.equal(g.workDone(), w, 'no vCPU runs after stop');
  await g.stop(); // idempotent
  await assert.rejects(g.pause(), { ...guestState, message: /stopped/ });
  assert.throws(() => g.resume(), guestState);
  assert.throws(() => g.throttle(10), guestState);
});

test('guest: pausing random on 2 vCPUs stops every writer (digest stable over 100 ms)', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 2 * MiB }]);
  await withGuest({ memory, workload: 'random', vcpus: 2, seed: 9 }, async (g) => {
    await until(() => g.workDone() > 4 * memory.pageCount, 'two passes');
    for (let round = 0; round < 3; round++) {
      await g.pause();
      const d = memory.digest();
      await sleep(100);
      assert.equal(memory.digest(), d, `round ${round}`);
      g.resume();
      await sleep(10);
    }
  });
});

test('guest: resume or stop during a pause in progress rejects that pause', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  await withGuest({ memory, workload: 'seed', vcpus: 2 }, async (g) => {
    const p = g.pause();
    const again = g.pause();
    assert.equal(again, p, 'concurrent pauses share one');
    g.resume();
    await assert.rejects(p, { ...guestState, message: /resumed first/ });
    assert.equal(g.status, 'running');
    await g.pause();
    assert.equal(g.status, 'paused');
    g.resume();
    const q = g.pause();
    const stopped = g.stop();
    await assert.rejects(q, { ...guestState, message: /stopped first/ });
    await stopped;
  });
});

test('guest: device state round trip: a destination continues stride with a single boundary', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 2 * MiB }, { idstr: 'extra', sizeBytes: 1 * MiB }]);
  const region = { offsetBytes: 1 * MiB, sizeBytes: 1536 * 1024 }; // spans both blocks
  await withGuest({ memory, workload: 'stride', vcpus: 2, region }, async (src) => {
    await until(() => src.workDone() > 5 * 384 + 100, 'a few sweeps');
    await src.pause();
    const state = src.deviceState();
    const doc = JSON.parse(Buffer.from(state).toString('utf8')) as { workload: string; vcpus: number; vcpu: { page: number; workDone: number }[] };
    assert.equal(doc.workload, 'stride');
    assert.equal(doc.vcpus, 2);
    assert.equal(doc.vcpu[1]!.workDone, 0, 'vCPU 1 idles under stride');
    const srcCheck = checkStride(memory, region);
    assert.ok(srcCheck.ok, srcCheck.message);
    if (doc.vcpu[0]!.page !== 0) assert.equal(srcCheck.boundaryPage, 256 + doc.vcpu[0]!.page, 'the boundary is where vCPU 0 stopped');
    const dstMemory = copyMemory(memory);
    const dst = await Guest.resumeFrom(dstMemory, state);
    try {
      assert.equal(dst.workload, 'stride');
      assert.ok(dst.workDone() >= src.workDone(), 'the work count carries over');
      const start = dst.workDone();
      await until(() => dst.workDone() > start + 3 * 384 + 17, 'the destination to sweep on');
      await dst.pause();
      const check = checkStride(dstMemory, region);
      assert.ok(check.ok, check.message);
      assert.equal(memory.digest(), copyMemory(memory).digest(), 'the source stays paused, untouched');
      // Outside the region nothing was written.
      assert.ok(dstMemory.blocks[0]!.bytes.subarray(0, 1 * MiB).every((v) => v === 0));
    } finally {
      await dst.stop();
    }
  });
});

test('guest: resumeFrom paused starts vCPUs that write nothing until resume()', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  await withGuest({ memory, workload: 'seed', vcpus: 2 }, async (src) => {
    await until(() => src.workDone() > 1000, 'some work');
    await src.pause();
    const dstMemory = copyMemory(memory);
    const before = dstMemory.digest();
    const dst = await Guest.resumeFrom(dstMemory, src.deviceState(), { paused: true });
    try {
      assert.equal(dst.status, 'paused');
      const work = dst.workDone();
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(dstMemory.digest(), before, 'a paused vCPU wrote RAM');
      assert.equal(dst.workDone(), work);
      const vcpus = (state: Uint8Array): unknown => (JSON.parse(Buffer.from(state).toString('utf8')) as { vcpu: unknown }).vcpu;
      assert.deepEqual(vcpus(dst.deviceState()), vcpus(src.deviceState()), 'paused where the source stopped');
      dst.resume();
      assert.equal(dst.status, 'running');
      await until(() => dst.workDone() > work + 1000, 'the resumed vCPUs to work');
      await dst.pause();
      assert.notEqual(dstMemory.digest(), before);
    } finally {
      await dst.stop();
    }
  });
});

test('guest: resumeFrom refuses a device state for other RAM', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  await withGuest({ memory, workload: 'idle', vcpus: 2 }, async (g) => {
    await g.pause();
    assert.equal(g.workDone(), 0);
    const other = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 2 * MiB }]);
    await assert.rejects(Guest.resumeFrom(other, g.deviceState()), { name: 'InvalidArgumentError', message: /source block 0/ });
  });
});

for (const [workload, dirtyLog, vcpus] of [
  ['stride', 'explicit', 1],
  ['stride', 'scan', 1],
  ['seed', 'explicit', 2],
  ['random', 'scan', 2],
] as [WorkloadName, DirtyLogKind, number][]) {
  test(`guest: live pre-copy of ${workload} on ${vcpus} vCPU(s) with the ${dirtyLog} log loses no page`, async () => {
    const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }, { idstr: 'vga.vram', sizeBytes: 256 * 1024 }]);
    await withGuest({ memory, workload, vcpus, dirtyLog }, async (g) => {
      assert.equal(g.dirtyLog.kind, dirtyLog);
      const dst = new GuestMemory(memory.blocks.map((b) => ({ idstr: b.idstr, sizeBytes: b.sizeBytes })));
      const pending = new Uint32Array(dirtyBitmapWords(memory.pageCount));
      const snap = new Uint8Array(PAGE_SIZE);
      g.dirtyLog.reset();
      let passes = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 150) {
        copyDirty(memory, dst, g.dirtyLog, pending, snap);
        passes++;
        await sleep(1);
      }
      await g.pause();
      copyDirty(memory, dst, g.dirtyLog, pending, snap);
      assert.equal(dst.digest(), memory.digest(), `destination equals source after ${passes} live passes`);
      if (workload === 'stride') assert.ok(checkStride(dst).ok);
    });
  });
}

test('guest: throttle reduces the work rate like QEMU cpu-throttle', async () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]);
  await withGuest({ memory, workload: 'stride' }, async (g) => {
    for (const bad of [-1, 100, 50.5, NaN]) assert.throws(() => g.throttle(bad), { name: 'InvalidArgumentError', message: /0\.\.99/ });
    const rate = async (): Promise<number> => {
      const w0 = g.workDone();
      const t0 = performance.now();
      await sleep(250);
      return (g.workDone() - w0) / (performance.now() - t0);
    };
    await sleep(20);
    const full = await rate();
    g.throttle(90);
    assert.equal(g.throttlePercent, 90);
    await sleep(30);
    const slow = await rate();
    g.throttle(0);
    assert.ok(full > 0, 'unthrottled guest works');
    assert.ok(slow < full * 0.5, `throttled at 90%: ${slow.toFixed(0)} pages/ms vs ${full.toFixed(0)} unthrottled`);
    assert.ok(slow > 0, 'a throttled guest still runs');
  });
});
