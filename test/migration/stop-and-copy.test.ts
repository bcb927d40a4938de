/**
 * The stop-and-copy pass hands its pages to the transport in pieces: every 1024 pages even when
 * they are a few bytes each (ZERO records, deltas), every megabyte when they are whole pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExplicitDirtyLog, GuestMemory } from '../../src/guest/index.js';
import { OutgoingStream } from '../../src/migration/outgoing-stream.js';
import { RamSender } from '../../src/migration/ram-sender.js';
import { MigrationCounters } from '../../src/migration/stats.js';
import { DOWNTIME_FLUSH_PAGES, FLUSH_BYTES, sendStopAndCopyPages } from '../../src/migration/stop-and-copy.js';
import { loadMigrationStream } from '../../src/stream/index.js';
import { prng } from '../helpers/pages.js';

const PAGE = 4096;

async function stopAndCopy(pages: number, fill: (ram: Uint8Array) => void): Promise<{ chunks: Uint8Array[]; flushes: number[]; ram: Uint8Array; sent: number }> {
  const mem = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: pages * PAGE }]);
  fill(mem.blocks[0]!.bytes);
  const counters = new MigrationCounters();
  const sender = new RamSender(mem, new ExplicitDirtyLog(mem), { delta: null, cacheSizeBytes: 0, cacheWays: 2 }, counters);
  const chunks: Uint8Array[] = [];
  const out = new OutgoingStream(async (c, release) => {
    chunks.push(c.slice());
    release();
  });
  out.header();
  out.ramSetup(mem);
  sender.setup();
  sender.sync();
  out.sectionEnd(2);
  /** Pages sent at each flush (afterBatch runs before and after each). */
  const flushes: number[] = [];
  let batches = 0;
  await sendStopAndCopyPages(sender, out, counters, {
    beforeBatch: () => batches++,
    afterBatch: () => flushes.push(counters.pagesSent),
    halted: () => false,
  });
  out.ramEos();
  out.footer(2);
  out.eof();
  await out.flush();
  sender.dispose();
  assert.equal(flushes.length, 2 * batches);
  return { chunks, flushes: flushes.filter((_, i) => i % 2 === 1), ram: mem.blocks[0]!.bytes, sent: counters.pagesSent };
}

async function landed(chunks: Uint8Array[], pages: number): Promise<Uint8Array> {
  const dst = new Uint8Array(pages * PAGE).fill(0xee); // not zero: every ZERO record must land
  await loadMigrationStream(chunks, { setupRam: () => new Map([['pc.ram', dst]]) }, { maxRamBytes: 1 << 30 });
  return dst;
}

test('stop-and-copy: pages of a few bytes each are flushed every DOWNTIME_FLUSH_PAGES pages', async () => {
  const pages = 4 * DOWNTIME_FLUSH_PAGES + 100;
  const r = await stopAndCopy(pages, (ram) => {
    for (let p = 0; p < pages; p++) ram.fill(p % 7, p * PAGE, (p + 1) * PAGE);
  });
  assert.equal(r.sent, pages);
  // 9-byte records: far below FLUSH_BYTES, so only the page count cuts the pass
  assert.deepEqual(r.flushes, [1, 2, 3, 4].map((k) => k * DOWNTIME_FLUSH_PAGES).concat([pages]));
  assert.deepEqual(await landed(r.chunks, pages), r.ram);
});

test('stop-and-copy: whole pages are flushed every FLUSH_BYTES, before DOWNTIME_FLUSH_PAGES', async () => {
  const pages = 700;
  const next = prng(11);
  const r = await stopAndCopy(pages, (ram) => {
    for (let i = 0; i < ram.length; i++) ram[i] = next() & 0xff;
  });
  assert.equal(r.sent, pages);
  const perFlush = Math.ceil(FLUSH_BYTES / (PAGE + 8));
  assert.ok(r.flushes.length >= Math.floor(pages / perFlush), `flushes at ${r.flushes.join(', ')}`);
  for (let i = 1; i < r.flushes.length; i++) assert.ok(r.flushes[i]! - r.flushes[i - 1]! <= perFlush + 64, `flushes at ${r.flushes.join(', ')}`);
  assert.deepEqual(await landed(r.chunks, pages), r.ram);
});
