/**
 * Property tests (fast-check) over mutated valid streams and arbitrary deltas: whatever the
 * bytes, each target either accepts them or rejects them with its own error naming an offset
 * inside the input; it never throws anything else, never writes outside the RAM blocks or the
 * page, never changes a page it rejects, never asks for more RAM than its bound (each of those
 * would surface as a FuzzFinding from fuzz-targets.ts). Mutations: byte flips, be32 fields set to
 * boundary values, truncation, insertion, deletion, duplication of a range.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadMigrationStream } from '../../src/stream/index.js';
import { FUZZ_MAX_RAM_BYTES, FuzzFinding, runTarget } from './fuzz-targets.js';
import { deltaSeeds, streamSeeds } from './fuzz-seeds.js';

type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'be32'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'duplicate'; at: number; n: number };

const BOUNDARY32 = [0, 1, 0xff, 0x1000, 0xfff, 0x7fffffff, 0x80000000, 0xffffffff, 0x10, 0x7e];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('be32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...BOUNDARY32), fc.nat({ max: 0xffffffff })) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
);

function apply(input: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let d = Buffer.from(input);
  for (const m of muts) {
    if (d.length === 0) break;
    const at = m.at % d.length;
    switch (m.op) {
      case 'flip':
        d[at]! ^= m.mask;
        break;
      case 'be32':
        if (d.length >= 4) d.writeUInt32BE(m.value >>> 0, Math.min(at, d.length - 4));
        break;
      case 'truncate':
        d = d.subarray(0, at);
        break;
      case 'insert':
        d = Buffer.concat([d.subarray(0, at), m.bytes, d.subarray(at)]);
        break;
      case 'delete':
        d = Buffer.concat([d.subarray(0, at), d.subarray(at + m.n)]);
        break;
      case 'duplicate':
        d = Buffer.concat([d.subarray(0, at + m.n), d.subarray(at, at + m.n), d.subarray(at + m.n)]);
        break;
    }
  }
  return new Uint8Array(d);
}

async function noFinding(target: 'stream' | 'xbzrle' | 'xbrle', data: Uint8Array): Promise<void> {
  try {
    await runTarget(target, data);
  } catch (e) {
    if (e instanceof FuzzFinding) assert.fail(`${e.message}\ninput (${data.length} bytes): ${Buffer.from(data.subarray(0, 256)).toString('hex')}`);
    throw e;
  }
}

let streams: Uint8Array[] = [];
before(async () => {
  streams = await streamSeeds();
});

describe('mutated streams and deltas', { timeout: 120_000 }, () => {
  it('mutated valid streams: accepted or rejected with a StreamError naming an offset, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), async (pick, muts) => {
        await noFinding('stream', apply(streams[pick % streams.length]!, muts));
      }),
      { numRuns: 400 },
    );
  });

  it('the outcome of a mutated stream does not depend on how it is split into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }), async (pick, muts, sizes) => {
        const data = apply(streams[pick % streams.length]!, muts);
        const run = async (chunks: Iterable<Uint8Array>) =>
          loadMigrationStream(chunks, { setupRam: (b) => new Map(b.map((x) => [x.idstr, new Uint8Array(x.lengthBytes)])) }, { maxRamBytes: FUZZ_MAX_RAM_BYTES }).then(
            () => 'accepted',
            (e: Error & { offset?: number }) => `${e.name} @${e.offset}: ${e.message}`,
          );
        const whole = await run([data]);
        const pieces: Uint8Array[] = [];
        let o = 0;
        for (let i = 0; o < data.length; i++) {
          const n = sizes[i % sizes.length]!;
          pieces.push(data.subarray(o, o + n));
          o += n;
        }
        assert.equal(await run(pieces), whole);
      }),
      { numRuns: 150 },
    );
  });

  for (const codec of ['xbzrle', 'xbrle'] as const) {
    it(`${codec}: arbitrary deltas on guarded pages of any size`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 600 }), async (b0, delta) => {
          const input = new Uint8Array(1 + delta.length);
          input[0] = b0;
          input.set(delta, 1);
          await noFinding(codec, input);
        }),
        { numRuns: 2000 },
      );
    });

    it(`${codec}: mutated valid deltas`, async () => {
      const seeds = deltaSeeds(codec);
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (pick, muts) => {
          await noFinding(codec, apply(seeds[pick % seeds.length]!, muts));
        }),
        { numRuns: 1000 },
      );
    });
  }
});
