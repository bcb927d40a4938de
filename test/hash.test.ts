import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { updateHash } from '../src/hash.js';

test('updateHash: hashing in pieces gives the one-shot digest, whatever the piece size', () => {
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 31 + 7) & 0xff);
  const whole = createHash('sha256').update(bytes).digest('hex');
  for (const piece of [1, 7, 4096, 9_999, 10_000, 1 << 20]) {
    assert.equal(updateHash(createHash('sha256'), bytes, piece).digest('hex'), whole, `piece ${piece}`);
  }
  assert.equal(updateHash(createHash('sha256'), new Uint8Array(0)).digest('hex'), createHash('sha256').digest('hex'));
});
