/**
 * The destination's stream loader (QEMU migration/savevm.c: qemu_loadvm_state,
 * qemu_loadvm_state_header, qemu_loadvm_section_start_full, qemu_loadvm_section_part_end,
 * check_section_footer, loadvm_process_command), with the RAM section handed to RamLoader.
 * What it reads (docs/stream-format.md has the whole grammar, livemig's sections included):
 *
 *   file    := be32 0x5145564d  be32 3
 *              0x07 be32 len machine-name  [0x05 configuration subsection]*
 *              item*  0x00  [0x06 be32 len JSON]
 *   item    := 0x01 START | 0x04 FULL : be32 id, u8 len, idstr, be32 instance, be32 version, body, footer
 *            | 0x02 PART  | 0x03 END  : be32 id, body, footer
 *            | 0x08 COMMAND           : be16 cmd, be16 len (1 OPEN_RETURN_PATH and 11 SWITCHOVER_START, len 0)
 *   footer  := 0x7e be32 id
 *
 * Bodies: "ram" (instance 0, version 4) → RAM records up to EOS; livemig-machine and
 * livemig-device → be32 len + bytes; livemig-digest → u8 len + algorithm, u8 len + digest; any other START/FULL device is
 * walked with the VM description when one was given, else the load stops there (option
 * `unknownDevice: 'stop'`, for analyze: RAM is complete before QEMU's first device section),
 * fails as QEMU does (`'reject'`, the default), or (`'buffer'`, for a live QEMU stream, whose
 * description comes last) reads the rest of the stream into one bounded buffer, finds the
 * description at its end, and walks the buffered device sections with it:
 *
 *   rest := (device section | RAM PART/END | command)*  0x00  0x06 be32 len JSON   <end of input>
 */
import { InvalidArgumentError, StreamError } from '../errors.js';
import { ByteSource } from './byte-source.js';
import type { ByteInput } from './byte-source.js';
import {
  LIVEMIG_DEVICE_IDSTR,
  LIVEMIG_DIGEST_IDSTR,
  LIVEMIG_DIGEST_CHUNKS_IDSTR,
  LIVEMIG_MACHINE_IDSTR,
  LIVEMIG_SECTION_VERSION,
  MigCommand,
  RAM_SECTION_IDSTR,
  RAM_SECTION_VERSION,
  SectionType,
} from './constants.js';
import { skipDescribed } from './device-skip.js';
import { findVmdesc } from './vmdesc.js';
import { readStreamHeader } from './header.js';
import {
  DEFAULT_MAX_BUFFERED_DEVICE_BYTES,
  DEFAULT_MAX_DEVICE_STATE_BYTES,
  DEFAULT_MAX_VMDESC_BYTES,
  MAX_RAM_BLOCKS,
  describeBytes,
  MAX_MACHINE_CONFIG_BYTES,
  StreamLimitError,
} from './limits.js';
import { addCounts, emptyCounts, RamLoader } from './ram-loader.js';
import type { RamLoadTarget, RecordCounts } from './ram-loader.js';
import type { RamBlockInfo } from './ram-writer.js';
import { parseVmDescription } from './vmdesc.js';
import type { VmDescription, VmdescDevice } from './vmdesc.js';

export type SectionKind = 'start' | 'part' | 'end' | 'full';

/** A section as announced by its header. PART/END repeat their START's idstr, instance and version. */
export interface SectionInfo {
  type: SectionKind;
  id: number;
  idstr: string;
  instanceId: number;
  versionId: number;
  /** Stream offset of the section's type byte. */
  offset: number;
}

/** How the loader dealt with a section's body. */
export type SectionHandling = 'ram' | 'livemig-machine' | 'livemig-device' | 'livemig-digest' | 'livemig-digest-chunks' | 'described';

/** A loaded section: its header, size (type byte through footer) and RAM records by kind. */
export interface SectionSummary extends SectionInfo {
  handling: SectionHandling;
  lengthBytes: number;
  records: RecordCounts;
}

/** Everything the loader reports to the destination. */
export interface LoadTarget extends RamLoadTarget {
  /**
   * The livemig-machine section (a fresh buffer): the machine's kind and configuration, before
   * RAM. The load waits for a returned promise (a destination may build the machine first).
   */
  onMachine?(bytes: Uint8Array): void | Promise<void>;
  /** The guest's device state from the livemig-device section (a fresh buffer, the target's to keep). */
  onDeviceState?(bytes: Uint8Array): void;
  /** The livemig-digest-chunks section: page128 chunk digests, 16 bytes each (a fresh buffer). */
  onDigestChunks?(table: Uint8Array): void;
  /** The livemig-digest section: algorithm name (e.g. "sha256") and digest bytes. */
  onDigest?(algorithm: string, digest: Uint8Array): void;
  /** Each section header, before its body is read. */
  onSection?(info: SectionInfo): void;
  /**
   * The RAM section's END was loaded: RAM is final unless another RAM section follows (QEMU
   * sends one END; its loader, like this one, accepts more), so a destination may start hashing
   * it while the device sections arrive, and must discard that hash if `onSection` shows RAM again.
   */
  onRamComplete?(): void;
  /**
   * With `unknownDevice: 'buffer'`: each device section walked from the buffer, whole (its type
   * byte through its footer), a view valid until the load ends (copy it to keep it).
   */
  onDeviceSection?(section: SectionSummary, bytes: Uint8Array): void;
  /** The VM description's JSON bytes as received (a fresh buffer). */
  onVmdesc?(json: Uint8Array): void;
}

export interface LoadOptions {
  /** Most RAM the destination accepts (`--max-ram`); a larger MEM_SIZE total fails before any allocation. */
  maxRamBytes: number;
  /** Largest livemig-device payload buffered (default 256 MiB). */
  maxDeviceStateBytes?: number;
  /** Largest VM description read after EOF (default 16 MiB). */
  maxVmdescBytes?: number;
  /** A VM description (e.g. from `readVmdescFromFile`) used to walk device sections livemig does not know. */
  vmdesc?: VmDescription;
  /**
   * At an undescribed device section: fail like QEMU (`'reject'`, default), stop and report
   * (`'stop'`), or buffer the rest of the stream and walk it with the VM description at its end
   * (`'buffer'`; then every device section, described or not, is walked from the buffer).
   */
  unknownDevice?: 'reject' | 'stop' | 'buffer';
  /** With `'buffer'`: most bytes buffered from the first device section to the end (default 32 MiB). */
  maxBufferedDeviceBytes?: number;
  /** Local machine name; the received one must be a prefix of it (QEMU's rule). Unchecked when absent. */
  expectMachine?: string;
  /** Read the optional VM description after EOF (default true). */
  readVmdesc?: boolean;
}

/** Where the load stopped when it met an undescribed device section. */
export interface StoppedAt {
  type: SectionKind;
  id: number;
  idstr: string;
  instanceId: number;
  versionId: number;
  offset: number;
  reason: string;
}

export interface LoadResult {
  machineName: string;
  /** Stream bytes consumed. */
  bytesRead: number;
  endedAt: 'eof' | 'unknown-device';
  stoppedAt?: StoppedAt;
  /** The RAM block list from MEM_SIZE. */
  blocks: readonly RamBlockInfo[];
  sections: SectionSummary[];
  /** RAM records of all sections, by kind. */
  counts: RecordCounts;
  /** QEMU_VM_COMMAND numbers seen, in order. */
  commands: number[];
  /** The VM description after EOF, parsed, when the stream had one. */
  vmdesc?: unknown;
  /** Things QEMU would only warn about (e.g. a byte other than 0x06 after EOF). */
  warnings: string[];
}

const SECTION_KIND: Record<number, SectionKind> = {
  [SectionType.Start]: 'start',
  [SectionType.Part]: 'part',
  [SectionType.End]: 'end',
  [SectionType.Full]: 'full',
};

const COMMAND_NAMES: Record<number, string> = {
  [MigCommand.OpenReturnPath]: 'OPEN_RETURN_PATH',
  [MigCommand.SwitchoverStart]: 'SWITCHOVER_START',
};

/** The sections the loader reads itself, and how. */
const OWN_SECTIONS: ReadonlyMap<string, Exclude<SectionHandling, 'described'>> = new Map([
  [RAM_SECTION_IDSTR, 'ram'],
  [LIVEMIG_MACHINE_IDSTR, 'livemig-machine'],
  [LIVEMIG_DEVICE_IDSTR, 'livemig-device'],
  [LIVEMIG_DIGEST_IDSTR, 'livemig-digest'],
  [LIVEMIG_DIGEST_CHUNKS_IDSTR, 'livemig-digest-chunks'],
]);

interface Registered {
  idstr: string;
  instanceId: number;
  versionId: number;
  handling: SectionHandling;
  desc?: VmdescDevice;
}

const text = new TextDecoder('utf-8', { fatal: false });

/** The rest of the stream, buffered at the first device section (`unknownDevice: 'buffer'`). */
interface Buffered {
  /** That section's header bytes, read before buffering began. */
  header: Uint8Array;
  /** Stream offset of that section's type byte. */
  at: number;
  rest: Uint8Array;
  /** Stream offset of rest[0]. */
  restAt: number;
  /** Stream offset of the 0x06 of the VM description found at the end. */
  vmdescAt: number;
}

/**
 * Loads a migration stream into `target`.
 *
 * `input` is either chunks of bytes (an AsyncIterable such as a Node Readable, or an array;
 * closed when the load ends) or a ByteSource the caller keeps.
 * @throws StreamError (code STREAM_INVALID) naming the record and stream offset for anything
 *   malformed or truncated; StreamLimitError (code STREAM_LIMIT) when the stream asks for more
 *   than the options allow; InvalidArgumentError for bad options; whatever the target throws.
 */
export async function loadMigrationStream(
  input: ByteInput | ByteSource,
  target: LoadTarget,
  options: LoadOptions,
): Promise<LoadResult> {
  checkOptions(options);
  const owned = !(input instanceof ByteSource);
  const src = input instanceof ByteSource ? input : new ByteSource(input);
  try {
    return await new StreamLoader(src, target, options).load();
  } finally {
    // a failing close (e.g. a socket already destroyed) must not hide the load's own outcome
    if (owned) await src.close().catch(() => undefined);
  }
}

function checkOptions(o: LoadOptions): void {
  const bound = (v: number | undefined, what: string): void => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${v}`);
  };
  if (o.maxRamBytes === undefined) throw new InvalidArgumentError('maxRamBytes is required');
  bound(o.maxRamBytes, 'maxRamBytes');
  bound(o.maxDeviceStateBytes, 'maxDeviceStateBytes');
  bound(o.maxVmdescBytes, 'maxVmdescBytes');
  bound(o.maxBufferedDeviceBytes, 'maxBufferedDeviceBytes');
  if (o.unknownDevice !== undefined && o.unknownDevice !== 'reject' && o.unknownDevice !== 'stop' && o.unknownDevice !== 'buffer') {
    throw new InvalidArgumentError(`unknownDevice must be 'reject', 'stop' or 'buffer', got ${String(o.unknownDevice)}`);
  }
}

class StreamLoader {
  private readonly ram: RamLoader;
  private readonly registry = new Map<number, Registered>();
  private readonly described = new Map<string, VmdescDevice>();
  private readonly result: LoadResult;
  private buffered: Buffered | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly target: LoadTarget,
    private readonly options: LoadOptions,
  ) {
    this.ram = new RamLoader(src, target, options.maxRamBytes);
    if (options.vmdesc !== undefined) {
      for (const d of parseVmDescription(options.vmdesc).devices) this.described.set(`${d.name}\u0000${d.instance_id}`, d);
    }
    this.result = {
      machineName: '',
      bytesRead: 0,
      endedAt: 'eof',
      blocks: [],
      sections: [],
      counts: emptyCounts(),
      commands: [],
      warnings: [],
    };
  }

  async load(): Promise<LoadResult> {
    const src = this.src;
    const result = this.result;
    this.result.machineName = await readStreamHeader(src, this.options.expectMachine);
    for (;;) {
      const at = src.offset;
      await src.ensure(1, 'section type');
      const type = src.readU8();
      if (type === SectionType.Eof) break;
      if (type === SectionType.Start || type === SectionType.Full) {
        if (!(await this.sectionStartFull(type, at))) {
          result.endedAt = 'unknown-device';
          break;
        }
      } else if (type === SectionType.Part || type === SectionType.End) {
        await this.sectionPartEnd(type, at);
      } else if (type === SectionType.Command) {
        await this.command(at);
      } else {
        throw new StreamError(`Unknown savevm section type ${type}`, at, 'section header');
      }
    }
    if (result.endedAt === 'eof' && (this.options.readVmdesc !== false || this.buffered !== undefined)) await this.vmdesc();
    if (this.buffered !== undefined && !(await src.atEnd())) {
      throw new StreamError(`${src.available} bytes after the VM description`, src.offset, 'VM description');
    }
    result.blocks = this.ram.blockList;
    result.bytesRead = src.offset;
    return result;
  }

  /*
   * START/FULL := 0x01|0x04  be32 id  u8 len idstr  be32 instance_id  be32 version_id  body  footer
   * Returns false when the load stops at an undescribed device section.
   */
  private async sectionStartFull(type: number, at: number): Promise<boolean> {
    const src = this.src;
    await src.ensure(5, 'section header');
    const id = src.readBe32();
    const len = src.readU8();
    await src.ensure(len + 8, 'section header');
    const idBytes = src.take(len);
    const idstr = text.decode(idBytes);
    const instanceId = src.readBe32();
    const versionId = src.readBe32();
    const info: SectionInfo = { type: SECTION_KIND[type]!, id, idstr, instanceId, versionId, offset: at };
    const record = `section ${id} '${idstr}'`;
    let entry: Registered;
    const own = OWN_SECTIONS.get(idstr);
    if (own !== undefined) {
      if (instanceId !== 0) throw unknownInstance(idstr, instanceId, at, record);
      const supported = own === 'ram' ? RAM_SECTION_VERSION : LIVEMIG_SECTION_VERSION;
      if (versionId !== supported) throw new StreamError(`unsupported version ${versionId} for '${idstr}' v${supported}`, at, record);
      const handling = own;
      entry = { idstr, instanceId, versionId, handling };
    } else {
      if (this.options.unknownDevice === 'buffer' && this.buffered === undefined) {
        await this.bufferDevices(sectionHeaderBytes(type, id, idBytes, instanceId, versionId), at, record);
      }
      const desc = this.described.get(`${idstr}\u0000${instanceId}`);
      if (desc === undefined) {
        if (this.options.unknownDevice !== 'stop') throw unknownInstance(idstr, instanceId, at, record);
        const why = this.options.vmdesc === undefined ? 'no description' : 'not in the description';
        this.result.stoppedAt = { ...info, reason: `RAM complete; stopped at device section ${idstr} (${why})` };
        return false;
      }
      entry = { idstr, instanceId, versionId, handling: 'described', desc };
    }
    this.registry.set(id, entry);
    this.target.onSection?.(info);
    await this.body(entry, info, record);
    return true;
  }

  /* PART/END := 0x02|0x03  be32 id  body  footer   (id must name a START'ed iterative section) */
  private async sectionPartEnd(type: number, at: number): Promise<void> {
    const src = this.src;
    await src.ensure(4, 'section header');
    const id = src.readBe32();
    const entry = this.registry.get(id);
    if (entry === undefined) throw new StreamError(`Unknown savevm section ${id}`, at, 'section header');
    const record = `section ${id} '${entry.idstr}'`;
    if (entry.handling !== 'ram') throw new StreamError(`${SECTION_KIND[type]!.toUpperCase()} for a section that is not iterative`, at, record);
    const info: SectionInfo = { type: SECTION_KIND[type]!, id, idstr: entry.idstr, instanceId: entry.instanceId, versionId: entry.versionId, offset: at };
    this.target.onSection?.(info);
    await this.body(entry, info, record);
  }

  private async body(entry: Registered, info: SectionInfo, record: string): Promise<void> {
    const src = this.src;
    const records = emptyCounts();
    switch (entry.handling) {
      case 'ram':
        await this.ram.loadSection(records);
        addCounts(this.result.counts, records);
        if (info.type === 'end') this.target.onRamComplete?.();
        break;
      case 'livemig-device':
        await this.deviceState(record);
        break;
      case 'livemig-machine':
        await this.machine(record);
        break;
      case 'livemig-digest':
        await this.digest(record);
        break;
      case 'livemig-digest-chunks':
        await this.digestChunks(record);
        break;
      case 'described':
        await skipDescribed(src, entry.desc!, record);
        break;
    }
    await this.footer(info.id, info.idstr, record);
    const summary: SectionSummary = { ...info, handling: entry.handling, lengthBytes: src.offset - info.offset, records };
    this.result.sections.push(summary);
    const b = this.buffered;
    if (b !== undefined && entry.handling === 'described' && this.target.onDeviceSection !== undefined) {
      const end = src.offset - b.restAt;
      this.target.onDeviceSection(summary, info.offset === b.at ? concat(b.header, b.rest.subarray(0, end)) : b.rest.subarray(info.offset - b.restAt, end));
    }
  }

  /**
   * `unknownDevice: 'buffer'`, at the first device section (its header `header` already read):
   * the rest of the stream into one buffer (at most the limit), then the VM description at its
   * end describes the devices to walk.
   */
  private async bufferDevices(header: Uint8Array, at: number, record: string): Promise<void> {
    const max = this.options.maxBufferedDeviceBytes ?? DEFAULT_MAX_BUFFERED_DEVICE_BYTES;
    const restAt = this.src.offset;
    const over = (offset: number): Error =>
      new StreamLimitError(`device sections from stream offset ${at} (${record}) and the VM description after them are over the limit of ${describeBytes(max)} buffered until the description arrives`, offset, max);
    if (header.length > max) throw over(at + max);
    const rest = await this.src.bufferRest(max - header.length, over);
    const end = restAt + rest.length;
    const found = findVmdesc(rest);
    if (found === null) {
      throw new StreamError(`the stream ends without a VM description (0x00 EOF, 0x06, be32 length, JSON), which its device sections from offset ${at} need to be walked (${describeBytes(end - at)} buffered)`, end, record);
    }
    let described: readonly VmdescDevice[];
    try {
      described = parseVmDescription(found.json).devices;
    } catch (e) {
      throw new StreamError(`the VM description at the end of the stream cannot describe device sections: ${e instanceof Error ? e.message : String(e)}`, restAt + found.offset + 5, 'VM description', { cause: e });
    }
    for (const d of described) this.described.set(`${d.name}\u0000${d.instance_id}`, d);
    this.buffered = { header, at, rest, restAt, vmdescAt: restAt + found.offset };
  }

  /* footer := 0x7e be32 section_id */
  private async footer(id: number, idstr: string, record: string): Promise<void> {
    const src = this.src;
    const at = src.offset;
    await src.ensure(1, 'section footer');
    const b = src.readU8();
    if (b !== SectionType.Footer) throw new StreamError(`Missing section footer for ${idstr} (byte 0x${hex(b, 2)})`, at, record);
    await src.ensure(4, 'section footer');
    const read = src.readBe32();
    if (read !== id) {
      throw new StreamError(`Mismatched section id in footer for ${idstr} - read 0x${read.toString(16)} expected 0x${id.toString(16)}`, at, record);
    }
  }

  /* livemig-device body := be32 len, len bytes */
  private async deviceState(record: string): Promise<void> {
    const src = this.src;
    const at = src.offset;
    await src.ensure(4, `${record} length`);
    const len = src.readBe32();
    const max = this.options.maxDeviceStateBytes ?? DEFAULT_MAX_DEVICE_STATE_BYTES;
    if (len > max) throw new StreamLimitError(`device state of ${describeBytes(len)} is over the limit of ${describeBytes(max)}`, at, max);
    if (this.target.onDeviceState === undefined) {
      await src.skip(len, `${record} data`);
      return;
    }
    this.target.onDeviceState(await src.readFresh(len, `${record} data`));
  }

  /* livemig-machine body := be32 len, len bytes of JSON */
  private async machine(record: string): Promise<void> {
    const src = this.src;
    const at = src.offset;
    await src.ensure(4, `${record} length`);
    const len = src.readBe32();
    if (len > MAX_MACHINE_CONFIG_BYTES) throw new StreamLimitError(`machine configuration of ${describeBytes(len)} is over the limit of ${describeBytes(MAX_MACHINE_CONFIG_BYTES)}`, at, MAX_MACHINE_CONFIG_BYTES);
    if (this.target.onMachine === undefined) {
      await src.skip(len, `${record} data`);
      return;
    }
    await this.target.onMachine(await src.readFresh(len, `${record} data`));
  }

  /* livemig-digest-chunks body := be32 len, len bytes (16 per chunk of 64 pages, so bounded by the RAM accepted) */
  private async digestChunks(record: string): Promise<void> {
    const src = this.src;
    const at = src.offset;
    await src.ensure(4, `${record} length`);
    const len = src.readBe32();
    const max = (Math.ceil(this.options.maxRamBytes / (64 * 4096)) + MAX_RAM_BLOCKS) * 16;
    if (len > max) throw new StreamLimitError(`chunk digests of ${describeBytes(len)} are over the limit of ${describeBytes(max)} for --max-ram`, at, max);
    if (len % 16 !== 0) throw new StreamError(`chunk digests of ${len} bytes are not whole 16-byte digests`, at, record);
    if (this.target.onDigestChunks === undefined) {
      await src.skip(len, `${record} data`);
      return;
    }
    this.target.onDigestChunks(await src.readFresh(len, `${record} data`));
  }

  /* livemig-digest body := u8 len, algorithm name, u8 len, digest */
  private async digest(record: string): Promise<void> {
    const src = this.src;
    await src.ensure(1, `${record} algorithm`);
    const alen = src.readU8();
    await src.ensure(alen + 1, `${record} algorithm`);
    const algorithm = text.decode(src.take(alen));
    const dlen = src.readU8();
    await src.ensure(dlen, `${record} digest`);
    const digest = src.take(dlen).slice();
    this.target.onDigest?.(algorithm, digest);
  }

  /* COMMAND := 0x08 be16 cmd be16 len len-bytes */
  private async command(at: number): Promise<void> {
    const src = this.src;
    await src.ensure(4, 'command');
    const cmd = src.readBe16();
    const len = src.readBe16();
    const name = COMMAND_NAMES[cmd];
    if (name === undefined) throw new StreamError(`Unsupported migration command ${cmd} (length ${len})`, at, 'command');
    if (len !== 0) throw new StreamError(`${name} received with bad length - expecting 0, received ${len}`, at, 'command');
    this.result.commands.push(cmd);
  }

  /* after EOF: [0x06 be32 len JSON]; a missing description is fine, another byte only a warning */
  private async vmdesc(): Promise<void> {
    const src = this.src;
    const buffered = this.buffered;
    if (buffered !== undefined && src.offset !== buffered.vmdescAt) {
      // the walk and the search from the end disagree about where the sections end
      throw new StreamError(`the device sections end here, but the VM description found at the end of the stream starts at offset ${buffered.vmdescAt}`, src.offset, 'VM description');
    }
    if (await src.atEnd()) return;
    const at = src.offset;
    const b = src.peekU8();
    if (b !== SectionType.VmDescription) {
      this.result.warnings.push(`Expected vmdescription section, but got ${b} at stream offset ${at}`);
      return;
    }
    await src.ensure(5, 'VM description');
    src.readU8();
    const len = src.readBe32();
    const max = this.options.maxVmdescBytes ?? DEFAULT_MAX_VMDESC_BYTES;
    if (len > max) throw new StreamLimitError(`VM description of ${describeBytes(len)} is over the limit of ${describeBytes(max)}`, at + 1, max);
    const bytes = await src.readFresh(len, 'VM description');
    this.target.onVmdesc?.(bytes);
    try {
      this.result.vmdesc = JSON.parse(text.decode(bytes)) as unknown;
    } catch (e) {
      throw new StreamError(`VM description is not valid JSON (${e instanceof Error ? e.message : String(e)})`, at + 5, 'VM description', { cause: e });
    }
  }
}

function unknownInstance(idstr: string, instanceId: number, at: number, record: string): StreamError {
  return new StreamError(`Unknown savevm section or instance '${idstr}' ${instanceId}`, at, record);
}

/* START/FULL header := u8 type, be32 id, u8 len, idstr, be32 instance_id, be32 version_id (as read) */
function sectionHeaderBytes(type: number, id: number, idstr: Uint8Array, instanceId: number, versionId: number): Uint8Array {
  const out = new Uint8Array(14 + idstr.length);
  const v = new DataView(out.buffer);
  out[0] = type;
  v.setUint32(1, id);
  out[5] = idstr.length;
  out.set(idstr, 6);
  v.setUint32(6 + idstr.length, instanceId);
  v.setUint32(10 + idstr.length, versionId);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function hex(v: number, digits: number): string {
  return v.toString(16).padStart(digits, '0');
}
