import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { GuestMemory, PAGE_SIZE, ScanningDirtyLog, dirtyBitmapWords } from '../../src/guest/index.js';
import type { ScanMethod } from '../../src/guest/index.js';
import { MiB } from './helpers.js';

function pageView(m: GuestMemory, g: number): Uint8Array {
  const b = m.blockOfPage(g);
  const off = (g - b.firstPage) * PAGE_SIZE;
  return b.bytes.subarray(off, off + PAGE_SIZE);
}

/** Notes every page as sent with its current content, and clears `into`. */
function sendAll(m: GuestMemory, log: ScanningDirtyLog, into: Uint32Array): void {
  for (let g = 0; g < m.pageCount; g++) log.noteSent(g, pageView(m, g).slice());
  into.fill(0);
}

for (const method of ['hash', 'compare'] as ScanMethod[]) {
  test(`scan log (${method}): unsent pages are dirty; sent pages are dirty exactly when they differ`, () => {
    const m = new GuestMemory([{ idstr: 'a', sizeBytes: 20 * PAGE_SIZE }, { idstr: 'b', sizeBytes: 20 * PAGE_SIZE }]);
    m.blocks[0]!.bytes.set(randomBytes(20 * PAGE_SIZE));
    const log = new ScanningDirtyLog(m, { method });
    assert.equal(log.kind, 'scan');
    assert.equal(log.method, method);
    const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
    assert.equal(log.sync(into), 40);
    assert.equal(log.bytesScanned, 0, 'nothing sent yet: nothing to compare');
    sendAll(m, log, into);
    assert.equal(log.sync(into), 0);
    assert.equal(log.bytesScanned, 40 * PAGE_SIZE);
    m.blocks[0]!.bytes[5 * PAGE_SIZE + 4095] ^= 1;
    m.blocks[1]!.bytes[0] = 1;
    assert.equal(log.sync(into), 2);
    assert.deepEqual([into[0], into[1]], [(1 << 5) | (1 << 20), 0], 'page 5 of block a, page 0 of block b = global page 20');
    assert.equal(log.sync(into), 0, 'already pending: not new, and not scanned again');
    // The page goes back to its sent content: no longer differs.
    m.blocks[0]!.bytes[5 * PAGE_SIZE + 4095] ^= 1;
    into.fill(0);
    assert.equal(log.sync(into), 1);
    assert.equal(into[0], 1 << 20, 'page 5 is back to what was sent; page 20 still differs');
    // Noting page 20 as sent (with its new content) cleans it.
    log.noteSent(20, pageView(m, 20));
    into.fill(0);
    assert.equal(log.sync(into), 0);
    // noteSent from an unaligned snapshot (a view at any offset) works.
    m.blocks[1]!.bytes[PAGE_SIZE + 3] = 9;
    const buf = new Uint8Array(PAGE_SIZE + 1);
    buf.set(pageView(m, 21), 1);
    log.noteSent(21, buf.subarray(1));
    assert.equal(log.sync(into), 0);
    log.reset();
    assert.equal(log.sync(into), 40);
    assert.ok(log.lastSyncMs >= 0 && log.syncCount === 8);
    assert.throws(() => log.noteSent(40, new Uint8Array(PAGE_SIZE)), { name: 'InvalidArgumentError', message: /outside the guest/ });
    assert.throws(() => log.noteSent(0, new Uint8Array(100)), { name: 'InvalidArgumentError', message: /expected 4096 bytes, got 100/ });
  });

  test(`scan log (${method}): misses nothing: every single-bit flip of a page, and random multi-byte changes`, () => {
    const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: PAGE_SIZE }]);
    const bytes = m.blocks[0]!.bytes;
    bytes.set(randomBytes(PAGE_SIZE));
    const log = new ScanningDirtyLog(m, { method });
    const into = new Uint32Array(1);
    sendAll(m, log, into);
    let missed = 0;
    for (let bit = 0; bit < PAGE_SIZE * 8; bit++) {
      bytes[bit >>> 3] ^= 1 << (bit & 7);
      into[0] = 0;
      if (log.sync(into) !== 1) missed++;
      bytes[bit >>> 3] ^= 1 << (bit & 7);
    }
    assert.equal(missed, 0, 'single-bit flips missed');
    // Structured pairs that defeat a plain multiply-xor hash: bit 31 of two neighbouring words.
    const words = new Int32Array(bytes.buffer);
    for (let w = 0; w < 1023; w++) {
      words[w] ^= 0x80000000;
      words[w + 1] ^= 0x80000000;
      into[0] = 0;
      if (log.sync(into) !== 1) missed++;
      words[w] ^= 0x80000000;
      words[w + 1] ^= 0x80000000;
    }
    assert.equal(missed, 0, 'paired high-bit flips missed');
    const saved = bytes.slice();
    for (let trial = 0; trial < 2000; trial++) {
      const n = 1 + (trial % 16);
      for (let k = 0; k < n; k++) bytes[(trial * 7919 + k * 131) & 4095] ^= 1 + ((trial + k) % 255);
      into[0] = 0;
      const changed = !bytes.every((v, i) => v === saved[i]);
      if (log.sync(into) !== (changed ? 1 : 0)) missed++;
      bytes.set(saved);
    }
    assert.equal(missed, 0, 'multi-byte changes missed');
  });
}

test('scan log: bad method is refused', () => {
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: PAGE_SIZE }]);
  assert.throws(() => new ScanningDirtyLog(m, { method: 'crc' as ScanMethod }), { name: 'InvalidArgumentError', message: /'hash' or 'compare'/ });
});

test('scan log: works over a WebAssembly.Memory that nobody instruments', () => {
  const wasm = new WebAssembly.Memory({ initial: 2 });
  const m = GuestMemory.wrap([{ idstr: 'wasm.heap', bytes: new Uint8Array(wasm.buffer) }]);
  const log = new ScanningDirtyLog(m);
  const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
  sendAll(m, log, into);
  new Uint8Array(wasm.buffer)[17 * PAGE_SIZE + 100] = 1;
  assert.equal(log.sync(into), 1);
  assert.equal(into[0], 1 << 17);
});

test('scan log: cost per GiB scanned, against a plain copy of the same memory', (t) => {
  const size = 32 * MiB;
  const m = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: size }]);
  const bytes = m.blocks[0]!.bytes;
  for (let i = 0; i < size; i += 4096) bytes.set(randomBytes(64), i);
  const copy = new Uint8Array(size);
  const best = (f: () => void): number => {
    let ms = Infinity;
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      f();
      ms = Math.min(ms, performance.now() - t0);
    }
    return ms;
  };
  const copyMs = best(() => copy.set(bytes));
  const into = new Uint32Array(dirtyBitmapWords(m.pageCount));
  const perGiB = (ms: number): number => (ms * (1024 * MiB)) / size;
  const results: string[] = [`copy ${perGiB(copyMs).toFixed(0)} ms/GiB`];
  for (const method of ['hash', 'compare'] as ScanMethod[]) {
    const log = new ScanningDirtyLog(m, { method });
    sendAll(m, log, into);
    const ms = best(() => {
      into.fill(0);
      log.sync(into);
    });
    assert.equal(log.sync(into), 0);
    results.push(`${method} ${perGiB(ms).toFixed(0)} ms/GiB (${(ms / copyMs).toFixed(1)}x copy)`);
  }
  t.diagnostic(`scan log over ${size / MiB} MiB, all pages clean (worst case: all compared): ${results.join('; ')}`);
});

test('syncRange: slices covering the guest find what one sync finds, and nothing outside their range', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 64 }), fc.integer({ min: 1, max: 70 }), (written, slice) => {
      const make = (): { memory: GuestMemory; log: ScanningDirtyLog; bitmap: Uint32Array } => {
        const memory = new GuestMemory([{ idstr: 'a', sizeBytes: 24 * 4096 }, { idstr: 'b', sizeBytes: 40 * 4096 }]);
        const log = new ScanningDirtyLog(memory);
        for (let p = 0; p < 64; p++) log.noteSent(p, new Uint8Array(4096));
        for (const p of written) memory.blockOfPage(p).bytes[(p - memory.blockOfPage(p).firstPage) * 4096 + 7] = 1;
        return { memory, log, bitmap: new Uint32Array(2) };
      };
      const whole = make();
      const added = whole.log.sync(whole.bitmap);
      const sliced = make();
      let sum = 0;
      for (let first = 0; first < 64; first += slice) {
        const before = Array.from(sliced.bitmap);
        sum += sliced.log.syncRange(sliced.bitmap, first, Math.min(64, first + slice));
        for (let p = 0; p < 64; p++) {
          if (p >= first && p < first + slice) continue;
          assert.equal((sliced.bitmap[p >>> 5]! >>> (p & 31)) & 1, (before[p >>> 5]! >>> (p & 31)) & 1, `page ${p} outside the range changed`);
        }
      }
      assert.equal(sum, added);
      assert.equal(added, written.length);
      assert.deepEqual(Array.from(sliced.bitmap), Array.from(whole.bitmap));
    }),
  );
  const memory = new GuestMemory([{ idstr: 'a', sizeBytes: 4 * 4096 }]);
  assert.throws(() => new ScanningDirtyLog(memory).syncRange(new Uint32Array(1), 2, 5), { name: 'InvalidArgumentError', message: /page range 2\.\.5 is outside the guest/ });
});
