/**
 * The I/O area livemig sets aside beside a guest's RAM: a destination's reader and a source's
 * writer take parts of it that never overlap (a guest that arrived and leaves again uses both),
 * each with an in-place copy over the RAM's memory; a memory without an area gives neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../src/guest/index.js';
import { IO_AREA_BYTES } from '../../src/migration/index.js';
import { hashSlotOf, ioAreaOf } from '../../src/migration/io-area.js';

test('ioAreaOf, hashSlotOf: the reader\'s and the writer\'s parts and the hash slot lie in the RAM\'s memory, apart', () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }], { ioBytes: IO_AREA_BYTES });
  const read = ioAreaOf(memory, 'read')!;
  const write = ioAreaOf(memory, 'write')!;
  const ram = memory.blocks[0]!.bytes;
  for (const part of [read, write]) {
    assert.equal(part.bytes.buffer, ram.buffer);
    assert.ok(part.bytes.byteOffset >= ram.byteOffset + ram.length, 'a part overlaps the RAM');
  }
  assert.ok(read.bytes.byteOffset + read.bytes.length <= write.bytes.byteOffset, 'the parts overlap');
  const slot = hashSlotOf(memory)!;
  assert.equal(slot.block, memory.blocks[0]);
  assert.equal(slot.bytes.length, 16);
  assert.equal(slot.bytes.buffer, ram.buffer);
  assert.ok(slot.bytes.byteOffset >= write.bytes.byteOffset + write.bytes.length, 'the hash slot overlaps the writer\'s part');
  assert.ok(slot.bytes.byteOffset + 16 <= memory.ioArea!.bytes.byteOffset + memory.ioArea!.bytes.length);
  assert.equal(hashSlotOf(new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }])), undefined);
  assert.ok(read.bytes.length >= 6 << 20, 'room for the reader\'s six 1 MiB buffers');
  assert.ok(write.bytes.length >= 8 * ((256 << 10) + 8), 'room for the writer\'s eight chunks');
  // the copy works by addresses in that memory
  ram.fill(9, 0, 100);
  write.copy(write.bytes.byteOffset, ram.byteOffset, 100);
  assert.ok(write.bytes.subarray(0, 100).every((b) => b === 9));
  assert.equal(ioAreaOf(new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }]), 'read'), undefined);
  assert.equal(ioAreaOf(new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }], { ioBytes: 1 << 20 }), 'write'), undefined, 'an area too small for both parts is not used');
  assert.equal(ioAreaOf(undefined, 'read'), undefined);
});
