/**
 * The engine warm-up `livemig run` and `livemig incoming` do at start-up: it sends a small
 * guest over several passes (zero, whole and XBZRLE pages) and loads it back, and it must
 * refuse to pass when the RAM loaded back differs from the RAM sent, in memory or in the small
 * migrations it also makes through the real engine over loopback tcp.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUpEngine } from '../../src/migration/index.js';
import { warmUpRetained } from '../../src/migration/warm-up.js';
import { warmUpMigrations } from '../../src/migration/warm-up-migration.js';
import { learnedFixedCosts, resetLearnedFixedCosts } from '../../src/migration/downtime-estimate.js';
import { LandedPageHashes } from '../../src/guest/index.js';
import { LivemigError } from '../../src/errors.js';
import { RamRecordWriter } from '../../src/stream/index.js';

test('warmUpEngine sends and loads a 4 MiB guest, every page kind, with each delta codec, and checks it', async () => {
  const r = await warmUpEngine();
  assert.ok(r.ms > 0);
  // each round: the random half goes whole twice (pass 1; pass 2, the cache's misses), then
  // as small deltas; the zero half as 9-byte records
  assert.ok(r.streamBytes > 8 * 1024 * 1024 && r.streamBytes < 9 * 1024 * 1024, `stream of ${r.streamBytes} bytes`);
});

test('warmUpEngine keeps its objects alive (compiled code depends on them), the last run\'s only', async () => {
  await warmUpEngine();
  const kept = warmUpRetained();
  assert.ok(kept > 0, 'nothing kept: the first GC would throw the compiled code away');
  await warmUpEngine();
  assert.equal(warmUpRetained(), kept, 'a second warm-up must replace what the first kept, not add to it');
});

test('warmUpEngine fails, naming the self-check, when a page does not reach the RAM it was sent for', async (t) => {
  // whole page 0 goes to page 1 instead: the stream stays valid, only the RAM differs
  const page = RamRecordWriter.prototype.page;
  t.mock.method(RamRecordWriter.prototype, 'page', function (this: RamRecordWriter, idstr: string, offset: number, bytes: Uint8Array): number {
    return page.call(this, idstr, offset === 0 ? 4096 : offset, bytes);
  });
  await assert.rejects(warmUpEngine(), (e: unknown) => e instanceof LivemigError && /engine self-check failed/.test(e.message));
});

test('warmUpEngine also migrates a small machine through the real engine over loopback tcp', async () => {
  const r = await warmUpEngine();
  // six migrations of 4 MiB, three quarters random (sent whole), the rest ZERO records
  assert.ok(r.socketBytes > 6 * 3 * 1024 * 1024, `${r.socketBytes} bytes through the socket`);
});

test('the warm-up migrations teach later migrations nothing: their toy costs are not learned', async () => {
  resetLearnedFixedCosts();
  const r = await warmUpMigrations(2);
  assert.ok(r.bytes > 0, 'the migrations went through');
  // a migration that completes with the check folds its costs in for the next one; these must not
  assert.equal(learnedFixedCosts('page128'), undefined);
  assert.equal(learnedFixedCosts('none'), undefined);
});

test('the warm-up migrations fail, naming the self-check, when a page does not reach the RAM it was sent for', async (t) => {
  const good = await warmUpMigrations(1);
  assert.ok(good.bytes > 3 * 1024 * 1024 && good.keep.length > 0, 'a migration goes through when nothing is wrong');
  // a whole page sent from RAM for page 0 goes to page 1 instead: the stream stays valid, the RAM check fails
  const pageAt = RamRecordWriter.prototype.pageAt;
  t.mock.method(RamRecordWriter.prototype, 'pageAt', function (this: RamRecordWriter, idstr: string, offset: number, mem: Uint8Array, at: number): number {
    return pageAt.call(this, idstr, offset === 0 ? 4096 : offset, mem, at);
  });
  await assert.rejects(warmUpMigrations(1), (e: unknown) => e instanceof LivemigError && /engine self-check failed: a warm-up migration.*ended failed/.test(e.message));
});

test('the warm-up migrations fail, naming the self-check, when a landed page is hashed wrong', async (t) => {
  // page 3's landing is reported as page 2's: the RAM is right, the destination's record of what landed is not
  const landed = LandedPageHashes.prototype.landed;
  t.mock.method(LandedPageHashes.prototype, 'landed', function (this: LandedPageHashes, idstr: string, offset: number, fill?: number): void {
    landed.call(this, idstr, offset === 3 * 4096 ? 2 * 4096 : offset, fill);
  });
  await assert.rejects(warmUpMigrations(1), (e: unknown) => e instanceof LivemigError && /engine self-check failed: a warm-up migration.*ended failed/.test(e.message));
});
