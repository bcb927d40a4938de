/**
 * The loader's `unknownDevice: 'buffer'` (a live QEMU stream, whose VM description comes after
 * the device sections it describes) and `peekMachineName`, on the real QEMU 7.2 captures of
 * test/vectors/stream/: device sections walked once the description has arrived and kept
 * whole, through any chunking; truncated and hostile streams rejected with the offset and what
 * was wrong, having buffered no more than the bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { LivemigError } from '../../src/errors.js';
import { ByteSource, findVmdesc, loadMigrationStream, peekMachineName } from '../../src/stream/index.js';
import type { LoadOptions, LoadResult, SectionSummary } from '../../src/stream/index.js';
import { RecordingTarget, chunked, concat } from './helpers.js';

const VECTORS = fileURLToPath(new URL('../../../test/vectors/stream/', import.meta.url));
const PAUSED = gunzipSync(readFileSync(VECTORS + 'qemu-7.2-paused.mig.gz'));
const XBZRLE = gunzipSync(readFileSync(VECTORS + 'qemu-7.2-xbzrle.mig.gz'));

/** A target that also keeps what 'buffer' mode hands over. */
class BufferTarget extends RecordingTarget {
  readonly devices: { section: SectionSummary; bytes: Uint8Array }[] = [];
  vmdesc: Uint8Array | undefined;
  onDeviceSection(section: SectionSummary, bytes: Uint8Array): void {
    this.devices.push({ section, bytes: bytes.slice() });
  }
  onVmdesc(json: Uint8Array): void {
    this.vmdesc = json;
  }
}

const BUFFER: LoadOptions = { maxRamBytes: 64 << 20, unknownDevice: 'buffer' };

async function loadBuffered(bytes: Uint8Array, sizes: readonly number[], options: Partial<LoadOptions> = {}): Promise<{ result: LoadResult; target: BufferTarget }> {
  const target = new BufferTarget();
  const result = await loadMigrationStream(chunked(bytes, sizes), target, { ...BUFFER, ...options });
  return { result, target };
}

/** Where the capture's VM description starts (its 0x06). */
function layout(bytes: Uint8Array): { vmdescAt: number } {
  const tail = bytes.subarray(bytes.length - (1 << 20));
  return { vmdescAt: bytes.length - tail.length + findVmdesc(tail)!.offset };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('QEMU 7.2 captures, buffered: every device section walked once the description arrived, kept whole, RAM as with a description given', async () => {
  for (const bytes of [PAUSED, XBZRLE]) {
    const { result, target } = await loadBuffered(bytes, [65536]);
    assert.equal(result.endedAt, 'eof');
    assert.equal(result.bytesRead, bytes.length);
    const { vmdescAt } = layout(bytes);
    assert.equal(target.devices.length, 30);
    const first = target.devices[0]!.section.offset;
    assert.equal(target.devices[0]!.section.idstr, 'timer');
    // the sections as kept are the stream's bytes from the first device section to EOF
    assert.ok(Buffer.from(concat(target.devices.map((d) => d.bytes))).equals(Buffer.from(bytes.subarray(first, vmdescAt - 1))));
    for (const d of target.devices) assert.equal(d.bytes.length, d.section.lengthBytes);
    assert.ok(Buffer.from(target.vmdesc!).equals(Buffer.from(bytes.subarray(vmdescAt + 5))));
    // the same RAM as a load told the description up front
    const told = new RecordingTarget();
    await loadMigrationStream(chunked(bytes, [65536]), told, { maxRamBytes: 64 << 20, vmdesc: findVmdesc(bytes.subarray(vmdescAt - 1))!.json as never });
    for (const [idstr, mem] of told.memory) assert.equal(sha(target.memory.get(idstr)!), sha(mem), idstr);
  }
});

test('property: buffered loading of a real QEMU stream does not depend on how it is chunked', async () => {
  const reference = await loadBuffered(PAUSED, [PAUSED.length]);
  const want = reference.target.devices.map((d) => sha(d.bytes));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), async (sizes) => {
      const { result, target } = await loadBuffered(PAUSED, sizes);
      assert.equal(result.bytesRead, PAUSED.length);
      assert.deepEqual(target.devices.map((d) => sha(d.bytes)), want);
      assert.equal(sha(target.memory.get('pc.ram')!), sha(reference.target.memory.get('pc.ram')!));
    }),
    { numRuns: 25 },
  );
});

test('property: a QEMU stream cut anywhere fails with a StreamError at or before the cut, saying what was missing', async () => {
  const { vmdescAt } = layout(PAUSED);
  const firstDevice = (await loadBuffered(PAUSED, [PAUSED.length])).target.devices[0]!.section.offset;
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.integer({ min: 0, max: PAUSED.length - 1 }), fc.integer({ min: firstDevice - 20, max: PAUSED.length - 1 })), async (cut) => {
      const err = await loadBuffered(PAUSED.subarray(0, cut), [8192]).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof LivemigError, `cut at ${cut}: ${String(err)}`);
      const e = err as LivemigError & { offset: number };
      assert.equal(e.code, 'STREAM_INVALID');
      assert.ok(e.offset <= cut, `cut at ${cut}, error at ${e.offset}: ${e.message}`);
      if (cut > firstDevice + 14) {
        // past the first device section's header: the rest was buffered, and the description is missing
        assert.equal(e.offset, cut);
        assert.match(e.message, new RegExp(`^the stream ends without a VM description .* device sections from offset ${firstDevice} need to be walked \\(.*buffered\\) at stream offset ${cut} in section \\d+ 'timer'$`));
      } else {
        assert.match(e.message, /truncated|Configuration section missing|Not a migration stream/);
      }
    }),
    { numRuns: 120 },
  );
  assert.ok(vmdescAt > firstDevice);
});

test('hostile: device sections that never end stop at the bound, at the offset it names, having read at most one chunk more', async () => {
  const firstDevice = (await loadBuffered(PAUSED, [PAUSED.length])).target.devices[0]!.section.offset;
  const LIMIT = 1 << 20;
  const CHUNK = 65536;
  let pulled = 0;
  async function* endless(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < firstDevice + 20; at += CHUNK) {
      const c = PAUSED.slice(at, Math.min(at + CHUNK, firstDevice + 20));
      pulled += c.length;
      yield c;
    }
    for (;;) {
      pulled += CHUNK;
      yield new Uint8Array(CHUNK).fill(0x5a);
    }
  }
  await assert.rejects(loadMigrationStream(endless(), new BufferTarget(), { ...BUFFER, maxBufferedDeviceBytes: LIMIT }), (e: unknown) => {
    const err = e as LivemigError & { offset: number; limit: number };
    assert.equal(err.name, 'StreamLimitError');
    assert.equal(err.code, 'STREAM_LIMIT');
    assert.equal(err.offset, firstDevice + LIMIT);
    assert.equal(err.limit, LIMIT);
    assert.equal(err.message, `device sections from stream offset ${firstDevice} (section 0 'timer') and the VM description after them are over the limit of 1048576 bytes (1 MiB) buffered until the description arrives at stream offset ${firstDevice + LIMIT}`);
    return true;
  });
  assert.ok(pulled <= firstDevice + LIMIT + CHUNK + 20, `pulled ${pulled} bytes`);
});

test('hostile: a VM description that does not fit the device sections is refused where the walk breaks', async () => {
  const { vmdescAt } = layout(PAUSED);
  const desc = findVmdesc(PAUSED.subarray(vmdescAt - 1))!.json as { devices: { name: string; fields: { size: number }[] }[] };
  const withDesc = (d: unknown): Uint8Array => {
    const json = new TextEncoder().encode(JSON.stringify(d));
    const head = new Uint8Array(5);
    head[0] = 0x06;
    new DataView(head.buffer).setUint32(1, json.length);
    return concat([PAUSED.subarray(0, vmdescAt), head, json]);
  };
  // the timer's first field one byte longer: the walk reads into the next section
  const longer = structuredClone(desc);
  longer.devices[0]!.fields[0]!.size += 1;
  await assert.rejects(loadBuffered(withDesc(longer), [65536]), (e: unknown) => {
    const err = e as LivemigError & { offset: number };
    assert.equal(err.name, 'StreamError');
    assert.match(err.message, /^Missing section footer for timer \(byte 0x[0-9a-f]{2}\) at stream offset \d+ in section 0 'timer'$/);
    assert.ok(err.offset < vmdescAt);
    return true;
  });
  // a device the description does not list
  const missing = structuredClone(desc);
  missing.devices = missing.devices.filter((d) => d.name !== 'timer');
  await assert.rejects(loadBuffered(withDesc(missing), [65536]), /^StreamError: Unknown savevm section or instance 'timer' 0 at stream offset \d+ in section 0 'timer'$/);
  // not a description at all
  await assert.rejects(loadBuffered(withDesc({ devices: 'none' }), [65536]), /^StreamError: the VM description at the end of the stream cannot describe device sections: VM description: not an object with a "devices" array at stream offset \d+ in VM description$/);
  // a byte after the description: then the stream has none at its end
  await assert.rejects(loadBuffered(concat([PAUSED, new Uint8Array([0])]), [65536]), /^StreamError: the stream ends without a VM description/);
});

test('peekMachineName: the configuration section\'s machine, nothing consumed; undefined for anything else', async () => {
  const src = new ByteSource(chunked(PAUSED, [3, 5, 7]));
  assert.equal(await peekMachineName(src), 'pc-i440fx-7.2');
  assert.equal(src.offset, 0);
  const result = await loadMigrationStream(src, new BufferTarget(), BUFFER);
  assert.equal(result.bytesRead, PAUSED.length, 'the loader reads the stream from its first byte');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), async (bytes, sizes) => {
      const s = new ByteSource(chunked(bytes, sizes));
      const name = await peekMachineName(s);
      const valid = bytes.length >= 13 && Buffer.from(bytes.subarray(0, 9)).equals(Buffer.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3, 7]));
      if (!valid) assert.equal(name, undefined);
      assert.equal(s.offset, 0);
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), async (machine, sizes) => {
      const name = new TextEncoder().encode(machine);
      const head = new Uint8Array(13);
      const v = new DataView(head.buffer);
      v.setUint32(0, 0x5145564d);
      v.setUint32(4, 3);
      head[8] = 7;
      v.setUint32(9, name.length);
      const s = new ByteSource(chunked(concat([head, name, new Uint8Array([0])]), sizes));
      assert.equal(await peekMachineName(s), new TextDecoder().decode(name));
      // cut inside the name: undefined, and the bytes stay to be read
      const cut = new ByteSource(chunked(concat([head, name]).subarray(0, 13 + Math.floor(name.length / 2)), sizes));
      if (name.length > 1) assert.equal(await peekMachineName(cut), undefined);
    }),
    { numRuns: 200 },
  );
});
