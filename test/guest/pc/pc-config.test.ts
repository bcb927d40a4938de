import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pcMediaFromConfig, resolvePcOptions } from '../../../src/guest/index.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-pc-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const bios = join(dir, 'bios.bin');
writeFileSync(bios, Buffer.alloc(128 * 1024, 7));
const small = join(dir, 'small.img');
writeFileSync(small, Buffer.alloc(1024, 1));
const big = join(dir, 'big.img');
writeFileSync(big, Buffer.alloc(1024 * 1024, 2));
const MiB = 1024 * 1024;

test('PC options: files read, small ones travel inline, large ones as size and sha256 found again at the destination', () => {
  const { config, media } = resolvePcOptions({ ramBytes: 32 * MiB, bios, fda: small, hda: big });
  assert.equal(media.fda!.length, 1024);
  assert.equal(typeof config.fda!.data, 'string', 'a small file travels whole');
  assert.equal(config.hda!.data, undefined, 'a large file travels as its digest');
  assert.match(config.hda!.sha256, /^[0-9a-f]{64}$/);
  const back = pcMediaFromConfig(JSON.parse(JSON.stringify(config)));
  assert.deepEqual(back.media.hda, media.hda);
  assert.deepEqual(back.media.fda, media.fda);
  assert.deepEqual(back.media.bios, media.bios);
});

test('PC options: a bad RAM size, a missing file, or nothing to boot is an error naming it', () => {
  assert.throws(() => resolvePcOptions({ ramBytes: 8 * MiB, bios, fda: small }), { name: 'InvalidArgumentError', message: /whole MiB from 16 MiB/ });
  assert.throws(() => resolvePcOptions({ ramBytes: 32 * MiB + 4096, bios, fda: small }), { name: 'InvalidArgumentError', message: /whole MiB/ });
  assert.throws(() => resolvePcOptions({ ramBytes: 32 * MiB, bios: join(dir, 'nope.bin'), fda: small }), { message: /--bios .*nope\.bin: no such file/ });
  assert.throws(() => resolvePcOptions({ ramBytes: 32 * MiB, bios, kernel: join(dir, 'nope') }), { message: /--kernel .*nope: no such file/ });
  assert.throws(() => resolvePcOptions({ ramBytes: 32 * MiB, bios }), { message: /nothing to boot/ });
  assert.throws(() => resolvePcOptions({ ramBytes: 32 * MiB, bios, fda: small, initrd: small }), { message: /--initrd needs --kernel/ });
});

test('PC destination: a large file missing or changed at the destination is named; the inline copy is checked too', () => {
  const moved = join(dir, 'moved.img');
  writeFileSync(moved, Buffer.alloc(1024 * 1024, 3));
  const { config } = resolvePcOptions({ ramBytes: 32 * MiB, bios, hda: moved });
  writeFileSync(moved, Buffer.alloc(1024 * 1024, 4));
  assert.throws(() => pcMediaFromConfig(config), { code: 'GUEST_STATE', message: /the guest's hda \(moved\.img, 1048576 bytes, sha256 [0-9a-f]{16}…\): the file at .*moved\.img differs/ });
  rmSync(moved);
  assert.throws(() => pcMediaFromConfig(config), { code: 'GUEST_STATE', message: /the guest's hda \(moved\.img.*is not at .*moved\.img on this host/ });
  const { config: inline } = resolvePcOptions({ ramBytes: 32 * MiB, bios, fda: small });
  assert.throws(() => pcMediaFromConfig({ ...inline, fda: { ...inline.fda!, data: Buffer.alloc(1024, 9).toString('base64') } }), { code: 'GUEST_STATE', message: /the inline copy differs/ });
});

test('PC destination: any malformed configuration is refused as a stream error, never a crash', () => {
  const { config } = resolvePcOptions({ ramBytes: 32 * MiB, bios, fda: small });
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom('ramBytes', 'bios', 'fda', 'append', 'bootImage'), (junk, key) => {
      try {
        pcMediaFromConfig({ ...config, [key]: junk });
      } catch (e) {
        assert.ok((e as { code?: string }).code === 'STREAM_INVALID' || (e as { code?: string }).code === 'GUEST_STATE', String(e));
      }
    }),
  );
  for (const bad of [null, 7, 'pc', [], {}]) assert.throws(() => pcMediaFromConfig(bad), { code: 'STREAM_INVALID', message: /^PC configuration: / });
});
