/**
 * The evaluation workloads' dirty patterns, exactly: which pages a pass of each touches, how
 * many bytes of each page it changes, and what that means for XBZRLE (encoded size or
 * overflow). Single-threaded through VcpuWorkload; then the knobs in real worker threads
 * (rate, throttle), and the device state that carries them to a destination.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xbzrleEncode } from '../../src/codec/index.js';
import { DEFAULT_WORKLOAD_OPTIONS, ExplicitDirtyLog, Guest, GuestMemory, PAGE_SIZE, dirtyBitmapWords } from '../../src/guest/index.js';
import type { WorkloadName, WorkloadOptions } from '../../src/guest/index.js';
import { bwmemWord } from '../../src/guest/dirtiers.js';
import { decodeDeviceState } from '../../src/guest/device-state.js';
import { PRNG_STATE_WORDS, prngSeed } from '../../src/guest/prng.js';
import { resolveRegion } from '../../src/guest/region.js';
import type { RegionSpec } from '../../src/guest/region.js';
import { VcpuWorkload } from '../../src/guest/vcpu-workload.js';
import { until } from '../helpers/wait.js';
import { MIXED_TURN_WRITES, mixedParts, resolveWorkloadOptions, vcpuPageRange } from '../../src/guest/workload-plan.js';

interface Rig {
  m: GuestMemory;
  w: VcpuWorkload;
  /** Pages written since the last call (the explicit log, synced). */
  dirty: () => number[];
  /** Copy of all RAM now. */
  snap: () => Uint8Array;
}

function rig(pages: number, workload: WorkloadName, o: { options?: WorkloadOptions; vcpus?: number; vcpu?: number; seed?: number; region?: RegionSpec; fill?: boolean } = {}): Rig {
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * PAGE_SIZE }]);
  if (o.fill) {
    const b = m.blocks[0]!.bytes;
    for (let i = 0; i < b.length; i++) b[i] = (i * 131 + (i >>> 12) * 7) & 255;
  }
  const log = new ExplicitDirtyLog(m);
  log.sync(new Uint32Array(dirtyBitmapWords(m.pageCount)));
  const region = resolveRegion(m, o.region ?? {});
  const vcpus = o.vcpus ?? 1;
  const options = resolveWorkloadOptions(workload, o.options ?? {}, region.pageCount, vcpus);
  const prng = new Uint32Array(PRNG_STATE_WORDS);
  prngSeed(o.seed ?? 1, o.vcpu ?? 0, prng);
  const start = vcpuPageRange(workload, vcpus, o.vcpu ?? 0, region.pageCount, options).start;
  const w = new VcpuWorkload(m, new Int32Array(log.shared), { workload, region, vcpus, vcpu: o.vcpu ?? 0, options }, { page: start, prng: Array.from(prng), workDone: 0 });
  const dirty = (): number[] => {
    const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
    log.sync(into);
    const out: number[] = [];
    for (let p = 0; p < m.pageCount; p++) if ((into[p >>> 5]! >>> (p & 31)) & 1) out.push(p);
    return out;
  };
  return { m, w, dirty, snap: () => m.blocks[0]!.bytes.slice() };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const page = (b: Uint8Array, p: number): Uint8Array => b.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);

function changedBytes(a: Uint8Array, b: Uint8Array, p: number): number[] {
  const out: number[] = [];
  for (let i = p * PAGE_SIZE; i < (p + 1) * PAGE_SIZE; i++) if (a[i] !== b[i]) out.push(i - p * PAGE_SIZE);
  return out;
}

const encoded = new Uint8Array(PAGE_SIZE);
const xbzrleSize = (old: Uint8Array, cur: Uint8Array, p: number): number => xbzrleEncode(page(old, p), page(cur, p), encoded);

test('xbzrle-doc: a sweep increments bytes 0, 1024, 2048, 3072 of each buffer page; nothing else; 12 bytes of XBZRLE a page', () => {
  const r = rig(64, 'xbzrle-doc', { options: { bufferBytes: 40 * PAGE_SIZE }, fill: true });
  assert.deepEqual([r.w.rangeStart, r.w.rangeEnd], [0, 40], 'the buffer, cut to bufferBytes');
  const before = r.snap();
  r.w.step(40);
  assert.deepEqual(r.dirty(), range(0, 40), 'one sweep touches every buffer page once, nothing past the buffer');
  const after = r.snap();
  for (let p = 0; p < 64; p++) {
    assert.deepEqual(changedBytes(before, after, p), p < 40 ? [0, 1024, 2048, 3072] : [], `page ${p}`);
    if (p < 40) for (const off of [0, 1024, 2048, 3072]) assert.equal(after[p * PAGE_SIZE + off], (before[p * PAGE_SIZE + off]! + 1) & 255);
  }
  // Four runs of one byte: zrun, 1, byte for each; the first zrun is 0 (1 byte), the others 1023 (2 bytes).
  assert.equal(xbzrleSize(before, after, 7), 1 + 1 + 1 + 3 * (2 + 1 + 1));
  r.w.step(17);
  assert.deepEqual(r.dirty(), range(0, 17), 'the next sweep starts over at the buffer start');
  assert.equal(r.w.page, 17);
});

test('xbzrle-doc: the default buffer is 16 MiB (the docs program), split among vCPUs', () => {
  const opts = resolveWorkloadOptions('xbzrle-doc', {}, 8192, 2);
  assert.equal(opts.bufferBytes, 16 * 1024 * 1024);
  assert.deepEqual(vcpuPageRange('xbzrle-doc', 2, 0, 8192, opts), { start: 0, end: 2048 });
  assert.deepEqual(vcpuPageRange('xbzrle-doc', 2, 1, 8192, opts), { start: 2048, end: 4096 });
  assert.deepEqual(vcpuPageRange('xbzrle-doc', 1, 0, 1024, opts), { start: 0, end: 1024 }, 'cut to a smaller region');
});

test('bwmem: every page of the region, every byte changed at every sweep: XBZRLE overflows, no page is a fill', () => {
  const r = rig(24, 'bwmem', { region: { offsetBytes: 4 * PAGE_SIZE, sizeBytes: 16 * PAGE_SIZE } });
  r.w.step(16);
  assert.deepEqual(r.dirty(), range(4, 20));
  for (let sweep = 1; sweep <= 3; sweep++) {
    const before = r.snap();
    r.w.step(16);
    assert.deepEqual(r.dirty(), range(4, 20), `sweep ${sweep} touches the region's pages`);
    const after = r.snap();
    const words = new Uint32Array(after.buffer, after.byteOffset, after.length >>> 2);
    for (let p = 4; p < 20; p++) {
      assert.equal(changedBytes(before, after, p).length, PAGE_SIZE, `page ${p}: dense`);
      assert.equal(words[p * 1024 + 5], bwmemWord(sweep, p - 4) >>> 0);
      assert.equal(xbzrleSize(before, after, p), -1, 'overflow');
      assert.ok(new Set(page(after, p)).size > 1, 'not a single repeated byte');
    }
    for (const p of [0, 1, 2, 3, 20, 21, 22, 23]) assert.ok(page(after, p).every((v) => v === 0), `page ${p} outside the region stays zero`);
  }
});

test('zipf: each write changes at most wordsPerWrite words in one run of one page; hot pages take hotWrites of the writes, skewed', () => {
  const pages = 1000;
  const r = rig(pages, 'zipf', { options: { hotFraction: 0.05, hotWrites: 0.9, wordsPerWrite: 4 }, seed: 5 });
  const hot = new Set(range(0, 50).map((k) => Math.floor((k * pages) / 50)));
  const counts = new Map<number, number>();
  const writes = 20_000;
  for (let i = 0; i < writes; i++) {
    const before = r.snap();
    r.w.step(1);
    const d = r.dirty();
    assert.equal(d.length, 1, 'one page a write');
    const p = d[0]!;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    if (i < 200) {
      const ch = changedBytes(before, r.snap(), p);
      assert.ok(ch.length <= 16 && ch.length >= 1, `write ${i}: ${ch.length} bytes changed`);
      assert.ok(ch.at(-1)! - ch[0]! < 16, 'in one 16-byte row');
    }
  }
  let hotWrites = 0;
  for (const [p, n] of counts) if (hot.has(p)) hotWrites += n;
  const share = hotWrites / writes;
  assert.ok(share > 0.88 && share < 0.93, `hot share ${share.toFixed(3)} ≈ 0.9 (+ cold writes that land on hot pages)`);
  // Zipf-like within the hot set: rank 0 (page 0) gets log2/log51 ≈ 17.6 % of the hot writes, rank 49 ≈ 0.5 %.
  const top = (counts.get(0) ?? 0) / hotWrites;
  const last = (counts.get(Math.floor((49 * pages) / 50)) ?? 0) / hotWrites;
  assert.ok(top > 0.15 && top < 0.2, `top hot page ${top.toFixed(3)}`);
  assert.ok(last < 0.012, `last hot page ${last.toFixed(4)}`);
  assert.ok(counts.size > 500, `cold writes reach much of the region (${counts.size} pages)`);
});

test('zipf: hotWrites 1 keeps every write in the hot set; the hot set grows with hotFraction', () => {
  for (const hotFraction of [0.01, 0.2]) {
    const r = rig(500, 'zipf', { options: { hotFraction, hotWrites: 1 }, seed: 2 });
    r.w.step(5000);
    const d = r.dirty();
    const hotPages = Math.round(500 * hotFraction);
    const hot = new Set(range(0, hotPages).map((k) => Math.floor((k * 500) / hotPages)));
    assert.ok(d.every((p) => hot.has(p)), 'only hot pages');
    assert.ok(d.length > hotPages * 0.8, `${d.length} of ${hotPages} hot pages written`);
  }
});

test('video: a frame rewrites every page of its buffer; only the moving band (≤ 2 × motion of it) changes content', () => {
  const r = rig(80, 'video', { options: { frames: 4, motion: 0.25 } });
  assert.deepEqual([r.w.rangeStart, r.w.rangeEnd], [0, 80], '4 frames of 20 pages');
  r.w.step(80); // frames 0..3 fill the ring
  r.dirty();
  for (let frame = 4; frame < 12; frame++) {
    const before = r.snap();
    r.w.step(20);
    const buf = frame % 4;
    assert.deepEqual(r.dirty(), range(buf * 20, buf * 20 + 20), `frame ${frame} writes buffer ${buf} whole`);
    const after = r.snap();
    let changed = 0;
    for (let p = 0; p < 80; p++) {
      const c = changedBytes(before, after, p).length;
      if (p < buf * 20 || p >= buf * 20 + 20) assert.equal(c, 0, 'other buffers untouched');
      else if (c > 0) {
        changed++;
        assert.ok(c > PAGE_SIZE * 0.9, 'a changed page changes densely');
      }
    }
    assert.ok(changed >= 5 && changed <= 10, `frame ${frame}: ${changed} pages changed (band 5, at most 10)`);
  }
});

test('video: frameBytes sets the frame; the ring must fit', () => {
  const r = rig(64, 'video', { options: { frames: 3, frameBytes: 10 * PAGE_SIZE } });
  assert.deepEqual([r.w.rangeStart, r.w.rangeEnd], [0, 30]);
  r.w.step(45);
  assert.deepEqual(r.dirty(), range(0, 30));
  assert.throws(() => resolveWorkloadOptions('video', { frames: 8, frameBytes: 16 * PAGE_SIZE }, 64, 1), { name: 'InvalidArgumentError', message: /do not fit/ });
});

test('mixed: turns between zipf, video, xbzrle-doc and bwmem parts every 64 writes, each in its part of the share', () => {
  const pages = 400;
  const r = rig(pages, 'mixed', { seed: 3 });
  const parts = mixedParts(0, pages);
  assert.deepEqual(parts.map((p) => [p.workload, p.start, p.end]), [['zipf', 0, 160], ['video', 160, 280], ['xbzrle-doc', 280, 360], ['bwmem', 360, 400]]);
  const inPart = (p: number): number => parts.findIndex((x) => p >= x.start && p < x.end);
  for (let turn = 0; turn < 12; turn++) {
    const before = r.snap();
    r.w.step(MIXED_TURN_WRITES);
    const d = r.dirty();
    const part = turn % 4;
    assert.ok(d.every((p) => inPart(p) === part), `turn ${turn}: only ${parts[part]!.workload}'s pages`);
    const after = r.snap();
    if (parts[part]!.workload === 'xbzrle-doc') {
      assert.equal(d.length, 64);
      for (const p of d) assert.equal(changedBytes(before, after, p).length, 4);
    }
    if (parts[part]!.workload === 'bwmem') assert.equal(d.length, 40, '64 writes sweep the 40 bwmem pages');
  }
  assert.throws(() => resolveWorkloadOptions('mixed', {}, 20, 2), { name: 'InvalidArgumentError', message: /needs at least 16/ });
});

for (const workload of ['xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed'] as WorkloadName[]) {
  test(`${workload}: continuing from a saved position equals running straight through`, () => {
    const spec = [{ idstr: 'pc.ram', sizeBytes: 96 * PAGE_SIZE }];
    const options = resolveWorkloadOptions(workload, { bufferBytes: 50 * PAGE_SIZE, frames: 3 }, 96, 1);
    const prng = new Uint32Array(PRNG_STATE_WORDS);
    prngSeed(7, 0, prng);
    const start = { page: 0, prng: Array.from(prng), workDone: 0 };
    const straight = new GuestMemory(spec);
    new VcpuWorkload(straight, null, { workload, region: resolveRegion(straight), vcpus: 1, vcpu: 0, options }, start).step(1000);
    const split = new GuestMemory(spec);
    const first = new VcpuWorkload(split, null, { workload, region: resolveRegion(split), vcpus: 1, vcpu: 0, options }, start);
    first.step(437);
    const pos = JSON.parse(JSON.stringify(first.position())) as ReturnType<VcpuWorkload['position']>;
    const second = new VcpuWorkload(split, null, { workload, region: resolveRegion(split), vcpus: 1, vcpu: 0, options }, pos);
    second.step(563);
    assert.equal(split.digest(), straight.digest());
  });
}

test('knobs are checked by name and range', () => {
  const bad = (o: unknown, re: RegExp): void => assert.throws(() => resolveWorkloadOptions('zipf', o, 100, 1), { name: 'InvalidArgumentError', message: re });
  bad({ hotFraction: 0 }, /hotFraction must be a number above 0\.\.1/);
  bad({ hotWrites: 1.5 }, /hotWrites/);
  bad({ wordsPerWrite: 0 }, /wordsPerWrite must be an integer 1\.\.1024/);
  bad({ rate: -1 }, /rate must be an integer/);
  bad({ bufferBytes: 100 }, /bufferBytes must be a positive multiple of 4096/);
  bad({ speed: 3 }, /unknown workload option "speed"/);
  assert.deepEqual(resolveWorkloadOptions('zipf', undefined, 100, 1), { ...DEFAULT_WORKLOAD_OPTIONS });
});

/**
 * Wall time the guest takes for `writes` more writes, measured from before the count it starts
 * from (so it is never short): a lower bound that a slow machine can only raise.
 */
async function msFor(g: Guest, writes: number): Promise<number> {
  const t0 = performance.now();
  const from = g.workDone();
  await until(() => g.workDone() >= from + writes);
  return performance.now() - t0;
}

test('in worker threads: rate paces the guest, a throttle slows a paced guest by its share, knobs and last write time travel in the device state', { timeout: 60_000 }, async () => {
  // The rates themselves, over seconds: bench/guest-pacing.bench.ts. Here, what pacing and the
  // throttle guarantee whatever the load: a paced guest cannot write faster than its rate (an
  // unpaced one does 4000 writes in a few ms), and throttled 50 % it takes about twice as long
  // (a vCPU sleeps as long as it ran after each 10 ms slice).
  const startedAt = Date.now();
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 << 20 }]);
  const g = await Guest.start({ memory, workload: 'zipf', vcpus: 2, seed: 4, workloadOptions: { rate: 20_000, hotFraction: 0.2 } });
  try {
    // 2 vCPUs at 10,000 writes/s each, in batches of 50 every 5 ms: 4000 writes take 200 ms,
    // less two batches of each vCPU and the 2 ms a vCPU may catch up
    const paced = await msFor(g, 4000);
    assert.ok(paced >= 185, `4000 writes at rate 20000 took ${paced.toFixed(0)} ms, at least 185`);
    g.throttle(50);
    assert.equal(g.throttlePercent, 50);
    // a slice already begun may end unslept: count from the first 200 writes on
    await msFor(g, 200);
    const throttled = await msFor(g, 4000);
    // 400 ms at half speed; the bound allows a whole slice and a sleep (20 ms) and the catch-up
    assert.ok(throttled >= 1.5 * 200, `throttled 50 %: 4000 writes took ${throttled.toFixed(0)} ms, at least 300`);
    g.throttle(0);
    await g.pause();
    const pausedAt = Date.now();
    const last = g.lastStepWallMs();
    // on the wall clock (not a monotonic clock near 0): after the guest started, not after the
    // pause (the 5 ms allow for the two clocks' rounding)
    assert.ok(last >= startedAt - 5 && last <= pausedAt + 5, `the last write time ${last} lies between the start ${startedAt} and the pause ${pausedAt}`);
    const state = decodeDeviceState(memory, g.deviceState());
    assert.equal(state.options?.rate, 20_000);
    assert.equal(state.options?.hotFraction, 0.2);
    assert.equal(state.lastStepWallMs, last);
    const resumedAt = Date.now();
    const dst = await Guest.resumeFrom(memory, g.deviceState());
    try {
      assert.deepEqual(dst.workloadOptions, g.workloadOptions);
      await until(() => dst.guestDowntimeMs() !== undefined);
      const seenAt = Date.now();
      // from the last write before the pause to the first write after the resume
      const downtime = dst.guestDowntimeMs()!;
      assert.ok(downtime > 0, `guest-seen downtime ${downtime} ms`);
      const first = last + downtime;
      assert.ok(first >= resumedAt - 5 && first <= seenAt + 5, `the destination's first write ${first} lies between its start ${resumedAt} and now ${seenAt}`);
    } finally {
      await dst.stop();
    }
    assert.ok(g.vcpuCpuTimeMs() > 0, 'per-thread CPU time of the vCPUs is read');
  } finally {
    await g.stop();
  }
});
