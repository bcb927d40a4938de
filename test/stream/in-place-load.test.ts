/**
 * Loading a stream read into buffers beside the RAM (a destination's pooled reader over
 * GuestMemory.ioArea): a whole page whose record lies in the RAM block's own memory goes in
 * with the target's in-place copy. The RAM must be what any other load gives, however the
 * stream is cut into reads (a record that straddles two reads is gathered elsewhere first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inPlaceCopy } from '../../src/codec/index.js';
import { loadMigrationStream } from '../../src/stream/index.js';
import type { LoadTarget, RamBlockInfo } from '../../src/stream/index.js';
import { DEFAULT_MAX_RAM, load, RecordingTarget } from './helpers.js';
import { RICH, scenarioArb, writeScenario } from './scenario.js';

const WASM_PAGE = 65536;

/** Read buffers, as a pooled reader's: two, used in turn; in the RAM's memory once it exists. */
const READ_BYTES = 64 * 1024;

async function loadInPlace(bytes: Uint8Array, sizes: readonly number[], ramBlock: string): Promise<{ target: RecordingTarget; copies: number }> {
  let memory: WebAssembly.Memory | undefined;
  let copies = 0;
  const target = new RecordingTarget();
  const setupRam = target.setupRam.bind(target);
  target.setupRam = (blocks: readonly RamBlockInfo[]) => {
    setupRam(blocks);
    const b = blocks.find((x) => x.idstr === ramBlock);
    if (b !== undefined) {
      // the RAM block and, after it, the read buffers: one WebAssembly.Memory
      const pages = Math.ceil(b.lengthBytes / WASM_PAGE) + (2 * READ_BYTES) / WASM_PAGE;
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      target.memory.set(ramBlock, new Uint8Array(memory.buffer, 0, b.lengthBytes));
    }
    return target.memory;
  };
  (target as LoadTarget).inPlaceCopy = (idstr: string) => {
    const copy = idstr === ramBlock && memory !== undefined ? inPlaceCopy(memory) : undefined;
    return copy === undefined
      ? undefined
      : (dst: number, src: number, n: number) => {
          copies++;
          copy(dst, src, n);
        };
  };
  const privateReads = [new Uint8Array(READ_BYTES), new Uint8Array(READ_BYTES)];
  async function* reads(): AsyncGenerator<Uint8Array> {
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const buf = memory === undefined ? privateReads[i & 1]! : new Uint8Array(memory.buffer, memory.buffer.byteLength - (2 - (i & 1)) * READ_BYTES, READ_BYTES);
      const n = Math.min(sizes[i % sizes.length]!, bytes.length - at, READ_BYTES);
      buf.set(bytes.subarray(at, at + n));
      yield buf.subarray(0, n);
      at += n;
    }
  }
  await loadMigrationStream(reads(), target, { maxRamBytes: DEFAULT_MAX_RAM });
  return { target, copies };
}

test('in-place load: the RAM is what a plain load gives, and whole pages of the block go in by the in-place copy', async () => {
  const w = await writeScenario(RICH, 1000);
  const { target: want } = await load(w.bytes);
  for (const sizes of [[READ_BYTES], [4096 + 13], [1000, 50000, 7], [60000]]) {
    const { target, copies } = await loadInPlace(w.bytes, sizes, 'pc.ram');
    for (const [idstr, mem] of want.memory) assert.deepEqual(target.memory.get(idstr), mem, `${idstr} with reads of ${sizes.join(', ')}`);
    // the first read (which brought the block list) was not in the RAM's memory yet; later ones are
    if (sizes[0] === READ_BYTES) assert.ok(copies >= 5, `${copies} whole pages of pc.ram went in by the in-place copy`);
  }
});

test('in-place load: any scenario, any reads, gives the RAM a plain load gives (property)', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb(), fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 5 }), async (s, sizes) => {
      const w = await writeScenario(s);
      const { target: want } = await load(w.bytes);
      const ram = s.blocks[0]!.idstr;
      const { target } = await loadInPlace(w.bytes, sizes, ram);
      for (const [idstr, mem] of want.memory) assert.deepEqual(target.memory.get(idstr), mem, idstr);
    }),
    { numRuns: 60 },
  );
});
