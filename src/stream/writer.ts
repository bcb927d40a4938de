/**
 * Writer of QEMU's migration stream framing (migration/savevm.c: qemu_savevm_state_header,
 * save_section_header, save_section_footer, qemu_savevm_state_complete_precopy) plus
 * livemig's FULL sections (docs/stream-format.md). RAM records go through `ram`, which shares
 * the byte writer.
 *
 *   header   := be32 0x5145564d "QEVM"  be32 3  0x07 be32 len machine-name
 *   START    := 0x01 be32 id  u8 len idstr  be32 instance_id  be32 version_id   (FULL: 0x04, same)
 *   PART/END := 0x02 | 0x03  be32 id
 *   footer   := 0x7e be32 id
 *   EOF      := 0x00
 *   vmdesc   := 0x06 be32 len JSON
 *   livemig-machine (FULL, instance 0, version 1) body := be32 len, len bytes of JSON {kind, config, digest}
 *   livemig-device (FULL, instance 0, version 1) body := be32 len, len bytes of device state
 *   livemig-digest (FULL, instance 0, version 1) body := u8 len, algorithm, u8 len, digest
 *
 * Every method returns the bytes it wrote.
 */
import { InvalidArgumentError } from '../errors.js';
import { PAGE_SIZE_BYTES } from '../codec/index.js';
import type { ByteWriter } from './byte-writer.js';
import {
  LIVEMIG_DEVICE_IDSTR,
  LIVEMIG_DIGEST_IDSTR,
  LIVEMIG_DIGEST_CHUNKS_IDSTR,
  LIVEMIG_MACHINE_IDSTR,
  LIVEMIG_MACHINE_NAME,
  LIVEMIG_SECTION_VERSION,
  QEMU_VM_FILE_MAGIC,
  QEMU_VM_FILE_VERSION,
  RAM_SECTION_IDSTR,
  RAM_SECTION_VERSION,
  SectionType,
} from './constants.js';
import { IdstrCache } from './idstr.js';
import { MAX_MACHINE_NAME_BYTES } from './limits.js';
import { RamRecordWriter } from './ram-writer.js';
import type { RamBlockInfo } from './ram-writer.js';
import { encodeVmdesc, livemigDeviceDescription, livemigDigestDescription, livemigMachineDescription } from './vmdesc.js';
import type { VmDescription, VmdescDevice } from './vmdesc.js';

const encoder = new TextEncoder();

/**
 * Writes the stream framing into a ByteWriter. Methods throw InvalidArgumentError, before
 * writing anything, for ids that are not be32 or names that do not fit their length byte.
 * It does not check the order of sections: the migration decides it.
 */
export class MigrationStreamWriter {
  /** The RAM section's record writer (same byte writer). */
  readonly ram: RamRecordWriter;
  private readonly names = new IdstrCache('section');
  private readonly described: VmdescDevice[] = [];

  constructor(readonly out: ByteWriter) {
    this.ram = new RamRecordWriter(out);
  }

  /** Magic, version 3 and the configuration section naming the machine. */
  header(machineName: string = LIVEMIG_MACHINE_NAME): number {
    const name = encoder.encode(machineName);
    if (name.length > MAX_MACHINE_NAME_BYTES) throw new InvalidArgumentError(`machine name of ${name.length} bytes is over ${MAX_MACHINE_NAME_BYTES}`);
    const start = this.out.bytesWritten;
    this.out.writeBe32(QEMU_VM_FILE_MAGIC);
    this.out.writeBe32(QEMU_VM_FILE_VERSION);
    this.out.writeU8(SectionType.Configuration);
    this.out.writeBe32(name.length);
    this.out.writeBytes(name);
    return this.out.bytesWritten - start;
  }

  /** SECTION_START header (the body and a footer follow). */
  sectionStart(id: number, idstr: string, instanceId: number, versionId: number): number {
    return this.sectionHeader(SectionType.Start, id, idstr, instanceId, versionId);
  }

  /** SECTION_FULL header (the body and a footer follow). */
  sectionFull(id: number, idstr: string, instanceId: number, versionId: number): number {
    return this.sectionHeader(SectionType.Full, id, idstr, instanceId, versionId);
  }

  /** SECTION_PART header. */
  sectionPart(id: number): number {
    checkU32(id, 'section id');
    this.out.writeU8(SectionType.Part);
    this.out.writeBe32(id);
    return 5;
  }

  /** SECTION_END header. */
  sectionEnd(id: number): number {
    checkU32(id, 'section id');
    this.out.writeU8(SectionType.End);
    this.out.writeBe32(id);
    return 5;
  }

  /** Section footer. */
  footer(id: number): number {
    checkU32(id, 'section id');
    this.out.writeU8(SectionType.Footer);
    this.out.writeBe32(id);
    return 5;
  }

  /** QEMU_VM_COMMAND with no data (e.g. SWITCHOVER_START = 11). */
  command(cmd: number): number {
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xffff) throw new InvalidArgumentError(`command ${cmd} is not a be16`);
    this.out.writeU8(SectionType.Command);
    this.out.writeBe16(cmd);
    this.out.writeBe16(0);
    return 5;
  }

  /** The end of the sections. */
  eof(): number {
    this.out.writeU8(SectionType.Eof);
    return 1;
  }

  /**
   * The VM description after EOF. Without an argument it describes the livemig sections
   * written so far: `{"page_size": 4096, "devices": [...]}`.
   */
  vmdesc(description?: VmDescription): number {
    const json = encodeVmdesc(description ?? { page_size: PAGE_SIZE_BYTES, devices: this.described });
    this.out.writeU8(SectionType.VmDescription);
    this.out.writeBe32(json.length);
    this.out.writeBytes(json);
    return 5 + json.length;
  }

  /**
   * The RAM section's START with its setup record: header, MEM_SIZE + block list, EOS, footer.
   * Resets the RAM writer's last block first.
   */
  ramSetup(id: number, blocks: readonly RamBlockInfo[]): number {
    this.ram.reset();
    let n = this.sectionStart(id, RAM_SECTION_IDSTR, 0, RAM_SECTION_VERSION);
    n += this.ram.memSize(blocks);
    n += this.ram.eos();
    return n + this.footer(id);
  }

  /** The whole livemig-device FULL section: header, be32 length, the bytes, footer. */
  deviceState(id: number, state: Uint8Array): number {
    return this.lengthPrefixed(id, LIVEMIG_DEVICE_IDSTR, state, livemigDeviceDescription(state.length));
  }

  /** The whole livemig-machine FULL section: header, be32 length, the JSON bytes, footer. */
  machine(id: number, json: Uint8Array): number {
    return this.lengthPrefixed(id, LIVEMIG_MACHINE_IDSTR, json, livemigMachineDescription(json.length));
  }

  private lengthPrefixed(id: number, idstr: string, bytes: Uint8Array, description: VmdescDevice): number {
    let n = this.sectionFull(id, idstr, 0, LIVEMIG_SECTION_VERSION);
    this.out.writeBe32(bytes.length);
    this.out.writeBytes(bytes);
    n += 4 + bytes.length;
    this.described.push(description);
    return n + this.footer(id);
  }

  /** The whole livemig-digest-chunks FULL section: header, be32 len + the chunk digests, footer. */
  digestChunks(id: number, table: Uint8Array): number {
    return this.lengthPrefixed(id, LIVEMIG_DIGEST_CHUNKS_IDSTR, table, livemigDeviceDescription(table.length, LIVEMIG_DIGEST_CHUNKS_IDSTR));
  }

  /** The whole livemig-digest FULL section: header, u8 len + algorithm, u8 len + digest, footer. */
  digest(id: number, algorithm: string, digest: Uint8Array): number {
    const alg = encoder.encode(algorithm);
    if (alg.length === 0 || alg.length > 255) throw new InvalidArgumentError(`digest algorithm name '${algorithm}' must be 1..255 bytes`);
    if (digest.length > 255) throw new InvalidArgumentError(`digest of ${digest.length} bytes is over 255`);
    let n = this.sectionFull(id, LIVEMIG_DIGEST_IDSTR, 0, LIVEMIG_SECTION_VERSION);
    this.out.writeU8(alg.length);
    this.out.writeBytes(alg);
    this.out.writeU8(digest.length);
    this.out.writeBytes(digest);
    n += 2 + alg.length + digest.length;
    this.described.push(livemigDigestDescription(alg.length, digest.length));
    return n + this.footer(id);
  }

  private sectionHeader(type: number, id: number, idstr: string, instanceId: number, versionId: number): number {
    checkU32(id, 'section id');
    checkU32(instanceId, 'instance id');
    checkU32(versionId, 'version id');
    const name = this.names.get(idstr);
    this.out.writeU8(type);
    this.out.writeBe32(id);
    this.out.writeU8(name.length);
    this.out.writeBytes(name);
    this.out.writeBe32(instanceId);
    this.out.writeBe32(versionId);
    return 14 + name.length;
  }
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new InvalidArgumentError(`${what} ${v} is not a be32`);
}
