import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, PAGE_SIZE, checkStride } from '../../src/guest/index.js';

function memoryWith(byte0: number[], blocks = 1): GuestMemory {
  const per = byte0.length / blocks;
  const m = new GuestMemory(Array.from({ length: blocks }, (_, i) => ({ idstr: `b${i}`, sizeBytes: per * PAGE_SIZE })));
  byte0.forEach((v, g) => {
    const b = m.blockOfPage(g);
    b.bytes[(g - b.firstPage) * PAGE_SIZE] = v;
  });
  return m;
}

test('checkStride: all equal, or one boundary with the pages before it one ahead (mod 256)', () => {
  const flat = checkStride(memoryWith([5, 5, 5, 5]));
  assert.equal(flat.ok, true);
  assert.equal(flat.boundaryPage, undefined);
  assert.match(flat.message, /passed: 4 pages, first byte 0x5, no boundary/);
  const mid = checkStride(memoryWith([6, 6, 5, 5, 5, 5], 2));
  assert.deepEqual([mid.ok, mid.boundaryPage], [true, 2]);
  const wrap = checkStride(memoryWith([0, 0, 0, 255]));
  assert.deepEqual([wrap.ok, wrap.boundaryPage], [true, 3], 'c + 1 wraps to 0');
});

test('checkStride: a stale page, a page ahead of its predecessor, or two boundaries fail', () => {
  for (const bad of [
    [6, 6, 5, 6],
    [5, 6, 6, 6],
    [7, 6, 5, 5],
    [5, 5, 9, 5],
  ]) {
    const r = checkStride(memoryWith(bad));
    assert.equal(r.ok, false, `${bad}`);
    assert.match(r.message, /Memory content inconsistency at page 0x\d+ .* first_byte = 0x[0-9a-f]+ last_byte = 0x[0-9a-f]+ current = 0x[0-9a-f]+ hit_edge = [01]/);
  }
});

test('checkStride: checks only the region given', () => {
  const m = memoryWith([9, 9, 4, 4, 3, 3, 1, 0]);
  assert.equal(checkStride(m).ok, false);
  assert.equal(checkStride(m, { offsetBytes: 2 * PAGE_SIZE, sizeBytes: 4 * PAGE_SIZE }).ok, true);
  assert.equal(checkStride(m, { offsetBytes: 2 * PAGE_SIZE, sizeBytes: 4 * PAGE_SIZE }).boundaryPage, 4);
  assert.throws(() => checkStride(m, { offsetBytes: 100 }), { name: 'InvalidArgumentError' });
});
