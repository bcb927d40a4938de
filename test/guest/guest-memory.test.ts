import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GuestMemory, PAGE_SIZE, RamBlock } from '../../src/guest/index.js';
import { KiB, MiB } from './helpers.js';

const invalid = (re: RegExp) => ({ name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message: re });

test('memory: blocks are numbered globally in order, over SharedArrayBuffers', () => {
  const m = new GuestMemory([
    { idstr: 'pc.ram', sizeBytes: 1 * MiB },
    { idstr: 'vga.vram', sizeBytes: 64 * KiB },
    { idstr: '/rom@etc/acpi/tables', sizeBytes: 128 * KiB },
  ]);
  assert.equal(PAGE_SIZE, 4096);
  assert.equal(m.totalBytes, 1 * MiB + 192 * KiB);
  assert.equal(m.pageCount, 256 + 16 + 32);
  assert.deepEqual(m.blocks.map((b) => [b.idstr, b.firstPage, b.pageCount, b.offsetBytes]), [
    ['pc.ram', 0, 256, 0],
    ['vga.vram', 256, 16, 1 * MiB],
    ['/rom@etc/acpi/tables', 272, 32, 1 * MiB + 64 * KiB],
  ]);
  for (const b of m.blocks) {
    assert.ok(b instanceof RamBlock);
    assert.ok(b.bytes.buffer instanceof SharedArrayBuffer);
    assert.ok(b.shared);
    assert.equal(b.bytes.length, b.sizeBytes);
  }
  assert.equal(m.block('vga.vram'), m.blocks[1]);
  assert.equal(m.block('nope'), undefined);
});

test('memory: blocks of whole 64 KiB are WebAssembly memories (zeroed, shared, exactly the block), others plain SharedArrayBuffers', () => {
  const m = new GuestMemory([
    { idstr: 'pc.ram', sizeBytes: 1 * MiB },
    { idstr: 'odd', sizeBytes: 12 * KiB },
  ]);
  const [ram, odd] = m.blocks as [RamBlock, RamBlock];
  assert.ok(ram.wasmMemory instanceof WebAssembly.Memory);
  assert.equal(ram.bytes.buffer, ram.wasmMemory.buffer);
  assert.equal(ram.wasmMemory.buffer.byteLength, 1 * MiB);
  assert.ok(ram.shared && ram.bytes.every((b) => b === 0));
  assert.equal(odd.wasmMemory, undefined);
  assert.ok(odd.shared && odd.bytes.length === 12 * KiB);
  // a worker re-attaching by buffer sees the same bytes, and exactly the block's
  ram.bytes[5 * PAGE_SIZE + 7] = 42;
  const again = GuestMemory.fromShared([{ idstr: 'pc.ram', sab: ram.bytes.buffer as SharedArrayBuffer }]);
  assert.equal(again.blocks[0]!.sizeBytes, 1 * MiB);
  assert.equal(again.blocks[0]!.bytes[5 * PAGE_SIZE + 7], 42);
});

test('memory: blockOfPage finds the block of every page and rejects pages outside', () => {
  const m = new GuestMemory([
    { idstr: 'a', sizeBytes: 3 * PAGE_SIZE },
    { idstr: 'b', sizeBytes: 1 * PAGE_SIZE },
    { idstr: 'c', sizeBytes: 5 * PAGE_SIZE },
  ]);
  const expect = ['a', 'a', 'a', 'b', 'c', 'c', 'c', 'c', 'c'];
  expect.forEach((id, p) => {
    assert.equal(m.blockOfPage(p).idstr, id);
    assert.equal(m.blockIndexOfPage(p), m.blocks.findIndex((b) => b.idstr === id));
  });
  for (const bad of [-1, 9, 1.5, NaN]) assert.throws(() => m.blockOfPage(bad), invalid(/outside the guest/));
});

test('memory: bad specs are refused with clear errors, before anything is allocated', () => {
  assert.throws(() => new GuestMemory([]), invalid(/at least one RAM block/));
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4096 }, { idstr: 'pc.ram', sizeBytes: 4096 }]), invalid(/duplicate idstr "pc.ram"/));
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4097 }]), invalid(/4097 is not a multiple of the page size 4096/));
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 0 }]), invalid(/positive integer/));
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: -4096 }]), invalid(/positive integer/));
  assert.throws(() => new GuestMemory([{ idstr: '', sizeBytes: 4096 }]), invalid(/0 bytes of UTF-8, must be 1\.\.255/));
  assert.throws(() => new GuestMemory([{ idstr: 'é'.repeat(128), sizeBytes: 4096 }]), invalid(/256 bytes of UTF-8/));
  assert.doesNotThrow(() => new GuestMemory([{ idstr: 'x'.repeat(255), sizeBytes: 4096 }]));
  // The last block is invalid: the huge first one must not be allocated first.
  assert.throws(() => new GuestMemory([{ idstr: 'big', sizeBytes: 2 ** 40 }, { idstr: 'bad', sizeBytes: 1 }]), invalid(/"bad"/));
  assert.throws(() => new GuestMemory(null as unknown as []), invalid(/array/));
});

test('memory: digest is sha256 over all blocks in order', () => {
  const m = new GuestMemory([{ idstr: 'a', sizeBytes: 2 * PAGE_SIZE }, { idstr: 'b', sizeBytes: PAGE_SIZE }]);
  m.blocks[0]!.bytes[5] = 1;
  m.blocks[1]!.bytes[4095] = 2;
  const all = new Uint8Array(3 * PAGE_SIZE);
  all[5] = 1;
  all[3 * PAGE_SIZE - 1] = 2;
  assert.equal(m.digest(), createHash('sha256').update(all).digest('hex'));
});

test('memory: fromShared aliases the buffers; wrap describes any Uint8Array without copying', () => {
  const src = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * PAGE_SIZE }]);
  const again = GuestMemory.fromShared(src.blocks.map((b) => ({ idstr: b.idstr, sab: b.bytes.buffer as SharedArrayBuffer })));
  again.blocks[0]!.bytes[100] = 7;
  assert.equal(src.blocks[0]!.bytes[100], 7);
  assert.throws(() => GuestMemory.fromShared([{ idstr: 'x', sab: new ArrayBuffer(4096) as unknown as SharedArrayBuffer }]), invalid(/not a SharedArrayBuffer/));

  const wasm = new WebAssembly.Memory({ initial: 1 });
  const w = GuestMemory.wrap([{ idstr: 'wasm.heap', bytes: new Uint8Array(wasm.buffer) }]);
  assert.equal(w.pageCount, 16);
  assert.equal(w.blocks[0]!.shared, false);
  new Uint8Array(wasm.buffer)[0] = 9;
  assert.equal(w.blocks[0]!.bytes[0], 9);
  assert.throws(() => GuestMemory.wrap([{ idstr: 'odd', bytes: new Uint8Array(5000) }]), invalid(/multiple of the page size/));
  assert.throws(() => GuestMemory.wrap([{ idstr: 'u', bytes: new Uint8Array(8192).subarray(4, 4100) }]), invalid(/not 8-byte aligned/));
});

test('memory: ioBytes sets an I/O area aside in the largest block\'s WebAssembly.Memory, after its bytes', () => {
  const m = new GuestMemory([
    { idstr: 'rom', sizeBytes: 128 * KiB },
    { idstr: 'pc.ram', sizeBytes: 1 * MiB },
    { idstr: 'odd', sizeBytes: 12 * KiB }, // not whole 64 KiB pages: a plain SharedArrayBuffer
  ], { ioBytes: 100 * KiB });
  const io = m.ioArea;
  assert.ok(io !== undefined);
  assert.equal(io.block, m.block('pc.ram'));
  assert.equal(io.bytes.length, 128 * KiB, 'rounded up to whole 64 KiB pages');
  assert.equal(io.bytes.buffer, io.block.bytes.buffer, 'in the block\'s own memory');
  assert.equal(io.bytes.byteOffset, io.block.bytes.byteOffset + io.block.sizeBytes, 'after the block, not over it');
  // the blocks stay their size; the area is zero and apart from them
  assert.deepEqual(m.blocks.map((b) => b.bytes.length), [128 * KiB, 1 * MiB, 12 * KiB]);
  io.bytes.fill(0xee);
  assert.ok(m.blocks.every((b) => b.bytes.every((x) => x === 0)), 'writing the area changed a block');
  assert.equal(new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }]).ioArea, undefined, 'none unless asked for');
  assert.equal(new GuestMemory([{ idstr: 'odd', sizeBytes: 12 * KiB }], { ioBytes: 64 * KiB }).ioArea, undefined, 'none where no block has a WebAssembly.Memory');
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }], { ioBytes: -1 }), invalid(/ioBytes must be a whole number of bytes >= 0, got -1/));
  assert.throws(() => new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 * MiB }], { ioBytes: 1.5 }), invalid(/ioBytes/));
});
