import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LivemigError } from '../../src/errors.js';
import { loadMigrationStream } from '../../src/stream/index.js';
import type { LoadTarget, RamBlockInfo } from '../../src/stream/index.js';
import { chunked, load } from './helpers.js';
import { RICH, scenarioArb, writeScenario } from './scenario.js';
import type { Scenario } from './scenario.js';

const chunkSizes = fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 });

test('property: random valid streams round-trip through any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb(), chunkSizes, async (s, sizes) => {
      const w = await writeScenario(s);
      const { result, target } = await load(w.bytes, {}, sizes);
      assert.equal(result.endedAt, 'eof');
      assert.equal(result.machineName, s.machine);
      assert.equal(result.bytesRead, w.bytes.length);
      assert.deepEqual(result.counts, w.counts);
      assert.equal(result.sections.length, w.sections);
      for (const [idstr, mem] of w.memory) assert.ok(Buffer.from(target.memory.get(idstr)!).equals(mem), `block ${idstr}`);
    }),
    { numRuns: 150 },
  );
});

/** Shared zeroed memory, promised zero: the loader skips ZERO records for pages it never wrote. */
class ZeroStartTarget implements LoadTarget {
  readonly ramStartsZero = true;
  readonly memory = new Map<string, Uint8Array>();
  setupRam(blocks: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> {
    for (const b of blocks) this.memory.set(b.idstr, new Uint8Array(new SharedArrayBuffer(b.lengthBytes)));
    return this.memory;
  }
  onDeviceState(): void {}
  onDigest(): void {}
}

test('property: RAM that starts zero (ramStartsZero) loads to the same memory, zero pages after writes included', async () => {
  // half the ZERO records fill with 0, so that many zero a page an earlier record wrote
  const zeroHeavy = scenarioArb().map((s) => ({ ...s, ops: s.ops.map((op) => (op.t === 'zero' && op.fill < 128 ? { ...op, fill: 0 } : op)) }));
  await fc.assert(
    fc.asyncProperty(zeroHeavy, chunkSizes, async (s, sizes) => {
      const w = await writeScenario(s);
      const target = new ZeroStartTarget();
      const result = await loadMigrationStream(chunked(w.bytes, sizes), target, { maxRamBytes: 1 << 30 });
      assert.deepEqual(result.counts, w.counts);
      for (const [idstr, mem] of w.memory) assert.ok(Buffer.from(target.memory.get(idstr)!).equals(mem), `block ${idstr}`);
    }),
    { numRuns: 200 },
  );
});

const GUARD = 4096;
const CANARY = 0xa5;

/** Hands out each block as a window of a larger buffer whose guard bytes must stay intact. */
class GuardedTarget implements LoadTarget {
  readonly buffers: Uint8Array[] = [];
  setupRam(blocks: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> {
    const m = new Map<string, Uint8Array>();
    for (const b of blocks) {
      const buf = new Uint8Array(b.lengthBytes + 2 * GUARD).fill(CANARY);
      this.buffers.push(buf);
      m.set(b.idstr, buf.subarray(GUARD, GUARD + b.lengthBytes));
    }
    return m;
  }
  onDeviceState(): void {}
  onDigest(): void {}
  guardsIntact(): boolean {
    return this.buffers.every((buf) => {
      for (let i = 0; i < GUARD; i++) if (buf[i] !== CANARY || buf[buf.length - 1 - i] !== CANARY) return false;
      return true;
    });
  }
}

type Mutation =
  | { t: 'set'; at: number; value: number }
  | { t: 'flip'; at: number; bit: number }
  | { t: 'delete'; at: number; len: number }
  | { t: 'insert'; at: number; bytes: number[] }
  | { t: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ t: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ t: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(bytes: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.t === 'set') b[at] = m.value;
    else if (m.t === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.t === 'delete') b.splice(at, m.len);
    else if (m.t === 'insert') b.splice(at, 0, ...m.bytes);
    else b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

const SMALL_RICH: Scenario = { ...RICH, ops: RICH.ops.slice(18) };

test('property: mutated streams load or fail with a livemig error, and never write outside the blocks', async () => {
  const bases = [(await writeScenario(SMALL_RICH)).bytes];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.constant(null), scenarioArb()),
      fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      chunkSizes,
      async (s, muts, sizes) => {
        const base = s === null ? bases[0]! : (await writeScenario(s)).bytes;
        const bytes = mutate(base, muts);
        const target = new GuardedTarget();
        try {
          await loadMigrationStream(chunked(bytes, sizes), target, { maxRamBytes: 1 << 20, maxDeviceStateBytes: 1 << 16 });
        } catch (e) {
          assert.ok(e instanceof LivemigError, `unexpected ${e instanceof Error ? e.stack : String(e)}`);
          assert.ok(e.code === 'STREAM_INVALID' || e.code === 'STREAM_LIMIT', e.message);
          if ('offset' in e) assert.ok(typeof e.offset === 'number' && e.offset >= 0 && e.offset <= bytes.length, e.message);
        }
        assert.ok(target.guardsIntact(), 'a write landed outside a block');
      },
    ),
    { numRuns: 400 },
  );
});

test('property: random bytes after a valid header are rejected cleanly', async () => {
  const header = Uint8Array.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3, 7, 0, 0, 0, 1, 0x78]);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (tail) => {
      const bytes = new Uint8Array(header.length + tail.length);
      bytes.set(header);
      bytes.set(tail, header.length);
      const target = new GuardedTarget();
      try {
        await loadMigrationStream(chunked(bytes, [7]), target, { maxRamBytes: 1 << 20 });
      } catch (e) {
        assert.ok(e instanceof LivemigError, String(e));
      }
      assert.ok(target.guardsIntact());
    }),
    { numRuns: 300 },
  );
});
