/**
 * The minimised hostile-input corpus (test/vectors/corpus/<target>/*.bin, made by the fuzzer and
 * fuzz/minimize.mjs) replayed in CI: every file gets exactly the outcome recorded in its
 * expected.json — accepted, or rejected with the recorded class, code, offset and message —
 * and never a finding (a crash, a write outside the page or blocks, a changed page on rejection,
 * a bound broken). Streams are also fed 1 and 7 bytes at a time: the rejection, and the offset
 * it names, must not depend on how the bytes arrive.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadMigrationStream } from '../../src/stream/index.js';
import { FUZZ_MAX_RAM_BYTES, TARGET_NAMES, runTarget, type Outcome } from './fuzz-targets.js';
import { seedsFor } from './fuzz-seeds.js';

const ROOT = fileURLToPath(new URL('../../../test/vectors/corpus/', import.meta.url));

/** V8's JSON.parse wording differs between Node versions; the rest of a message must not. */
function stable(message: string | undefined): string | undefined {
  return message?.replace(/\(([^()]*JSON[^()]*)\)/u, '(…)');
}

function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}

for (const target of TARGET_NAMES) {
  describe(`corpus: ${target}`, () => {
    const dir = join(ROOT, target);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Outcome>;
    const files = readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();

    it('every vector is listed in expected.json and every entry has its file', () => {
      assert.deepEqual(Object.keys(expected).sort(), files);
      assert.ok(files.length >= (target === 'stream' ? 40 : 4), `${files.length} vectors`);
    });

    for (const file of files) {
      it(file, async () => {
        const data = new Uint8Array(readFileSync(join(dir, file)));
        const want = expected[file]!;
        const got = await runTarget(target, data); // a FuzzFinding (a bug) throws here
        assert.equal(got.outcome, want.outcome, got.message);
        if (want.outcome === 'rejected') {
          assert.equal(got.name, want.name, got.message);
          assert.equal(got.code, want.code, got.message);
          assert.equal(got.offset, want.offset, got.message);
          assert.equal(stable(got.message), stable(want.message));
          assert.ok(got.message!.includes(`offset ${got.offset}`), 'the message names the offset');
        }
        if (target === 'stream' && data.length <= 8192) {
          for (const size of [1, 7]) {
            const again = await loadMigrationStream(pieces(data, size), { setupRam: (b) => new Map(b.map((x) => [x.idstr, new Uint8Array(x.lengthBytes)])) }, { maxRamBytes: FUZZ_MAX_RAM_BYTES, maxDeviceStateBytes: 64 * 1024, maxVmdescBytes: 64 * 1024 }).then(
              () => ({ outcome: 'accepted' }) as Outcome,
              (e: Error & { offset?: number }) => ({ outcome: 'rejected', offset: e.offset, message: e.message }) as Outcome,
            );
            assert.equal(again.outcome, want.outcome, `fed ${size} byte(s) at a time`);
            assert.equal(again.offset, want.offset, `fed ${size} byte(s) at a time: ${again.message}`);
            assert.equal(stable(again.message), stable(want.message));
          }
        }
      });
    }

    it('the fuzzer\'s seeds are accepted', async () => {
      for (const s of await seedsFor(target)) assert.deepEqual(await runTarget(target, s), { outcome: 'accepted' });
    });
  });
}
