/**
 * The RAM engine against the real stream writer and loader, in one process: whatever the
 * guest writes between passes, and whatever the cache geometry, codec and sizes, the
 * destination ends with the source's memory. This is the cache invariant under test:
 * a wrong cached copy would make a later delta decode into the wrong bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExplicitDirtyLog, GuestMemory, ScanningDirtyLog } from '../../src/guest/index.js';
import type { DirtyLog } from '../../src/guest/index.js';
import { ByteWriter, MigrationStreamWriter, loadMigrationStream } from '../../src/stream/index.js';
import { RamSender } from '../../src/migration/ram-sender.js';
import { MigrationCounters } from '../../src/migration/stats.js';
import { prng } from '../helpers/pages.js';

type Edit = { page: number; kind: 'byte' | 'zero' | 'fill' | 'random' | 'half'; at: number; value: number };

function applyEdit(mem: GuestMemory, log: ExplicitDirtyLog | undefined, e: Edit): void {
  const page = e.page % mem.pageCount;
  const block = mem.blockOfPage(page);
  const base = (page - block.firstPage) * 4096;
  const b = block.bytes;
  if (e.kind === 'byte') b[base + (e.at % 4096)] = e.value;
  else if (e.kind === 'zero') b.fill(0, base, base + 4096);
  else if (e.kind === 'fill') b.fill(e.value, base, base + 4096);
  else if (e.kind === 'half') b.fill(e.value, base, base + 2048);
  else {
    const next = prng(e.value + 1);
    for (let i = 0; i < 4096; i++) b[base + i] = next() & 0xff;
  }
  log?.mark(page);
}

async function migrate(options: { delta: 'xbzrle' | 'xbrle' | null; cacheBytes: number; ways: number; scan: boolean; passes: Edit[][]; blocks: readonly number[] }) {
  const src = new GuestMemory(options.blocks.map((pages, i) => ({ idstr: i === 0 ? 'pc.ram' : `/rom@etc/block${i}`, sizeBytes: pages * 4096 })));
  const init = prng(7);
  for (const blk of src.blocks) for (let i = 0; i < blk.bytes.length; i += 97) blk.bytes[i] = init() & 0xff;
  const explicit = options.scan ? undefined : new ExplicitDirtyLog(src);
  const log: DirtyLog = explicit ?? new ScanningDirtyLog(src);
  const counters = new MigrationCounters();
  const sender = new RamSender(src, log, { delta: options.delta, cacheSizeBytes: options.cacheBytes, cacheWays: options.ways }, counters);
  const chunks: Uint8Array[] = [];
  const bytes = new ByteWriter(async (c) => {
    chunks.push(c);
  }, { chunkBytes: 4096 });
  const w = new MigrationStreamWriter(bytes);
  w.header();
  sender.setup();
  w.ramSetup(2, src.blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.sizeBytes })));
  for (const edits of options.passes) {
    // send part of the dirty set, let the guest write, send the rest, sync: a new pass
    w.sectionPart(2);
    let budget = 3;
    sender.sendPages(w.ram, () => budget-- <= 0, false);
    for (const e of edits) applyEdit(src, explicit, e);
    sender.sendPages(w.ram, () => false, false);
    w.ram.eos();
    w.footer(2);
    sender.sync();
  }
  w.sectionEnd(2);
  sender.sync();
  sender.sendPages(w.ram, () => false, true);
  w.ram.eos();
  w.footer(2);
  w.eof();
  await bytes.flush();
  sender.dispose();
  const dst = new Map<string, Uint8Array>();
  await loadMigrationStream((async function* () { yield* chunks; })(), {
    setupRam: (blocks) => {
      for (const b of blocks) dst.set(b.idstr, new Uint8Array(b.lengthBytes));
      return dst;
    },
  }, { maxRamBytes: 1 << 30 });
  for (const b of src.blocks) assert.deepEqual(dst.get(b.idstr), b.bytes, `block ${b.idstr}`);
  return counters;
}

const edit = fc.record({
  page: fc.nat(200),
  kind: fc.constantFrom('byte' as const, 'byte' as const, 'zero' as const, 'fill' as const, 'random' as const, 'half' as const),
  at: fc.nat(4095),
  value: fc.integer({ min: 0, max: 255 }),
});

test('property: the destination ends with the source memory, whatever the guest writes between passes', () => {
  return fc.assert(
    fc.asyncProperty(
      fc.constantFrom('xbzrle' as const, 'xbrle' as const, null),
      fc.constantFrom(8192, 16384, 65536, 1 << 20),
      fc.constantFrom(1, 2, 4),
      fc.boolean(),
      fc.array(fc.array(edit, { maxLength: 30 }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom([16], [40], [24, 8, 1]),
      async (delta, cacheBytes, ways, scan, passes, blocks) => {
        if (cacheBytes < ways * 4096) return;
        await migrate({ delta, cacheBytes, ways, scan, passes, blocks });
      },
    ),
    { numRuns: 150 },
  );
});

test('with a cache smaller than RAM (QEMU\'s rule), a page rewritten in one byte each pass goes as a few-byte delta from the third pass on', async () => {
  const passes: Edit[][] = [];
  for (let p = 0; p < 4; p++) passes.push(Array.from({ length: 16 }, (_, i) => ({ page: i, kind: 'byte' as const, at: 1234 + i, value: p + 1 })));
  // 64 pages of RAM, a cache of 32: pages are cached from the second pass on
  const c = await migrate({ delta: 'xbzrle', cacheBytes: 32 * 4096, ways: 2, scan: false, passes, blocks: [64] });
  assert.ok(c.cacheMiss >= 16, 'the first re-send of each page misses');
  assert.ok(c.xbzrleRecords >= 16 * 2, `deltas sent: ${c.xbzrleRecords}`);
  assert.ok(c.xbzrleRecordBytes / c.xbzrleRecords < 30, 'each delta record is small');
  assert.equal(c.overflow, 0);
});

test('with a cache that holds all of RAM, pages are cached from the first pass: a page rewritten in one byte goes as a delta from the second pass on', async () => {
  const passes: Edit[][] = [];
  for (let p = 0; p < 4; p++) passes.push(Array.from({ length: 16 }, (_, i) => ({ page: i, kind: 'byte' as const, at: 1234 + i, value: p + 1 })));
  for (const scan of [false, true]) {
    const c = await migrate({ delta: 'xbzrle', cacheBytes: 1 << 20, ways: 2, scan, passes, blocks: [16] });
    assert.equal(c.cacheMiss, 0, 'no re-send misses');
    assert.ok(c.xbzrleRecords >= 16 * 3, `deltas sent: ${c.xbzrleRecords}`);
    assert.ok(c.xbzrleRecordBytes / c.xbzrleRecords < 30, 'each delta record is small');
    assert.equal(c.overflow, 0);
  }
});

test('filled pages go as ZERO records on every path (snapshot, straight from guest RAM, tested in place), near-fills go whole', async () => {
  // a run that starts with fills takes the snapshot path, one that starts varied the direct one;
  // a block of whole 64 KiB is a WebAssembly.Memory, whose pages the SIMD kernel tests in place
  const cases = [[false, true, false], [false, false, false], [true, true, false], [true, false, false], [false, true, true], [false, false, true]] as const;
  for (const [scan, fillsFirst, wasmBlock] of cases) {
    // 8 pages of one byte repeated, 8 varied, two equal at both ends but not in between (at
    // byte 2000, and at byte 40: inside the first 64-byte block), and in a 32-page block 14
    // zero pages after them
    const pages = wasmBlock ? 32 : 18;
    const mem = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * 4096 }]);
    assert.equal(mem.blocks[0]!.wasmMemory !== undefined, wasmBlock);
    const b = mem.blocks[0]!.bytes;
    const fills = fillsFirst ? 0 : 8;
    const varied = fillsFirst ? 8 : 0;
    for (let p = 0; p < 8; p++) b.fill(p * 31, (fills + p) * 4096, (fills + p + 1) * 4096);
    const next = prng(3);
    for (let i = varied * 4096; i < (varied + 8) * 4096; i++) b[i] = next() & 0xff;
    b.fill(9, 16 * 4096, 17 * 4096);
    b[16 * 4096 + 2000] = 10;
    b.fill(5, 17 * 4096, 18 * 4096);
    b[17 * 4096 + 40] = 6;
    const counters = new MigrationCounters();
    const log: DirtyLog = scan ? new ScanningDirtyLog(mem) : new ExplicitDirtyLog(mem);
    const sender = new RamSender(mem, log, { delta: null, cacheSizeBytes: 0, cacheWays: 2 }, counters);
    const chunks: Uint8Array[] = [];
    const out = new ByteWriter(async (c) => {
      chunks.push(c);
    });
    const w = new MigrationStreamWriter(out);
    w.header();
    w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: pages * 4096 }]);
    sender.setup();
    w.sectionEnd(2);
    sender.sendPages(w.ram, () => false, true);
    w.ram.eos();
    w.footer(2);
    w.eof();
    await out.flush();
    sender.dispose();
    const what = `scan ${scan}, fills first ${fillsFirst}, wasm block ${wasmBlock}`;
    assert.equal(counters.duplicate, 8 + pages - 18, what);
    assert.equal(counters.normal, 10, what);
    const dst = new Uint8Array(pages * 4096).fill(0xee); // not zero: every ZERO record must land
    await loadMigrationStream(chunks, { setupRam: () => new Map([['pc.ram', dst]]) }, { maxRamBytes: 1 << 30 });
    assert.deepEqual(dst, b, what);
  }
});

test('the cost of a dirty page is measured on re-sent pages only: a first pass of zero pages leaves it a whole page', async () => {
  const mem = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 512 * 4096 }]);
  const log = new ExplicitDirtyLog(mem);
  const counters = new MigrationCounters();
  // a cache smaller than RAM (256 of 512 pages): QEMU's rule, pages cached from the second pass
  const sender = new RamSender(mem, log, { delta: 'xbzrle', cacheSizeBytes: 1 << 20, cacheWays: 2 }, counters);
  const out = new ByteWriter(async (_c, release) => release());
  const w = new MigrationStreamWriter(out);
  w.header();
  w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: 512 * 4096 }]);
  sender.setup();
  const pass = async (): Promise<void> => {
    w.sectionPart(2);
    sender.sendPages(w.ram, () => false, false);
    w.ram.eos();
    w.footer(2);
    await out.flush();
    sender.sync();
    sender.settleCost();
  };
  await pass(); // 512 zero pages of 9 bytes each
  assert.equal(counters.bytesPerDirtyPage, 4096 + 8, 'zero pages of the first pass must not make dirty pages look cheap');
  // the guest now writes the first byte of 200 pages (stride-like): whole pages (cache misses) ...
  const b = mem.blocks[0]!.bytes;
  for (let p = 0; p < 200; p++) {
    b[p * 4096] = 1;
    log.mark(p);
  }
  sender.sync();
  await pass();
  assert.ok(counters.bytesPerDirtyPage > 4000, `re-sent pages cost ${counters.bytesPerDirtyPage} bytes each`);
  // ... then small deltas once they are cached
  for (let p = 0; p < 200; p++) {
    b[p * 4096] = 2;
    log.mark(p);
  }
  sender.sync();
  await pass();
  assert.ok(counters.bytesPerDirtyPage < 40, `deltas cost ${counters.bytesPerDirtyPage} bytes each`);
  sender.dispose();
});

test('pricing the dirty pages by their fate: a cache far smaller than what is rewritten prices its misses whole, not at the deltas\' mean', async () => {
  const pages = 256;
  const mem = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * 4096 }]);
  const log = new ExplicitDirtyLog(mem);
  const counters = new MigrationCounters();
  // 16 pages of cache, 2-way: at most 16 of the 256 pages can go as deltas
  const sender = new RamSender(mem, log, { delta: 'xbzrle', cacheSizeBytes: 16 * 4096, cacheWays: 2 }, counters);
  const bytes = new ByteWriter(async (_chunk, release) => release());
  const w = new MigrationStreamWriter(bytes);
  w.header();
  w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: pages * 4096 }]);
  const rewrite = (value: number): void => {
    for (let p = 0; p < pages; p++) {
      mem.blocks[0]!.bytes[p * 4096 + 100] = value;
      log.mark(p);
    }
  };
  const pass = async (): Promise<void> => {
    while (sender.remaining > 0) {
      w.sectionPart(2);
      sender.sendPages(w.ram, () => false, false);
      w.ram.eos();
      w.footer(2);
      await bytes.flush();
    }
  };
  sender.setup();
  for (let round = 1; round <= 3; round++) {
    await pass();
    rewrite(round);
    sender.sync();
  }
  assert.ok(counters.xbzrleRecords > 0, 'some pages went as deltas');
  const cached = Array.from({ length: pages }, (_, p) => p).filter((p) => sender.cache!.has(p * 4096)).length;
  assert.ok(cached > 0 && cached <= 16, `${cached} pages cached`);
  const priced = sender.priceRemaining();
  const deltaMean = counters.xbzrleRecordBytes / counters.xbzrleRecords;
  assert.equal(sender.remaining, pages);
  assert.ok(Math.abs(priced - ((pages - cached) * 4104 + cached * deltaMean)) < 1, `priced ${priced}`);
  assert.ok(priced > 200 * 4096, 'the misses are priced whole');
  assert.equal(sender.bytesPerPendingPage, priced / pages);
  sender.dispose();
});
