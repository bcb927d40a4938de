/**
 * A checkpoint: a received VM written back as a migration stream that QEMU loads
 * (`-incoming "exec:cat FILE"`, or `file:FILE` from QEMU 8.2) and resumes from, in which every
 * page appears once with its final content. The shape is QEMU's own, so QEMU's loader and
 * scripts/analyze-migration.py read it as they read a `migrate "exec:cat > FILE"` of a paused VM:
 *
 *   be32 "QEVM"  be32 3  0x07 be32 len machine-name          (the machine name as received)
 *   0x01 be32 id  u8 3 "ram"  be32 0  be32 4                  START: the setup record
 *        be64 (total | 0x04)  (u8 len, idstr, be64 length)*   be64 0x10 EOS   0x7e be32 id
 *   0x02 be32 id                                              PART: every page of every block, in order
 *        (be64 (offset | 0x02 [| 0x20]) [u8 len, idstr] u8 0       a page of zeros: a ZERO record
 *        | be64 (offset | 0x08 [| 0x20]) [u8 len, idstr] 4096 bytes) otherwise: a PAGE record
 *        be64 0x10 EOS   0x7e be32 id
 *   0x03 be32 id  be64 0x10 EOS  0x7e be32 id                 END
 *   device sections, byte for byte as received (each type byte through its footer)
 *   0x00                                                      EOF
 *   [0x06 be32 len JSON]                                      the VM description as received
 *
 * No XBZRLE record (there is no earlier page to patch) and ZERO records only with fill 0
 * (QEMU 8.2+ refuses any other fill), so any QEMU since 1.2 and analyze-migration.py read it.
 */
import { InvalidArgumentError } from '../errors.js';
import { PAGE_SIZE_BYTES, pageHoldsFill } from '../codec/index.js';
import type { ByteWriter } from './byte-writer.js';
import { SectionType } from './constants.js';
import { MigrationStreamWriter } from './writer.js';

/** What a checkpoint holds. */
export interface CheckpointContent {
  /** The configuration section's machine name, e.g. "pc-i440fx-7.2". */
  machineName: string;
  /** The RAM section's id (any be32; QEMU's pc uses 2). */
  ramSectionId: number;
  /** The RAM blocks in MEM_SIZE order, each with its final contents (whole pages). */
  blocks: readonly { idstr: string; bytes: Uint8Array }[];
  /** Device sections as received, each whole (type byte through footer), in stream order. */
  devices: readonly Uint8Array[];
  /** The VM description's JSON bytes as received, when the stream had one. */
  vmdesc?: Uint8Array | undefined;
}

/** Pages written as ZERO and PAGE records. */
export interface CheckpointCounts {
  zero: number;
  page: number;
}

/** Most bytes left waiting for the sink: a guest's RAM is never held twice. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** Pages written between two looks at the sink (256 pages: 1 MiB at most). */
const PAGES_PER_DRAIN = 256;

/**
 * Writes `content` as a checkpoint through `out` and flushes it.
 * @returns the pages written by kind (the stream's length is `out.bytesWritten`).
 * @throws InvalidArgumentError for a block that is not whole pages, or a bad name or id;
 *   whatever the sink rejects with.
 */
export async function writeCheckpoint(out: ByteWriter, content: CheckpointContent): Promise<CheckpointCounts> {
  for (const b of content.blocks) {
    if (b.bytes.length === 0 || b.bytes.length % PAGE_SIZE_BYTES !== 0) {
      throw new InvalidArgumentError(`checkpoint: RAM block '${b.idstr}' of ${b.bytes.length} bytes is not whole pages`);
    }
  }
  const w = new MigrationStreamWriter(out);
  const id = content.ramSectionId;
  const counts: CheckpointCounts = { zero: 0, page: 0 };
  w.header(content.machineName);
  w.ramSetup(id, content.blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.bytes.length })));
  w.sectionPart(id);
  let pages = 0;
  for (const b of content.blocks) {
    const mem = b.bytes;
    for (let at = 0; at < mem.length; at += PAGE_SIZE_BYTES) {
      if (pageHoldsFill(mem, at, 0)) {
        w.ram.zero(b.idstr, at, 0);
        counts.zero++;
      } else {
        w.ram.pageAt(b.idstr, at, mem, at);
        counts.page++;
      }
      if (++pages % PAGES_PER_DRAIN === 0) await out.drain(MAX_PENDING_BYTES);
    }
  }
  w.ram.eos();
  w.footer(id);
  w.sectionEnd(id);
  w.ram.eos();
  w.footer(id);
  for (const d of content.devices) out.writeBytes(d);
  w.eof();
  if (content.vmdesc !== undefined) {
    out.writeU8(SectionType.VmDescription);
    out.writeBe32(content.vmdesc.length);
    out.writeBytes(content.vmdesc);
  }
  await out.flush();
  return counts;
}
