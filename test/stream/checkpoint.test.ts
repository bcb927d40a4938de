/**
 * Checkpoints (stream/checkpoint.ts) and the QEMU receiver that writes them
 * (migration/qemu-incoming.ts): every page once with its final content, device sections and
 * VM description byte for byte, read back by the loader as QEMU reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { QemuIncoming } from '../../src/migration/index.js';
import { formatIncomingInfo } from '../../src/monitor/index.js';
import { ByteSource, ByteWriter, loadMigrationStream, writeCheckpoint } from '../../src/stream/index.js';
import type { SectionSummary } from '../../src/stream/index.js';
import { PAGE, RecordingTarget, buildStream, chunked, concat } from './helpers.js';

const VECTORS = fileURLToPath(new URL('../../../test/vectors/stream/', import.meta.url));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

class KeepingTarget extends RecordingTarget {
  readonly devices: Uint8Array[] = [];
  vmdesc: Uint8Array | undefined;
  onDeviceSection(_s: SectionSummary, bytes: Uint8Array): void {
    this.devices.push(bytes.slice());
  }
  onVmdesc(json: Uint8Array): void {
    this.vmdesc = json;
  }
}

async function checkpointBytes(content: Parameters<typeof writeCheckpoint>[1], chunkBytes = 4096): Promise<{ bytes: Uint8Array; counts: { zero: number; page: number } }> {
  const chunks: Uint8Array[] = [];
  const out = new ByteWriter(async (c) => {
    chunks.push(c);
  }, { chunkBytes });
  const counts = await writeCheckpoint(out, content);
  return { bytes: concat(chunks), counts };
}

/** A page: zeros, one repeated byte, or random bytes. */
const pageArb = fc.oneof(
  fc.constant(new Uint8Array(PAGE)),
  fc.integer({ min: 1, max: 255 }).map((b) => new Uint8Array(PAGE).fill(b)),
  fc.uint8Array({ minLength: PAGE, maxLength: PAGE }),
  fc.integer({ min: 0, max: PAGE - 1 }).map((i) => {
    const p = new Uint8Array(PAGE);
    p[i] = 1; // zero but for one byte: not a zero page
    return p;
  }),
);

test('property: a checkpoint loads back to the same RAM, every page once, device sections and VM description byte for byte', async () => {
  const arb = fc.record({
    blocks: fc.array(fc.array(pageArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
    devices: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
    chunk: fc.integer({ min: 64, max: 20_000 }),
    sizes: fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ blocks, devices, chunk, sizes }) => {
      const mem = blocks.map((pages, i) => ({ idstr: i === 0 ? 'pc.ram' : `/rom@etc/b${i}`, bytes: concat(pages) }));
      const names = devices.map((_, i) => `dev${i}`);
      const sections = await Promise.all(devices.map((payload, i) => buildStream((w) => {
        w.sectionFull(10 + i, names[i]!, 0, 1);
        w.out.writeBytes(payload);
        w.footer(10 + i);
      })));
      const vmdesc = new TextEncoder().encode(JSON.stringify({ page_size: PAGE, devices: devices.map((p, i) => ({ name: names[i], instance_id: 0, vmsd_name: names[i], version: 1, fields: [{ name: 'data', type: 'buffer', size: p.length }] })) }));
      const { bytes, counts } = await checkpointBytes({ machineName: 'pc-i440fx-7.2', ramSectionId: 2, blocks: mem, devices: sections, vmdesc }, chunk);
      const pages = blocks.flat();
      assert.equal(counts.zero, pages.filter((p) => p.every((b) => b === 0)).length);
      assert.equal(counts.zero + counts.page, pages.length);

      const target = new KeepingTarget();
      const result = await loadMigrationStream(chunked(bytes, sizes), target, { maxRamBytes: 1 << 24, unknownDevice: 'buffer' });
      assert.equal(result.machineName, 'pc-i440fx-7.2');
      assert.equal(result.bytesRead, bytes.length);
      assert.deepEqual(result.counts, { memSize: 1, zero: counts.zero, page: counts.page, xbzrle: 0, xbrle: 0, eos: 3 });
      assert.deepEqual(result.sections.filter((s) => s.idstr === 'ram').map((s) => s.type), ['start', 'part', 'end']);
      for (const b of mem) assert.ok(Buffer.from(target.memory.get(b.idstr)!).equals(Buffer.from(b.bytes)), b.idstr);
      assert.deepEqual(target.devices.map(sha), sections.map(sha));
      assert.ok(Buffer.from(target.vmdesc!).equals(Buffer.from(vmdesc)));
    }),
    { numRuns: 60 },
  );
});

test('checkpoint: a block that is not whole pages is refused before anything is written', async () => {
  let written = 0;
  const out = new ByteWriter(async (c) => {
    written += c.length;
  });
  await assert.rejects(writeCheckpoint(out, { machineName: 'pc', ramSectionId: 2, blocks: [{ idstr: 'pc.ram', bytes: new Uint8Array(100) }], devices: [] }), /RAM block 'pc.ram' of 100 bytes is not whole pages/);
  assert.equal(written + out.bytesWritten, 0);
});

test('QEMU 7.2 XBZRLE capture received as data: its checkpoint is smaller, loads back to the same RAM and device state, and is what a second receive keeps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-ckpt-'));
  try {
    const stream = gunzipSync(readFileSync(VECTORS + 'qemu-7.2-xbzrle.mig.gz'));
    const file = join(dir, 'vm.ckpt');
    const first = new QemuIncoming({ saveFile: file, extractRamDir: join(dir, 'ram') }, 64 << 20);
    await first.receive(new ByteSource(chunked(stream, [65536])));
    assert.equal(first.machineName, 'pc-i440fx-7.2');
    assert.equal(first.bytesRead, stream.length);
    assert.ok(first.counts.xbzrle > 10_000);
    assert.equal(first.devices.length, 30);
    const size = statSync(file).size;
    assert.equal(first.checkpoint!.bytes, size);
    assert.ok(size < stream.length, `checkpoint ${size} bytes, stream ${stream.length}`);
    assert.deepEqual(readdirSync(dir).sort(), ['ram', 'vm.ckpt'], 'no partial file left');
    const info = first.info() as { blocks: { idstr: string; sha256: string; file: string }[]; 'device-bytes': number; checkpoint: { 'zero-pages': number; 'normal-pages': number; 'save-ms': number } };
    assert.equal(info.checkpoint['zero-pages'] + info.checkpoint['normal-pages'], first.blocks.reduce((n, b) => n + b.bytes.length / PAGE, 0));
    for (const b of info.blocks) assert.equal(sha(readFileSync(b.file)), b.sha256);
    // info migrate on the destination
    const text = formatIncomingInfo({ status: 'completed', incoming: { 'bytes-read': first.bytesRead, qemu: info } }).split('\n');
    assert.ok(text.includes(`ram block pc.bios: 256 kbytes; records: normal 46, zero 18, xbzrle 0; sha256 ${info.blocks[2]!.sha256}; extracted to ${info.blocks[2]!.file}`), text.join('\n'));
    assert.ok(text.some((l) => /^device sections: 30, \d+ bytes \(timer \d+, cpu_common \d+, cpu \d+, /.test(l)), text.join('\n'));
    assert.ok(text.includes(`checkpoint: ${file}, ${size} bytes (normal ${info.checkpoint['normal-pages']} pages, zero ${info.checkpoint['zero-pages']} pages), written in ${info.checkpoint['save-ms']} ms`), text.join('\n'));

    const again = new QemuIncoming({}, 64 << 20);
    await again.receive(new ByteSource(chunked(readFileSync(file), [4093])));
    assert.equal(again.counts.xbzrle, 0);
    assert.equal(again.counts.zero + again.counts.page, info.checkpoint['zero-pages'] + info.checkpoint['normal-pages']);
    assert.deepEqual(again.blocks.map((b) => [b.idstr, b.sha256]), first.blocks.map((b) => [b.idstr, b.sha256]));
    assert.deepEqual(again.devices.map((d) => sha(d.bytes)), first.devices.map((d) => sha(d.bytes)));
    assert.ok(Buffer.from(again.vmdesc!).equals(Buffer.from(first.vmdesc!)));

    // a save that cannot complete leaves nothing behind
    const bad = new QemuIncoming({ saveFile: join(dir, 'missing', 'vm.ckpt') }, 64 << 20);
    await assert.rejects(bad.receive(new ByteSource(chunked(stream, [65536]))), /ENOENT/);
    assert.equal(existsSync(join(dir, 'missing')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
