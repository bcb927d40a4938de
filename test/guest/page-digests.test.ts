import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestMemory, LandedPageHashes, differingChunks } from '../../src/guest/index.js';
import { chunkDigests, page128Digest } from '../../src/codec/page-hash128.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), block: fc.integer({ min: 0, max: 1 }), page: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), at: fc.integer({ min: 0, max: 4095 }) }),
  fc.record({ kind: fc.constant('fill' as const), block: fc.integer({ min: 0, max: 1 }), page: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('flush' as const) }),
  fc.record({ kind: fc.constant('hash-pages' as const) }),
);

test('LandedPageHashes: the chunk table after any landings is the reference\'s over the RAM', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.array(op, { maxLength: 60 }), (startsZero, withSlot, ops) => {
      // a WebAssembly.Memory block (hashed in place) and one that is not (the TypeScript
      // reference); the first with an I/O area, where its hashes may go through a slot
      const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }, { idstr: 'rom', sizeBytes: 70 * 4096 }], { ioBytes: 65536 });
      if (!startsZero) for (const b of memory.blocks) b.bytes.fill(7);
      const io = memory.ioArea!;
      const landed = new LandedPageHashes(memory, startsZero, withSlot ? { block: io.block, bytes: io.bytes.subarray(4096, 4112) } : undefined);
      for (const o of ops) {
        if (o.kind === 'flush' || o.kind === 'hash-pages') {
          if (o.kind === 'flush') landed.flush();
          else landed.hashPages(); // pages hashed, their chunks combined at the next flush
          continue;
        }
        const b = memory.blocks[o.block]!;
        const page = o.page % b.pageCount;
        const bytes = b.bytes.subarray(page * 4096, page * 4096 + 4096);
        if (o.kind === 'data') {
          bytes[o.at] = o.byte;
          landed.landed(b.idstr, page * 4096);
        } else {
          bytes.fill(o.byte);
          landed.landed(b.idstr, page * 4096, o.byte);
        }
      }
      const want = new Int32Array(landed.chunkCount * 4);
      chunkDigests(memory.blocks.map((b) => b.bytes), [], 0, landed.chunkCount, want);
      assert.deepEqual(differingChunks(landed.chunkTable(), want), []);
      assert.equal(landed.root(), page128Digest(memory.blocks.map((b) => b.bytes)));
    }),
    { numRuns: 60 },
  );
});

test('LandedPageHashes: a page changed behind its back is not seen (it trusts what landed) until it lands again', () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }]);
  const landed = new LandedPageHashes(memory, true);
  const before = landed.root();
  memory.blocks[0]!.bytes[5 * 4096 + 1] = 1;
  assert.equal(landed.root(), before);
  landed.landed('pc.ram', 5 * 4096);
  assert.notEqual(landed.root(), before);
  assert.deepEqual(differingChunks(landed.chunkTable(), new LandedPageHashes(new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }]), true).chunkTable()), [0]);
});

test('LandedPageHashes: a result slot must be 16 4-aligned bytes in a block\'s WebAssembly.Memory', () => {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1 << 20 }], { ioBytes: 65536 });
  const io = memory.ioArea!;
  const bad = (slot: { block: GuestMemory['blocks'][number]; bytes: Uint8Array }) => assert.throws(() => new LandedPageHashes(memory, true, slot), /the slot must be 16 4-aligned bytes/);
  bad({ block: io.block, bytes: new Uint8Array(16) }); // another memory
  bad({ block: io.block, bytes: io.bytes.subarray(2, 18) }); // not 4-aligned
  bad({ block: io.block, bytes: io.bytes.subarray(0, 8) }); // too short
  bad({ block: new GuestMemory([{ idstr: 'x', sizeBytes: 1 << 20 }]).blocks[0]!, bytes: io.bytes.subarray(0, 16) }); // not this memory's block
});
