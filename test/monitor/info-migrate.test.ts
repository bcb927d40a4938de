/** `info migrate` text: exact lines for fixed query-migrate objects (QEMU 7.2's hmp_info_migrate, XBRLE (2011)'s eight lines). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIncomingInfo, formatInfoMigrate } from '../../src/monitor/index.js';
import type { MigrationInfo, RamStats } from '../../src/migration/index.js';

const ram: RamStats = {
  transferred: 282_012_672, remaining: 67_473_408, total: 157_818_880, duplicate: 13073, skipped: 0, normal: 68632,
  'normal-bytes': 281_116_672, 'dirty-pages-rate': 10568, mbps: 240, 'dirty-sync-count': 4, 'postcopy-requests': 0,
  'page-size': 4096, 'multifd-bytes': 0, 'pages-per-second': 7310, 'precopy-bytes': 282_012_672, 'downtime-bytes': 0, 'postcopy-bytes': 0,
};

test('an active migration without delta compression: QEMU 7.2\'s lines in its order', () => {
  const info: MigrationInfo = { status: 'active', 'total-time': 9336, 'expected-downtime': 3460, 'setup-time': 3, 'cpu-throttle-percentage': 30, ram };
  assert.equal(formatInfoMigrate(info), [
    'Migration status: active',
    'total time: 9336 ms',
    'expected downtime: 3460 ms',
    'setup: 3 ms',
    'transferred ram: 275403 kbytes',
    'throughput: 240.00 mbps',
    'remaining ram: 65892 kbytes',
    'total ram: 154120 kbytes',
    'duplicate: 13073 pages',
    'skipped: 0 pages',
    'normal: 68632 pages',
    'normal bytes: 274528 kbytes',
    'dirty sync count: 4',
    'page size: 4 kbytes',
    'multifd bytes: 0 kbytes',
    'pages-per-second: 7310',
    'dirty pages rate: 10568 pages',
    'precopy ram: 275403 kbytes',
    'cpu throttle percentage: 30',
  ].join('\n'));
});

test('a completed XBZRLE migration: downtime, the XBZRLE block, the seed\'s eight lines, both digests', () => {
  const info: MigrationInfo = {
    status: 'completed', 'total-time': 812, downtime: 41, 'setup-time': 2,
    ram: { ...ram, transferred: 1_263_616, remaining: 0, total: 8 * 1024 * 1024, duplicate: 100, normal: 1500, 'normal-bytes': 1500 * 4096, 'dirty-pages-rate': 0, mbps: 12.345, 'dirty-sync-count': 7, 'pages-per-second': 0, 'precopy-bytes': 1_200_000, 'downtime-bytes': 63_616 },
    'xbzrle-cache': { 'cache-size': 4 * 1024 * 1024, bytes: 98_304, pages: 16384, 'cache-miss': 43175, 'cache-miss-rate': 0.6789, 'encoding-rate': 682.666, overflow: 3 },
    livemig: {
      codec: 'xbzrle', 'delta-records': 16000, 'delta-record-bytes': 229_376, 'duplicate-bytes': 900, 'unchanged-skipped': 384,
      'bytes-per-dirty-page': 14.3, kernel: 'ts', 'forced-switchover': false, 'ram-digest': 'a'.repeat(64), 'destination-digest': 'a'.repeat(64),
    },
  };
  assert.equal(formatInfoMigrate(info), [
    'Migration status: completed',
    'total time: 812 ms',
    'downtime: 41 ms',
    'setup: 2 ms',
    'transferred ram: 1234 kbytes',
    'throughput: 12.35 mbps',
    'remaining ram: 0 kbytes',
    'total ram: 8192 kbytes',
    'duplicate: 100 pages',
    'skipped: 0 pages',
    'normal: 1500 pages',
    'normal bytes: 6000 kbytes',
    'dirty sync count: 7',
    'page size: 4 kbytes',
    'multifd bytes: 0 kbytes',
    'pages-per-second: 0',
    'precopy ram: 1171 kbytes',
    'downtime ram: 62 kbytes',
    'cache size: 4194304 bytes',
    'xbzrle transferred: 96 kbytes',
    'xbzrle pages: 16384 pages',
    'xbzrle cache miss: 43175 pages',
    'xbzrle cache miss rate: 0.68',
    'xbzrle encoding rate: 682.67',
    'xbzrle overflow: 3',
    'transferred ram-duplicate: 0 kbytes',
    'transferred ram-duplicate: 100 pages',
    'transferred ram-normal: 6000 kbytes',
    'transferred ram-normal: 1500 pages',
    'transferred ram-xbrle: 224 kbytes',
    'transferred ram-xbrle: 16000 pages',
    'overflow ram-xbrle: 3 pages',
    'cache-miss ram-xbrle: 43175 pages',
    `ram digest (sha256): ${'a'.repeat(64)}`,
    `destination ram digest (sha256): ${'a'.repeat(64)}`,
  ].join('\n'));
});

test('a failed migration shows its error on the status line', () => {
  const text = formatInfoMigrate({ status: 'failed', 'total-time': 120, 'setup-time': 1, 'error-desc': 'Unable to write to command: Broken pipe', ram: { ...ram, 'dirty-pages-rate': 0, 'precopy-bytes': 0 } });
  const lines = text.split('\n');
  assert.equal(lines[0], 'Migration status: failed (Unable to write to command: Broken pipe)');
  assert.equal(lines[1], 'total time: 120 ms');
  assert.equal(lines[2], 'setup: 1 ms');
  assert.ok(!text.includes('downtime'), 'no downtime line for a failed migration without one');
  assert.ok(!text.includes('dirty pages rate'), 'zero dirty pages rate is not shown');
  assert.ok(!text.includes('precopy ram'), 'zero precopy ram is not shown');
});

test('no migration yet: nothing on a source, a status line on a destination', () => {
  assert.equal(formatInfoMigrate({}), '');
  assert.equal(formatInfoMigrate({}, 'destination'), 'Migration status: none (waiting for an incoming migration)');
  assert.equal(formatIncomingInfo({}), 'Migration status: none (waiting for an incoming migration)');
});

test('a destination: status, what was received, both digests, the stride check', () => {
  const d = 'b'.repeat(64);
  const text = formatIncomingInfo({
    status: 'completed', 'total-time': 300,
    incoming: { 'bytes-read': 2_100_000, records: { zero: 10, page: 500, xbzrle: 70, xbrle: 0 }, 'source-digest': d, 'ram-digest': d, 'stride-check': { ok: true, message: 'consistent' } },
  });
  assert.equal(text, [
    'Migration status: completed',
    'total time: 300 ms',
    'received: 2050 kbytes',
    'received pages: normal 500, zero 10, xbzrle 70, xbrle 0',
    `source ram digest (sha256): ${d}`,
    `ram digest (sha256): ${d}`,
    'stride check: ok (consistent)',
  ].join('\n'));
});

test('a destination over TLS: the session and the source\'s verified certificate, as the source shows its peer', () => {
  const fp = 'AB:'.repeat(31) + 'CD';
  const tls = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', peerSubject: 'CN=livemig-source', peerIssuer: 'CN=ca', peerFingerprint256: fp, peerValidTo: 'Jan  1 00:00:00 2030 GMT' };
  const text = formatIncomingInfo({
    status: 'active', 'total-time': 40,
    incoming: { 'bytes-read': 4096, records: { zero: 0, page: 1, xbzrle: 0, xbrle: 0 }, transport: { description: 'tls 127.0.0.1:4444 <- 127.0.0.1:5555 (TLSv1.3, peer CN=livemig-source)', tls } },
  });
  assert.equal(text, [
    'Migration status: active',
    'total time: 40 ms',
    'received: 4 kbytes',
    'received pages: normal 1, zero 0, xbzrle 0, xbrle 0',
    `tls: TLSv1.3 TLS_AES_256_GCM_SHA384, peer CN=livemig-source (sha256 ${fp})`,
  ].join('\n'));
  const plain = formatIncomingInfo({ status: 'active', incoming: { transport: { description: 'tcp 127.0.0.1:4444 <- 127.0.0.1:5555' } } });
  assert.ok(!plain.includes('tls:'), 'no tls line on a plain connection');
});

test('a switchover the stall policy forced says so; a converged one does not', () => {
  const base = { status: 'completed' as const, 'total-time': 15_000, 'setup-time': 1, downtime: 2065, ram: { ...ram, 'dirty-pages-rate': 0, 'precopy-bytes': 0 } };
  const forced = formatInfoMigrate({ ...base, livemig: { codec: 'xbzrle', 'delta-records': 0, 'delta-record-bytes': 0, 'duplicate-bytes': 0, 'unchanged-skipped': 0, 'bytes-per-dirty-page': 0, kernel: 'ts', 'forced-switchover': true } });
  assert.match(forced, /^forced switchover: yes \(did not converge within max-iterations \/ max-time\)$/m);
  const converged = formatInfoMigrate({ ...base, livemig: { codec: 'xbzrle', 'delta-records': 0, 'delta-record-bytes': 0, 'duplicate-bytes': 0, 'unchanged-skipped': 0, 'bytes-per-dirty-page': 0, kernel: 'ts', 'forced-switchover': false } });
  assert.doesNotMatch(converged, /forced/);
});

test('after a switchover: the expected downtime it was decided on, beside the actual one', () => {
  const livemig = { codec: 'xbzrle' as const, 'delta-records': 0, 'delta-record-bytes': 0, 'duplicate-bytes': 0, 'unchanged-skipped': 0, 'bytes-per-dirty-page': 0, kernel: 'ts', 'forced-switchover': false, 'expected-downtime-at-switchover': 212 };
  const done = formatInfoMigrate({ status: 'completed', 'total-time': 900, 'setup-time': 1, downtime: 240, ram: { ...ram, 'dirty-pages-rate': 0 }, livemig });
  assert.match(done, /^expected downtime at switchover: 212 ms \(actual 240 ms\)$/m);
  const failed = formatInfoMigrate({ status: 'failed', 'total-time': 900, 'setup-time': 1, ram: { ...ram, 'dirty-pages-rate': 0 }, livemig });
  assert.match(failed, /^expected downtime at switchover: 212 ms$/m);
});
