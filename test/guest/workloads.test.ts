import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExplicitDirtyLog, GuestMemory, PAGE_SIZE, dirtyBitmapWords } from '../../src/guest/index.js';
import { PRNG_STATE_WORDS, prngNext, prngSeed } from '../../src/guest/prng.js';
import { resolveRegion } from '../../src/guest/region.js';
import type { RegionSpec } from '../../src/guest/region.js';
import { VcpuWorkload } from '../../src/guest/vcpu-workload.js';
import type { WorkloadName } from '../../src/guest/workload-plan.js';

/** A single-threaded vCPU over `m`, marking into a fresh explicit log (cleared first). */
function vcpu(m: GuestMemory, workload: WorkloadName, opts: { region?: RegionSpec; vcpus?: number; vcpu?: number; seed?: number } = {}) {
  const log = new ExplicitDirtyLog(m);
  log.sync(new Uint32Array(dirtyBitmapWords(m.pageCount)));
  const region = resolveRegion(m, opts.region ?? {});
  const prng = new Uint32Array(PRNG_STATE_WORDS);
  prngSeed(opts.seed ?? 0, opts.vcpu ?? 0, prng);
  const plan = { workload, region, vcpus: opts.vcpus ?? 1, vcpu: opts.vcpu ?? 0 };
  const w = new VcpuWorkload(m, new Int32Array(log.shared), plan, { page: 0, prng: Array.from(prng), workDone: 0 });
  if (w.rangeStart !== 0) w.page = w.rangeStart;
  const dirty = (): number[] => {
    const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
    log.sync(into);
    const out: number[] = [];
    for (let p = 0; p < m.pageCount; p++) if ((into[p >>> 5]! >>> (p & 31)) & 1) out.push(p);
    return out;
  };
  return { w, dirty };
}

function byte0s(m: GuestMemory): number[] {
  const out: number[] = [];
  for (let g = 0; g < m.pageCount; g++) {
    const b = m.blockOfPage(g);
    out.push(b.bytes[(g - b.firstPage) * PAGE_SIZE]!);
  }
  return out;
}

function nonZeroBytes(m: GuestMemory): number {
  let n = 0;
  for (const b of m.blocks) for (const v of b.bytes) if (v !== 0) n++;
  return n;
}

test('stride: increments byte 0 of each page of the region in address order, wrapping, across blocks', () => {
  const m = new GuestMemory([{ idstr: 'a', sizeBytes: 6 * PAGE_SIZE }, { idstr: 'b', sizeBytes: 6 * PAGE_SIZE }]);
  // Region: global pages 2..9 (spans the block boundary at page 6).
  const { w, dirty } = vcpu(m, 'stride', { region: { offsetBytes: 2 * PAGE_SIZE, sizeBytes: 8 * PAGE_SIZE } });
  assert.equal(w.step(3), 3);
  assert.deepEqual(byte0s(m), [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(dirty(), [2, 3, 4]);
  w.step(5);
  assert.deepEqual(byte0s(m), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual(dirty(), [5, 6, 7, 8, 9]);
  w.step(2);
  assert.deepEqual(byte0s(m), [0, 0, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0], 'wrapped to the region start');
  assert.equal(w.page, 2);
  assert.equal(w.workDone, 10);
  assert.equal(nonZeroBytes(m), 8, 'nothing but byte 0 of region pages');
  // 256 more sweeps wrap the counters mod 256.
  w.step(8 * 256);
  assert.deepEqual(byte0s(m).slice(2, 10), [2, 2, 1, 1, 1, 1, 1, 1]);
});

test('stride: only vCPU 0 strides; the others idle', () => {
  const m = new GuestMemory([{ idstr: 'a', sizeBytes: 8 * PAGE_SIZE }]);
  const { w } = vcpu(m, 'stride', { vcpus: 3, vcpu: 1 });
  assert.ok(w.idle);
  assert.equal(w.step(64), 0);
  assert.equal(nonZeroBytes(m), 0);
});

test('seed: each pass adds i & 255 to byte (1234 + i) & 4095 of page i, and nothing else', () => {
  const pages = 300;
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * PAGE_SIZE }]);
  const bytes = m.blocks[0]!.bytes;
  // Two vCPUs split the region; together one pass each covers every page once.
  const a = vcpu(m, 'seed', { vcpus: 2, vcpu: 0 });
  const b = vcpu(m, 'seed', { vcpus: 2, vcpu: 1 });
  assert.deepEqual([a.w.rangeStart, a.w.rangeEnd, b.w.rangeStart, b.w.rangeEnd], [0, 150, 150, 300]);
  for (let pass = 1; pass <= 2; pass++) {
    a.w.step(150);
    b.w.step(150);
    let others = 0;
    for (let i = 0; i < pages; i++) {
      const at = i * PAGE_SIZE + ((1234 + i) & 4095);
      assert.equal(bytes[at], (pass * (i & 255)) & 255, `page ${i} pass ${pass}`);
      for (let k = i * PAGE_SIZE; k < (i + 1) * PAGE_SIZE; k++) if (k !== at && bytes[k] !== 0) others++;
    }
    assert.equal(others, 0);
  }
  assert.deepEqual(a.dirty(), Array.from({ length: 150 }, (_, i) => i), 'every written page is marked (even page 0, which gains 0)');
  assert.deepEqual(b.dirty().length, 150);
});

test('random: XORs every 32-bit word of each page with xoshiro128** output, in page order', () => {
  const pages = 16;
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * PAGE_SIZE }]);
  const words = new Uint32Array(m.blocks[0]!.bytes.buffer);
  const { w, dirty } = vcpu(m, 'random', { seed: 42 });
  w.step(pages);
  const ref = new Uint32Array(PRNG_STATE_WORDS);
  prngSeed(42, 0, ref);
  let mismatches = 0;
  let zero = 0;
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== prngNext(ref)) mismatches++;
    if (words[i] === 0) zero++;
  }
  assert.equal(mismatches, 0, 'the inlined generator equals the reference');
  assert.ok(zero <= 2, `~all words changed (${zero} of ${words.length} stayed zero)`);
  assert.deepEqual(Array.from(w.prng), Array.from(ref), 'generator state advanced by 1024 outputs a page');
  assert.deepEqual(dirty(), Array.from({ length: pages }, (_, i) => i));
  // Different vCPUs draw different streams.
  const s0 = new Uint32Array(4);
  const s1 = new Uint32Array(4);
  prngSeed(42, 0, s0);
  prngSeed(42, 1, s1);
  assert.notDeepEqual(Array.from(s0), Array.from(s1));
});

for (const workload of ['stride', 'seed', 'random'] as WorkloadName[]) {
  test(`${workload}: continuing from a saved position equals running straight through`, () => {
    const spec = [{ idstr: 'pc.ram', sizeBytes: 40 * PAGE_SIZE }];
    const straight = new GuestMemory(spec);
    const split = new GuestMemory(spec);
    const s = vcpu(straight, workload, { seed: 7 });
    s.w.step(100);
    const first = vcpu(split, workload, { seed: 7 });
    first.w.step(37);
    const pos = first.w.position();
    // A "destination": a copy of the memory and the position, nothing else.
    const dest = new GuestMemory(spec);
    dest.blocks[0]!.bytes.set(split.blocks[0]!.bytes);
    const plan = { workload, region: resolveRegion(dest), vcpus: 1, vcpu: 0 };
    const second = new VcpuWorkload(dest, null, plan, JSON.parse(JSON.stringify(pos)) as typeof pos);
    second.step(63);
    assert.deepEqual(dest.digest(), straight.digest());
    assert.equal(second.workDone, 100);
  });
}
