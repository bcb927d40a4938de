/**
 * Test scenarios: a list of RAM operations over a few blocks, written through the real
 * writer (deltas made by the real encoders against a model of the destination's memory),
 * with the memory and record counts a correct loader must end with.
 */
import fc from 'fast-check';
import { xbrleEncode, xbzrleEncode } from '../../src/codec/index.js';
import { DeltaEncoding, LivemigSectionId } from '../../src/stream/index.js';
import type { RecordCounts } from '../../src/stream/index.js';
import { PAGE, buildStream, prng } from './helpers.js';

export interface Edit {
  off: number;
  len: number;
  seed: number;
}

export type Op =
  | { t: 'zero'; block: number; page: number; fill: number }
  | { t: 'page'; block: number; page: number; seed: number }
  | { t: 'xbzrle' | 'xbrle'; block: number; page: number; edits: Edit[] }
  | { t: 'section'; kind: 'part' | 'end' };

export interface Scenario {
  machine: string;
  blocks: { idstr: string; pages: number }[];
  ops: Op[];
  device?: Uint8Array;
  digest?: Uint8Array;
}

export interface Written {
  bytes: Uint8Array;
  memory: Map<string, Uint8Array>;
  counts: RecordCounts;
  sections: number;
}

/** Writes a scenario; sections: START (setup), then PART/END as the ops say, a final END. */
export async function writeScenario(s: Scenario, chunkBytes?: number): Promise<Written> {
  const memory = new Map(s.blocks.map((b) => [b.idstr, new Uint8Array(b.pages * PAGE)]));
  const counts: RecordCounts = { memSize: 1, zero: 0, page: 0, xbzrle: 0, xbrle: 0, eos: 0 };
  const scratch = new Uint8Array(PAGE);
  const delta = new Uint8Array(PAGE);
  let sections = 0;
  const bytes = await buildStream((w) => {
    const id = LivemigSectionId.Ram;
    w.header(s.machine);
    w.ramSetup(id, s.blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.pages * PAGE })));
    counts.eos++;
    sections++;
    w.sectionPart(id);
    for (const op of s.ops) {
      if (op.t === 'section') {
        w.ram.eos();
        w.footer(id);
        counts.eos++;
        sections++;
        if (op.kind === 'part') w.sectionPart(id);
        else w.sectionEnd(id);
        continue;
      }
      const b = s.blocks[op.block % s.blocks.length]!;
      const page = op.page % b.pages;
      const mem = memory.get(b.idstr)!.subarray(page * PAGE, (page + 1) * PAGE);
      if (op.t === 'zero') {
        w.ram.zero(b.idstr, page * PAGE, op.fill);
        mem.fill(op.fill);
        counts.zero++;
      } else if (op.t === 'page') {
        const next = prng(op.seed);
        for (let i = 0; i < PAGE; i++) scratch[i] = next() & 0xff;
        w.ram.page(b.idstr, page * PAGE, scratch);
        mem.set(scratch);
        counts.page++;
      } else {
        scratch.set(mem);
        for (const e of op.edits) {
          const next = prng(e.seed);
          for (let i = e.off; i < Math.min(PAGE, e.off + e.len); i++) scratch[i] = next() & 0xff;
        }
        const n = op.t === 'xbzrle' ? xbzrleEncode(mem, scratch, delta) : xbrleEncode(mem, scratch, delta);
        if (n < 0) {
          w.ram.page(b.idstr, page * PAGE, scratch);
          counts.page++;
        } else {
          w.ram.xbzrle(b.idstr, page * PAGE, op.t === 'xbzrle' ? DeltaEncoding.Xbzrle : DeltaEncoding.Xbrle, delta.subarray(0, n));
          counts[op.t]++;
        }
        mem.set(scratch);
      }
    }
    w.ram.eos();
    w.footer(id);
    counts.eos++;
    sections++;
    w.sectionEnd(id);
    w.ram.eos();
    w.footer(id);
    counts.eos++;
    sections++;
    if (s.device !== undefined) {
      w.deviceState(LivemigSectionId.Device, s.device);
      sections++;
    }
    if (s.digest !== undefined) {
      w.digest(LivemigSectionId.Digest, 'sha256', s.digest);
      sections++;
    }
    w.eof();
    w.vmdesc();
  }, chunkBytes);
  return { bytes, memory, counts, sections };
}

/** A fixed scenario with every record kind, CONTINUE across sections and odd block names. */
export const RICH: Scenario = {
  machine: 'livemig',
  blocks: [
    { idstr: 'pc.ram', pages: 64 },
    { idstr: '/rom@etc/acpi/tables', pages: 2 },
    { idstr: 'vga.vram', pages: 16 },
  ],
  ops: [
    ...Array.from({ length: 20 }, (_, i): Op => ({ t: 'page', block: 0, page: i, seed: i + 1 })),
    { t: 'zero', block: 0, page: 20, fill: 0 },
    { t: 'zero', block: 1, page: 0, fill: 0x5a },
    { t: 'page', block: 1, page: 1, seed: 99 },
    { t: 'page', block: 2, page: 3, seed: 7 },
    { t: 'section', kind: 'part' },
    // first record of this PART continues vga.vram from the previous section
    { t: 'xbzrle', block: 2, page: 3, edits: [{ off: 100, len: 20, seed: 1 }] },
    { t: 'xbzrle', block: 0, page: 1, edits: [{ off: 0, len: 1, seed: 2 }, { off: 4000, len: 96, seed: 3 }] },
    { t: 'xbrle', block: 0, page: 2, edits: [{ off: 10, len: 300, seed: 4 }] },
    { t: 'xbzrle', block: 0, page: 3, edits: [] },
    { t: 'xbrle', block: 0, page: 4, edits: [] },
    { t: 'xbzrle', block: 0, page: 5, edits: [{ off: 0, len: 4096, seed: 5 }] }, // overflows: sent whole
    { t: 'section', kind: 'part' },
    { t: 'section', kind: 'part' }, // an empty PART
    { t: 'zero', block: 0, page: 1, fill: 0 },
    { t: 'xbzrle', block: 0, page: 1, edits: [{ off: 2048, len: 2, seed: 6 }] },
    { t: 'section', kind: 'end' },
    { t: 'page', block: 0, page: 63, seed: 11 },
    { t: 'zero', block: 2, page: 15, fill: 0xff },
  ],
  device: new TextEncoder().encode('{"workload":"stride","cpu":{"pc":4096}}'),
  digest: new Uint8Array(32).map((_, i) => i * 7),
};

/** Arbitrary scenarios for property tests: 1..4 blocks, up to 60 operations. */
export function scenarioArb(): fc.Arbitrary<Scenario> {
  const idstr = fc.oneof(
    fc.constantFrom('pc.ram', '/rom@etc/acpi/tables', 'pc.bios', 'a', 'x'.repeat(255), '0000:00:02.0/vga.vram'),
    fc.string({ minLength: 1, maxLength: 40 }),
  );
  const blocks = fc.uniqueArray(fc.record({ idstr, pages: fc.integer({ min: 1, max: 8 }) }), {
    minLength: 1,
    maxLength: 4,
    selector: (b) => b.idstr,
  }).filter((bs) => bs.every((b) => new TextEncoder().encode(b.idstr).length <= 255));
  const edit = fc.record({ off: fc.integer({ min: 0, max: PAGE - 1 }), len: fc.integer({ min: 1, max: 300 }), seed: fc.integer({ min: 1 }) });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constant('zero' as const), block: fc.nat(), page: fc.nat(), fill: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ t: fc.constant('page' as const), block: fc.nat(), page: fc.nat(), seed: fc.integer({ min: 1 }) }),
    fc.record({ t: fc.constantFrom('xbzrle' as const, 'xbrle' as const), block: fc.nat(), page: fc.nat(), edits: fc.array(edit, { maxLength: 4 }) }),
    fc.record({ t: fc.constant('section' as const), kind: fc.constantFrom('part' as const, 'end' as const) }),
  );
  return fc.record({
    machine: fc.constantFrom('livemig', 'pc-i440fx-7.2', ''),
    blocks,
    ops: fc.array(op, { maxLength: 60 }),
  });
}
