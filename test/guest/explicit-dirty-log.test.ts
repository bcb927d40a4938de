import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ExplicitDirtyLog, GuestMemory, PAGE_SIZE, dirtyBitmapWords } from '../../src/guest/index.js';

function pagesOf(bitmap: Uint32Array, pageCount: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < pageCount; p++) if ((bitmap[p >>> 5]! >>> (p & 31)) & 1) out.push(p);
  return out;
}

test('explicit log: starts all dirty, then reports exactly the marked pages, once', () => {
  const m = new GuestMemory([{ idstr: 'a', sizeBytes: 40 * PAGE_SIZE }, { idstr: 'b', sizeBytes: 30 * PAGE_SIZE }]);
  const log = new ExplicitDirtyLog(m);
  assert.equal(log.kind, 'explicit');
  const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
  assert.equal(into.length, 3);
  assert.equal(log.sync(into), 70, 'every page is dirty before anything was sent');
  assert.deepEqual(pagesOf(into, 96), Array.from({ length: 70 }, (_, i) => i), 'no bit past the last page');
  into.fill(0);
  assert.equal(log.sync(into), 0, 'sync took and cleared');
  for (const p of [0, 31, 32, 69, 40]) log.mark(p);
  log.mark(31);
  assert.equal(log.sync(into), 5);
  assert.deepEqual(pagesOf(into, 70), [0, 31, 32, 40, 69]);
  // Already-pending pages are not new.
  log.mark(31);
  log.mark(1);
  assert.equal(log.sync(into), 1);
  assert.deepEqual(pagesOf(into, 70), [0, 1, 31, 32, 40, 69]);
  log.reset();
  into.fill(0);
  assert.equal(log.sync(into), 70);
  assert.throws(() => log.mark(70), { name: 'InvalidArgumentError', message: /outside the guest/ });
  assert.throws(() => log.sync(new Uint32Array(2)), { name: 'InvalidArgumentError', message: /at least 3 words for 70 pages/ });
});

test('explicit log: write() stores across blocks and marks every page it touched', () => {
  const m = new GuestMemory([{ idstr: 'a', sizeBytes: 2 * PAGE_SIZE }, { idstr: 'b', sizeBytes: 2 * PAGE_SIZE }]);
  const log = new ExplicitDirtyLog(m);
  const into = new Uint32Array(1);
  log.sync(into);
  into.fill(0);
  const src = new Uint8Array(PAGE_SIZE + 10).fill(0xab);
  log.write(2 * PAGE_SIZE - 5, src);
  assert.equal(log.sync(into), 3, 'pages 1, 2, 3');
  assert.deepEqual(pagesOf(into, 4), [1, 2, 3]);
  assert.equal(m.blocks[0]!.bytes[2 * PAGE_SIZE - 6], 0);
  assert.equal(m.blocks[0]!.bytes[2 * PAGE_SIZE - 5], 0xab);
  assert.equal(m.blocks[1]!.bytes[PAGE_SIZE + 4], 0xab);
  assert.equal(m.blocks[1]!.bytes[PAGE_SIZE + 5], 0);
  log.noteSent(0, new Uint8Array(PAGE_SIZE)); // ignored
  assert.throws(() => log.write(4 * PAGE_SIZE - 1, new Uint8Array(2)), { name: 'InvalidArgumentError' });
});

test('explicit log: a writer thread marking while the main thread syncs never loses a page', async () => {
  const pages = 4096;
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * PAGE_SIZE }]);
  const log = new ExplicitDirtyLog(m);
  const into = new Uint32Array(dirtyBitmapWords(pages));
  log.sync(into);
  into.fill(0);
  // data[p] is page p's "content" (a generation number); data[pages] = writer finished.
  const data = new Int32Array(new SharedArrayBuffer((pages + 1) * 4));
  const sent = new Int32Array(pages);
  const worker = new Worker(new URL('./fixtures/mark-worker.js', import.meta.url), {
    workerData: { bitmap: log.shared, data: data.buffer, pages, rounds: 300 },
  });
  const exited = new Promise((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  let syncs = 0;
  const send = (): void => {
    log.sync(into);
    syncs++;
    for (let p = 0; p < pages; p++) {
      if ((into[p >>> 5]! & (1 << (p & 31))) === 0) continue;
      into[p >>> 5] = into[p >>> 5]! & ~(1 << (p & 31)); // clear, then read: a later write re-marks
      sent[p] = Atomics.load(data, p);
    }
  };
  while (Atomics.load(data, pages) === 0) {
    send();
    await new Promise((r) => setImmediate(r));
  }
  await exited;
  send(); // the final pass, writer stopped (QEMU's stop-and-copy)
  let lost = 0;
  for (let p = 0; p < pages; p++) if (sent[p] !== Atomics.load(data, p)) lost++;
  assert.equal(lost, 0, `pages whose last write was never sent (after ${syncs} syncs)`);
  assert.ok(syncs > 2, `the main thread synced while the writer ran (${syncs} syncs)`);
});
