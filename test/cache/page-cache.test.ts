import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PageCache, CacheSizeError } from '../../src/index.js';
import { PAGE, randomPage } from '../helpers/pages.js';

const page = (v: number) => new Uint8Array(PAGE).fill(v);

describe('geometry', () => {
  test('sets = the largest power of two with sets × ways × pageSize ≤ size', () => {
    const c = new PageCache({ sizeBytes: 3 * 1024 * 1024 });
    assert.equal(c.setCount, 256); // 256 × 2 × 4096 = 2 MiB ≤ 3 MiB < 4 MiB
    assert.equal(c.capacityPages, 512);
    assert.equal(c.sizeBytes, 2 * 1024 * 1024);
    assert.equal(new PageCache({ sizeBytes: 64 * 1024 * 1024, ways: 1 }).setCount, 16384);
    assert.equal(new PageCache({ sizeBytes: 12 * 4096, ways: 4 }).setCount, 2);
    assert.equal(new PageCache({ sizeBytes: 8192, ways: 2 }).setCount, 1);
  });

  test('a size too small for one set is a clear error', () => {
    assert.throws(() => new PageCache({ sizeBytes: 8191 }), (e: unknown) => e instanceof CacheSizeError && e.code === 'CACHE_TOO_SMALL' && /too small for one set of 2 way\(s\) of 4096-byte pages \(8192 bytes\)/.test(e.message));
    assert.throws(() => new PageCache({ sizeBytes: -1 }), /whole number of bytes/);
    assert.throws(() => new PageCache({ sizeBytes: 24576.5 }), /whole number of bytes/);
    assert.throws(() => new PageCache({ sizeBytes: 65536, ways: 0 }), /ways must be a whole number from 1 to 64/);
  });
});

describe('lookup, insert, update', () => {
  test('insert returns the cached copy; lookup finds it; update and fill overwrite it', () => {
    const c = new PageCache({ sizeBytes: 1 << 20 });
    const p = randomPage(1);
    const copy = c.insert(4096 * 7, p)!;
    assert.deepEqual(copy, p);
    p[0] ^= 1; // the cache holds a copy, not the caller's buffer
    assert.notDeepEqual(c.lookup(4096 * 7), p);
    assert.equal(c.update(4096 * 7, p), true);
    assert.deepEqual(c.lookup(4096 * 7), p);
    assert.equal(c.fill(4096 * 7, 0), true);
    assert.deepEqual(c.lookup(4096 * 7), page(0));
    assert.equal(c.lookup(4096 * 8), undefined);
    assert.equal(c.update(4096 * 8, p), false);
    assert.deepEqual(c.counters, { hits: 3, misses: 1, inserts: 1, evictions: 0, refusedInserts: 0 });
  });

  test("QEMU's hot-page rule on a direct-mapped cache: a page used in the last 2 generations is not evicted", () => {
    const c = new PageCache({ sizeBytes: 4 * PAGE, ways: 1 }); // 4 sets
    const a = 0;
    const b = 4 * PAGE; // same set as a
    c.insert(a, page(1));
    assert.equal(c.insert(b, page(2)), undefined, 'generation 0: refused');
    c.nextGeneration();
    assert.equal(c.insert(b, page(2)), undefined, 'generation 1: refused');
    c.nextGeneration();
    assert.ok(c.insert(b, page(2)), 'generation 2: a is 2 generations old, evicted');
    assert.equal(c.has(a), false);
    assert.equal(c.counters.refusedInserts, 2);
    assert.equal(c.counters.evictions, 1);
    // a lookup refreshes the age
    c.nextGeneration();
    c.nextGeneration();
    c.lookup(b);
    assert.equal(c.insert(a, page(1)), undefined);
    // the same address always overwrites
    assert.ok(c.insert(b, page(3)));
    assert.deepEqual(c.lookup(b), page(3));
  });

  test("the seed's 2-way LRU: the least recently used way that is past its lifetime goes", () => {
    const c = new PageCache({ sizeBytes: 2 * PAGE * 2, ways: 2, lifetime: 0 }); // 2 sets of 2 ways
    const [a, b, d] = [0, 2 * PAGE, 4 * PAGE]; // all in set 0
    c.insert(a, page(1));
    c.insert(b, page(2));
    c.lookup(a); // b is now the LRU
    c.insert(d, page(3));
    assert.equal(c.has(b), false);
    assert.equal(c.has(a), true);
    assert.equal(c.has(d), true);
  });

  test('2 ways with the default lifetime: a stale way is evicted even when a fresher one is older in LRU order', () => {
    const c = new PageCache({ sizeBytes: 2 * PAGE, ways: 2 }); // one set
    c.insert(0, page(1)); // gen 0
    c.nextGeneration();
    c.nextGeneration();
    c.insert(PAGE, page(2)); // gen 2
    c.lookup(0); // refreshed at gen 2: now both fresh
    assert.equal(c.insert(2 * PAGE, page(3)), undefined);
    c.nextGeneration();
    c.nextGeneration();
    assert.ok(c.insert(2 * PAGE, page(3)));
    assert.equal(c.has(PAGE), false, 'the LRU way went');
  });
});

describe('resize', () => {
  test('growing keeps every entry; shrinking keeps the most recently used per set', () => {
    const c = new PageCache({ sizeBytes: 16 * PAGE, ways: 2 });
    for (let i = 0; i < 16; i++) c.insert(i * PAGE, page(i + 1));
    assert.equal(c.entryCount, 16);
    c.resize(64 * PAGE);
    assert.equal(c.entryCount, 16);
    for (let i = 0; i < 16; i++) assert.deepEqual(c.lookup(i * PAGE), page(i + 1));
    c.resize(4 * PAGE); // 2 sets × 2 ways
    assert.equal(c.entryCount, 4);
    for (let i = 12; i < 16; i++) assert.deepEqual(c.lookup(i * PAGE), page(i + 1), `page ${i} kept`);
  });

  test('a resize that is too small throws and leaves the cache as it was', () => {
    const c = new PageCache({ sizeBytes: 8 * PAGE });
    c.insert(0, page(9));
    assert.throws(() => c.resize(PAGE), CacheSizeError);
    assert.equal(c.sizeBytes, 8 * PAGE);
    assert.deepEqual(c.lookup(0), page(9));
  });
});

test('property: the cache behaves like a simple model (set-associative, LRU past lifetime, refusals)', () => {
  type Op = { kind: 'insert' | 'lookup' | 'gen' | 'update'; page: number };
  const op = fc.record({ kind: fc.constantFrom('insert' as const, 'lookup' as const, 'gen' as const, 'update' as const), page: fc.nat(40) });
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 4), fc.constantFrom(0, 1, 2), fc.array(op, { maxLength: 200 }), (ways, lifetime, ops: Op[]) => {
      const sets = 4;
      const c = new PageCache({ sizeBytes: sets * ways * PAGE, ways, lifetime });
      // model: per set, a list of { addr, age, stamp, value }
      const model: { addr: number; age: number; stamp: number; value: number }[][] = Array.from({ length: sets }, () => []);
      let gen = 0;
      let clock = 0;
      let value = 0;
      for (const o of ops) {
        const addr = o.page * PAGE;
        const set = model[o.page % sets]!;
        const entry = set.find((e) => e.addr === addr);
        if (o.kind === 'gen') {
          gen++;
          c.nextGeneration();
        } else if (o.kind === 'lookup') {
          const got = c.lookup(addr);
          assert.equal(got === undefined, entry === undefined);
          if (entry) {
            assert.equal(got![0], entry.value);
            entry.age = gen;
            entry.stamp = ++clock;
          }
        } else if (o.kind === 'update') {
          value = (value + 1) & 0xff;
          assert.equal(c.update(addr, page(value)), entry !== undefined);
          if (entry) Object.assign(entry, { value, age: gen, stamp: ++clock });
        } else {
          value = (value + 1) & 0xff;
          const got = c.insert(addr, page(value));
          if (entry) {
            Object.assign(entry, { value, age: gen, stamp: ++clock });
            assert.ok(got);
          } else if (set.length < ways) {
            set.push({ addr, age: gen, stamp: ++clock, value });
            assert.ok(got);
          } else {
            const stale = set.filter((e) => e.age + lifetime <= gen).sort((x, y) => x.stamp - y.stamp);
            if (stale.length === 0) assert.equal(got, undefined);
            else {
              Object.assign(stale[0]!, { addr, value, age: gen, stamp: ++clock });
              assert.ok(got);
            }
          }
        }
      }
      assert.equal(c.entryCount, model.reduce((n, s) => n + s.length, 0));
      c.dispose();
    }),
    { numRuns: 400 },
  );
});
