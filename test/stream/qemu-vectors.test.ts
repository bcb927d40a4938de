/**
 * Real QEMU 7.2 streams (test/vectors/stream/, captured as its README says) read by analyze
 * and by the loader: block list, record counts, device sections walked with the stream's own
 * VM description, and RAM contents that QEMU's guest made self-checking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, createGunzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeMigrationFile, analyzeMigrationStream, findVmdesc, formatAnalysis, loadMigrationStream } from '../../src/stream/index.js';
import type { VmDescription } from '../../src/stream/index.js';
import { RecordingTarget, chunked } from './helpers.js';

// dist/test/stream/*.js → test/vectors/stream/
const VECTORS = fileURLToPath(new URL('../../../test/vectors/stream/', import.meta.url));

function vector(name: string): Uint8Array {
  return gunzipSync(readFileSync(VECTORS + name));
}

function tailVmdesc(bytes: Uint8Array): VmDescription {
  const found = findVmdesc(bytes.subarray(Math.max(0, bytes.length - (1 << 20))));
  assert.ok(found !== null, 'the capture ends with a VM description');
  return found.json as VmDescription;
}

const PC_BLOCKS = [
  ['pc.ram', 0x1000000],
  ['/rom@etc/acpi/tables', 0x20000],
  ['pc.bios', 0x40000],
  ['pc.rom', 0x20000],
  ['/rom@etc/table-loader', 0x1000],
  ['/rom@etc/acpi/rsdp', 0x1000],
];
/** sha256 of Debian 12's /usr/share/seabios/bios-256k.bin, which QEMU loads into pc.bios. */
const SEABIOS_256K_SHA256 = '2da2018c7555e50b660a84a273a14a79cb87b9070fe6a90e9f151a53e357f7e6';

test('QEMU 7.2, paused 16 MiB guest: analyze stops cleanly after RAM without a description', async () => {
  const bytes = vector('qemu-7.2-paused.mig.gz');
  const s = await analyzeMigrationStream(chunked(bytes, [65536]));
  assert.equal(s.machineName, 'pc-i440fx-7.2');
  assert.deepEqual(s.blocks.map((b) => [b.idstr, b.lengthBytes]), PC_BLOCKS);
  assert.equal(s.blocks.find((b) => b.idstr === 'pc.bios')!.sha256, SEABIOS_256K_SHA256);
  assert.deepEqual(s.sections.map((x) => `${x.type} ${x.id} ${x.idstr}`), ['start 2 ram', 'part 2 ram', 'part 2 ram', 'end 2 ram']);
  // query-migrate said: duplicate 4177, normal 49
  assert.deepEqual(s.totals, { memSize: 1, zero: 4177, page: 49, xbzrle: 0, xbrle: 0, eos: 4 });
  assert.equal(s.endedAt, 'unknown-device');
  assert.equal(s.stoppedAt?.idstr, 'timer');
  assert.equal(s.stoppedAt?.reason, 'RAM complete; stopped at device section timer (no description)');
});

test('QEMU 7.2, paused 16 MiB guest: every device section walked with the VM description, to EOF', async () => {
  const bytes = vector('qemu-7.2-paused.mig.gz');
  const vmdesc = tailVmdesc(bytes);
  assert.equal(vmdesc.page_size, 4096);
  const s = await analyzeMigrationStream(chunked(bytes, [4093]), { vmdesc });
  assert.equal(s.endedAt, 'eof');
  assert.equal(s.bytesRead, bytes.length);
  assert.equal(s.devices.described.length, vmdesc.devices.length);
  assert.deepEqual(s.devices.described.slice(0, 3).map((d) => d.idstr), ['timer', 'cpu_common', 'cpu']);
  assert.equal(s.devices.described.at(-1)!.idstr, 'globalstate');
  assert.deepEqual(s.vmdesc, { inStream: true, given: true, devices: vmdesc.devices.length });
  assert.deepEqual(s.warnings, []);
});

test('QEMU 7.2, XBZRLE migration of a running guest: every delta applies, memory is a consistent snapshot', async () => {
  const bytes = vector('qemu-7.2-xbzrle.mig.gz');
  const target = new RecordingTarget();
  const result = await loadMigrationStream(chunked(bytes, [1500]), target, { maxRamBytes: 32 << 20, vmdesc: tailVmdesc(bytes) });
  assert.equal(result.endedAt, 'eof');
  assert.ok(result.counts.xbzrle > 1000, `only ${result.counts.xbzrle} XBZRLE records`);
  assert.equal(result.counts.xbrle, 0);
  assert.equal(result.counts.eos, result.sections.filter((x) => x.idstr === 'ram').length);
  const deltas = target.records.filter((r) => r.kind === 'xbzrle');
  assert.ok(deltas.every((r) => r.idstr === 'pc.ram' && r.payloadBytes > 0 && r.payloadBytes <= 16));
  // The guest (a boot sector) loops incrementing bytes 0 and 0x823 of the 64 pages at
  // 0x10000..0x4ffff, in order. Migration completes with the guest stopped, so the pages
  // must read n+1 (already incremented this sweep) then n, with both bytes equal per page
  // except at most the one page the guest was in the middle of.
  const ram = target.memory.get('pc.ram')!;
  const first = Array.from({ length: 64 }, (_, p) => ram[0x10000 + p * 4096]!);
  const second = Array.from({ length: 64 }, (_, p) => ram[0x10000 + p * 4096 + 0x823]!);
  const mismatched = first.filter((v, p) => v !== second[p]).length;
  assert.ok(mismatched <= 1, `bytes 0 and 0x823 differ on ${mismatched} pages`);
  const steps = first.filter((v, p) => p > 0 && v !== first[p - 1]).length;
  assert.ok(steps <= 1, `page values ${first.join(',')}`);
  assert.ok(first.every((v) => v === first[0] || v === ((first[0]! + 255) & 0xff)), `page values ${first.join(',')}`);
  assert.ok(first[0]! !== 0, 'the guest ran');
});

test('QEMU 7.2 stream read straight from a gzip Readable', async () => {
  const stream = createReadStream(VECTORS + 'qemu-7.2-xbzrle.mig.gz').pipe(createGunzip());
  const s = await analyzeMigrationStream(stream);
  assert.equal(s.endedAt, 'unknown-device');
  assert.ok(s.xbzrle.records > 1000);
  assert.ok(s.xbzrle.minBytes >= 1 && s.xbzrle.maxBytes <= 16);
  assert.equal(s.blocks.find((b) => b.idstr === 'pc.bios')!.sha256, SEABIOS_256K_SHA256);
});

test('analyzeMigrationFile reads the VM description from the end of a real QEMU stream file first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-qemu-'));
  try {
    const file = join(dir, 'paused.mig');
    writeFileSync(file, vector('qemu-7.2-paused.mig.gz'));
    const s = await analyzeMigrationFile(file, { extractDir: join(dir, 'ram') });
    assert.equal(s.endedAt, 'eof');
    assert.equal(s.devices.described.length, 30);
    assert.equal(s.blocks.find((b) => b.idstr === '/rom@etc/acpi/rsdp')!.file, join(dir, 'ram', '_rom_etc_acpi_rsdp.bin'));
    const text = formatAnalysis(s);
    assert.match(text, /^ {2}globalstate \(instance 0, version 1\): \d+ bytes, skipped with the VM description$/mu);
    assert.match(text, /^VM description: in the stream \(30 devices\)$/mu);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
