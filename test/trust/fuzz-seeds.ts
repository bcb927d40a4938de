/**
 * Seed inputs for the fuzz targets, written with the real stream writer and encoders: small
 * valid streams (one or two blocks, every record kind, CONTINUE, PART/END sections, device
 * state, digest, VM description, a SWITCHOVER command) and valid XBZRLE/XBRLE deltas over
 * the fuzz targets' page layout. The fuzzer starts from these; the corpus test checks they load.
 */
import { xbrleEncode, xbzrleEncode } from '../../src/codec/index.js';
import { ByteWriter, DeltaEncoding, LivemigSectionId, MigrationStreamWriter } from '../../src/stream/index.js';
import { deltaInput, type TargetName } from './fuzz-targets.js';

const PAGE = 4096;

async function write(build: (w: MigrationStreamWriter) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const out = new ByteWriter(async (c) => {
    chunks.push(c.slice());
  });
  build(new MigrationStreamWriter(out));
  await out.flush();
  return Buffer.concat(chunks);
}

function pattern(seed: number, bytes = PAGE): Uint8Array {
  const p = new Uint8Array(bytes);
  let s = seed >>> 0 || 7;
  for (let i = 0; i < bytes; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    p[i] = s >>> 24;
  }
  return p;
}

/** Valid streams, smallest first. */
export async function streamSeeds(): Promise<Uint8Array[]> {
  const id = LivemigSectionId.Ram;
  const seeds: Uint8Array[] = [];
  // setup only, then EOF
  seeds.push(await write((w) => {
    w.header();
    w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: 4 * PAGE }]);
    w.eof();
  }));
  // every record kind over two blocks, PART and END, device state, digest, vmdesc
  seeds.push(await write((w) => {
    w.header();
    w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: 8 * PAGE }, { idstr: 'vga.vram', lengthBytes: 2 * PAGE }]);
    w.sectionPart(id);
    w.ram.zero('pc.ram', 0, 0);
    w.ram.zero('pc.ram', PAGE, 0x5a);
    w.ram.page('pc.ram', 2 * PAGE, pattern(1));
    w.ram.page('vga.vram', 0, pattern(2));
    w.ram.page('pc.ram', 3 * PAGE, pattern(3));
    w.ram.eos();
    w.footer(id);
    w.sectionPart(id);
    const old = pattern(3);
    const cur = old.slice();
    cur.set([1, 2, 3, 4, 5], 100);
    cur[4000] ^= 0xff;
    const delta = new Uint8Array(PAGE);
    const n = xbzrleEncode(old, cur, delta);
    w.ram.xbzrle('pc.ram', 3 * PAGE, DeltaEncoding.Xbzrle, delta.subarray(0, n));
    const cur2 = cur.slice();
    cur2.fill(9, 2000, 2100);
    const d2 = new Uint8Array(Math.floor(PAGE / 3));
    const n2 = xbrleEncode(cur, cur2, d2);
    w.ram.xbzrle('pc.ram', 3 * PAGE, DeltaEncoding.Xbrle, d2.subarray(0, n2));
    w.ram.eos();
    w.footer(id);
    w.command(11); // SWITCHOVER_START
    w.sectionEnd(id);
    w.ram.page('vga.vram', PAGE, pattern(4));
    w.ram.eos();
    w.footer(id);
    w.deviceState(LivemigSectionId.Device, new TextEncoder().encode('{"workload":"stride","vcpus":1}'));
    w.digest(LivemigSectionId.Digest, 'sha256', pattern(5, 32));
    w.eof();
    w.vmdesc();
  }));
  // a larger single block with many small records (delta chains on one page)
  seeds.push(await write((w) => {
    w.header();
    w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: 64 * PAGE }]);
    w.sectionPart(id);
    let page = pattern(9);
    w.ram.page('pc.ram', 5 * PAGE, page);
    const delta = new Uint8Array(PAGE);
    for (let k = 0; k < 6; k++) {
      const next = page.slice();
      for (let j = 0; j < 5; j++) next[(k * 613 + j * 97) % PAGE] ^= 0x11 * (j + 1);
      const n = xbzrleEncode(page, next, delta);
      w.ram.xbzrle('pc.ram', 5 * PAGE, DeltaEncoding.Xbzrle, delta.subarray(0, n));
      page = next;
    }
    for (let p = 10; p < 20; p++) w.ram.zero('pc.ram', p * PAGE, p);
    w.ram.eos();
    w.footer(id);
    w.sectionEnd(id);
    w.ram.eos();
    w.footer(id);
    w.eof();
  }));
  return seeds;
}

/** Valid deltas for the xbzrle / xbrle targets: byte 0 (page layout) then the delta. */
export function deltaSeeds(codec: 'xbzrle' | 'xbrle'): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  for (const b0 of [0x80, 0xc1, 0x00, 0x07, 0x3f]) {
    const { old } = deltaInput(Uint8Array.of(b0));
    const variants: Uint8Array[] = [old.slice()];
    const a = old.slice();
    a[0] ^= 1;
    a[a.length - 1] ^= 0x80;
    variants.push(a);
    const b = old.slice();
    b.fill(0x33, Math.floor(b.length / 3), Math.floor(b.length / 2));
    variants.push(b);
    for (const cur of variants) {
      const out = new Uint8Array(codec === 'xbzrle' ? old.length : Math.floor(old.length / 3) || 2);
      const n = codec === 'xbzrle' ? xbzrleEncode(old, cur, out) : xbrleEncode(old, cur, out);
      if (n < 0) continue;
      const input = new Uint8Array(1 + n);
      input[0] = b0;
      input.set(out.subarray(0, n), 1);
      seeds.push(input);
    }
  }
  return seeds;
}

export async function seedsFor(target: TargetName): Promise<Uint8Array[]> {
  return target === 'stream' ? streamSeeds() : deltaSeeds(target);
}
