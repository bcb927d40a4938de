import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkPacer, checkParameter } from '../../src/migration/index.js';
import { canTransition, assertTransition } from '../../src/migration/state.js';

test('link pacer: bytes go no faster than the link', async () => {
  const p = new LinkPacer(1_000_000);
  const t = performance.now();
  for (let i = 0; i < 5; i++) await p.wait(20_000);
  const ms = performance.now() - t;
  assert.ok(ms >= 90, `100 kB at 1 MB/s took ${ms} ms`);
});

test('state table: only the listed transitions', () => {
  assert.equal(canTransition('none', 'setup'), true);
  assert.equal(canTransition('active', 'completed'), false);
  assert.equal(canTransition('completed', 'active'), false);
  assert.throws(() => assertTransition('failed', 'active'), /cannot go from 'failed' to 'active'/);
});

test("parameters: QEMU's checks and messages", () => {
  assert.equal(checkParameter('xbzrle-cache-size', 4096), 4096);
  assert.throws(() => checkParameter('xbzrle-cache-size', 3 * 1024 * 1024), /expects a power of two no less than the target page size/);
  assert.throws(() => checkParameter('xbzrle-cache-size', 2048), /power of two/);
  assert.throws(() => checkParameter('downtime-limit', 2_000_001), /in the range of 0 to \(2000 \* 1000\) ms/);
  assert.throws(() => checkParameter('max-bandwidth', -1), /whole number/);
  assert.throws(() => checkParameter('max-bandwidth', 1.5), /whole number/);
  assert.throws(() => checkParameter('cache-ways', 0), /1 to 64/);
  assert.throws(() => checkParameter('delta-codec', 'gzip'), /xbzrle or xbrle/);
  assert.throws(() => checkParameter('stall-policy', 'wait'), /force or cancel/);
});
