/** Counters snapshots and the one diff that derives every rate; query-migrate as a pure function of a snapshot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WHOLE_PAGE_WIRE_BYTES, diffCounters, emptySnapshot, snapshotCounters } from '../../src/migration/counters.js';
import type { CountersSnapshot } from '../../src/migration/counters.js';
import { migrationInfo } from '../../src/migration/info.js';
import type { InfoState } from '../../src/migration/info.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PARAMETERS } from '../../src/migration/parameters.js';
import { MigrationCounters } from '../../src/migration/stats.js';
import { formatInfoMigrate } from '../../src/monitor/index.js';

const at = (t: number, fields: Partial<CountersSnapshot>): CountersSnapshot => ({ ...emptySnapshot(t), ...fields });

test('a snapshot copies every live counter and is frozen; later bumps do not change it', () => {
  const c = new MigrationCounters();
  const keys = Object.keys(emptySnapshot(0)).filter((k) => k !== 't');
  keys.forEach((k, i) => ((c as unknown as Record<string, number>)[k] = i + 1));
  const s = snapshotCounters(c, 1234);
  assert.equal(s.t, 1234);
  keys.forEach((k, i) => assert.equal((s as unknown as Record<string, number>)[k], i + 1, k));
  c.normal += 10;
  assert.equal(s.normal, keys.indexOf('normal') + 1);
  assert.ok(Object.isFrozen(s));
});

test('diff: counts in between and QEMU\'s rates over a hand-made interval (fake clock)', () => {
  const from = at(1000, { transferred: 1_000_000, duplicate: 5, normal: 100, xbzrlePages: 10, xbzrleBytes: 500, cacheMiss: 3, pagesSent: 200, dirtyPages: 50, dirtySyncCount: 2 });
  const to = at(3000, {
    transferred: 3_000_000, // 2 MB in 2 s
    duplicate: 25, duplicateBytes: 180,
    normal: 300, normalBytes: 300 * 4096,
    xbzrlePages: 110, xbzrleBytes: 500 + 100 * 4096 / 8, // 100 hits at an eighth of a page each
    xbzrleRecords: 60, xbzrleRecordBytes: 600 * 20,
    skipped: 40, overflow: 5, cacheMiss: 53,
    pagesSent: 600, dirtyPages: 2050, dirtySyncCount: 4,
  });
  const d = diffCounters(from, to);
  assert.equal(d.ms, 2000);
  assert.deepEqual(d.pages, { zero: 20, normal: 200, delta: 60, unchanged: 40, sent: 400 });
  assert.deepEqual(d.bytes, { zero: 180, normal: 300 * 4096, delta: 12_000, total: 2_000_000 });
  assert.equal(d.hits, 100);
  assert.equal(d.misses, 50);
  assert.equal(d.overflows, 5);
  assert.equal(d.syncs, 2);
  assert.equal(d.bytesPerSecond, 1_000_000);
  assert.equal(d.mbps, 8); // QEMU's mbps: 10^6 bits per second
  assert.equal(d.pagesPerSecond, 200);
  assert.equal(d.dirtyPagesRate, 1000);
  assert.equal(d.encodingRate, 8); // a hit's page cost an eighth of a page in xbzrle bytes
  assert.equal(d.cacheMissRate, 50 / 400); // QEMU: misses per page sent
  assert.equal(d.missesPerLookup, 50 / 150);
  assert.equal(d.overflowRate, 0.05);
  // 300 non-zero pages would cost 300 whole pages; they cost 200 whole pages and 12 kB of records
  assert.equal(d.wireGain, (300 * WHOLE_PAGE_WIRE_BYTES) / (200 * WHOLE_PAGE_WIRE_BYTES + 12_000));
});

test('diff: no time, no pages, no hits: every rate 0, and pages that cost nothing gain the most', () => {
  const s = at(500, { transferred: 10, skipped: 3 });
  const d = diffCounters(s, s);
  for (const k of ['bytesPerSecond', 'mbps', 'pagesPerSecond', 'dirtyPagesRate', 'encodingRate', 'cacheMissRate', 'missesPerLookup', 'overflowRate', 'wireGain'] as const) assert.equal(d[k], 0, k);
  assert.equal(diffCounters(at(0, {}), at(0, { skipped: 5 })).wireGain, WHOLE_PAGE_WIRE_BYTES, 'unchanged pages only');
  assert.equal(diffCounters(at(10, {}), at(0, { transferred: 5 })).ms, 0, 'a `to` before `from` is no time');
});

test('diff: never NaN or Infinity, rates in their ranges, for any two ordered snapshots', () => {
  const fields = Object.keys(emptySnapshot(0)).filter((k) => k !== 't');
  const snap = fc.record(Object.fromEntries([['t', fc.nat(1e7)], ...fields.map((k) => [k, fc.nat(1e9)])])) as fc.Arbitrary<Record<string, number>>;
  fc.assert(fc.property(snap, snap, (a, b) => {
    const from = Object.fromEntries(fields.map((k) => [k, Math.min(a[k]!, b[k]!)]).concat([['t', Math.min(a['t']!, b['t']!)]])) as unknown as CountersSnapshot;
    const to = Object.fromEntries(fields.map((k) => [k, Math.max(a[k]!, b[k]!)]).concat([['t', Math.max(a['t']!, b['t']!)]])) as unknown as CountersSnapshot;
    const d = diffCounters(from, to);
    for (const [k, v] of Object.entries(d)) if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
    assert.ok(d.missesPerLookup <= 1);
    assert.ok(d.wireGain <= WHOLE_PAGE_WIRE_BYTES);
  }));
});

/** A state as the source keeps it, active 2 s in, with round numbers. */
function state(over: Partial<InfoState> = {}): InfoState {
  const counters = at(12_000, {
    transferred: 40 << 20, duplicate: 1000, duplicateBytes: 9000, normal: 9000, normalBytes: 9000 * 4096,
    xbzrlePages: 500, xbzrleBytes: 64_000, xbzrleRecords: 400, xbzrleRecordBytes: 67_200, skipped: 50, overflow: 20, cacheMiss: 300,
    dirtySyncCount: 3, dirtyPages: 20_000, precopyBytes: 40 << 20, pagesSent: 10_950,
  });
  const window = diffCounters(at(11_900, { transferred: (40 << 20) - 1_250_000, pagesSent: 10_650 }), counters);
  const period = diffCounters(at(10_000, { xbzrlePages: 100, xbzrleBytes: 12_800, cacheMiss: 100, pagesSent: 6950, dirtyPages: 16_000 }), counters);
  return {
    status: 'active', now: 12_000, startTime: 10_000, endTime: 0, setupTime: 4.4, downtime: 0,
    counters, window, period, expectedDowntimeMs: 123.4, bytesPerDirtyPage: 150.123, remainingPages: 2500, totalBytes: 64 << 20, pass: 3,
    parameters: { ...DEFAULT_PARAMETERS, 'xbzrle-cache-size': 8 << 20 }, capabilities: { ...DEFAULT_CAPABILITIES, xbzrle: true },
    forced: false, error: undefined, kernel: 'ts', autoConverge: undefined, deltaAssessment: undefined, deltaDisabledAtPass: 0,
    guestWorkRate: undefined, downtimeParts: undefined, ramDigest: undefined, destinationDigest: undefined, transport: undefined,
    ...over,
  };
}

test('info(): an active migration is a pure function of its snapshot, window and period', () => {
  const s = state();
  const info = migrationInfo(s);
  assert.deepEqual(migrationInfo(s), info, 'the same state gives the same answer');
  assert.equal(info.status, 'active');
  assert.equal(info['total-time'], 2000);
  assert.equal(info['setup-time'], 4);
  assert.equal(info['expected-downtime'], 123);
  assert.equal(info.downtime, undefined);
  assert.deepEqual(info.ram, {
    transferred: 40 << 20, remaining: 2500 * 4096, total: 64 << 20, duplicate: 1000, skipped: 0, normal: 9000, 'normal-bytes': 9000 * 4096,
    'dirty-pages-rate': 2000, // 4000 pages in the 2 s period
    mbps: 100, // 1.25 MB in the 100 ms window
    'dirty-sync-count': 3, 'postcopy-requests': 0, 'page-size': 4096, 'multifd-bytes': 0,
    'pages-per-second': 3000, 'precopy-bytes': 40 << 20, 'downtime-bytes': 0, 'postcopy-bytes': 0,
  });
  assert.deepEqual(info['xbzrle-cache'], {
    'cache-size': 8 << 20, bytes: 64_000, pages: 500, 'cache-miss': 300,
    'cache-miss-rate': 0.05, // 200 misses over 4000 pages sent in the period
    'encoding-rate': 32, // 400 hits * 4096 / 51 200 xbzrle bytes in the period
    overflow: 20,
  });
  assert.equal(info.livemig?.pass, 3);
  assert.equal(info.livemig?.['bytes-per-dirty-page'], 150.12);
  assert.equal(info.livemig?.['delta-records'], 400);
  // QEMU's names and units in the monitor
  const text = formatInfoMigrate(info);
  for (const line of ['transferred ram: 40960 kbytes', 'throughput: 100.00 mbps', 'remaining ram: 10000 kbytes', 'dirty sync count: 3', 'pages-per-second: 3000', 'dirty pages rate: 2000 pages', 'xbzrle cache miss rate: 0.05', 'xbzrle encoding rate: 32.00']) {
    assert.ok(text.split('\n').includes(line), `missing "${line}" in\n${text}`);
  }
});

test('info(): before any window or period the rates are 0; none is a status with nothing', () => {
  const info = migrationInfo(state({ window: undefined, period: undefined }));
  assert.equal(info.ram?.mbps, 0);
  assert.equal(info.ram?.['pages-per-second'], 0);
  assert.equal(info.ram?.['dirty-pages-rate'], 0);
  assert.equal(info['xbzrle-cache']?.['encoding-rate'], 0);
  assert.deepEqual(migrationInfo(state({ status: 'none' })), {});
  assert.equal(migrationInfo(state({ capabilities: { xbzrle: false } }))['xbzrle-cache'], undefined);
});

test('info(): completed shows the downtime and the whole migration\'s throughput; cancelled keeps what was left and no clock runs', () => {
  const done = migrationInfo(state({ status: 'completed', now: 99_999, endTime: 14_004.4, downtime: 42.4, remainingPages: 7 }));
  assert.equal(done['total-time'], 4004);
  // between the end's stamp and the status change (the last pass is reported there), the clock has stopped
  assert.equal(migrationInfo(state({ status: 'device', now: 14_010, endTime: 14_004.4 }))['total-time'], 4004);
  assert.equal(done.downtime, 42);
  assert.equal(done['expected-downtime'], undefined);
  assert.equal(done.ram?.remaining, 0);
  assert.equal(done.ram?.['dirty-pages-rate'], 0);
  assert.equal(done.ram?.mbps, Math.round(((40 << 20) * 8 / (4000 * 1000)) * 100) / 100, 'transferred over total time minus setup');
  const cancelled = state({ status: 'cancelled', endTime: 13_000, remainingPages: 2500 });
  const a = migrationInfo({ ...cancelled, now: 20_000 });
  const b = migrationInfo({ ...cancelled, now: 90_000 });
  assert.deepEqual(a, b, 'an ended migration does not change with the clock');
  assert.equal(a['total-time'], 3000);
  assert.equal(a.ram?.remaining, 2500 * 4096);
  assert.equal(a['expected-downtime'], undefined);
  const failed = migrationInfo(state({ status: 'failed', endTime: 13_000, error: new Error('connection reset') }));
  assert.equal(failed['error-desc'], 'connection reset');
});
