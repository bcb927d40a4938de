/**
 * Loader of the RAM section's records (QEMU migration/ram.c: ram_load_precopy,
 * ram_block_from_stream, parse_ramblocks, load_xbzrle), with QEMU's checks and a few of
 * livemig's own (bounds before allocation, block lengths, a sum that must land exactly).
 *
 *   record := be64 (offset_in_block | flags)  [u8 len, idstr  unless flags & 0x20 CONTINUE]  body
 *   flags  := the 12 low bits; dispatch is on exact equality of (flags & ~CONTINUE)
 *     0x04 MEM_SIZE  offset field = total bytes; then until the total is used up:
 *                    u8 len, idstr, be64 length            (no idstr/CONTINUE after the be64)
 *     0x02 ZERO      u8 fill (any fill accepted and applied, as QEMU 7.2 does)
 *     0x08 PAGE      4096 bytes
 *     0x40 XBZRLE    u8 encoding (0x01 XBZRLE; 0x02 XBRLE, livemig), be16 len <= 4096, len bytes
 *     0x10 EOS       end of this section's RAM data
 *
 * The last block named survives section boundaries (QEMU's last_recv_block).
 * Error offsets: header problems (flags, block, offset) name the record's first byte;
 * payload problems name the payload field; a delta that does not decode names the bad byte.
 */
import { DeltaError, LivemigError, StreamError } from '../errors.js';
import { copyBytes, fillPage, PAGE_SIZE_BYTES, xbrleDecodeAt, xbzrleDecodeAt } from '../codec/index.js';
import type { InPlaceCopy } from '../codec/index.js';
import type { ByteSource } from './byte-source.js';
import { DeltaEncoding, RamFlag, RAM_FLAGS_MASK } from './constants.js';
import { describeBytes, MAX_RAM_BLOCKS, StreamLimitError } from './limits.js';
import type { RamBlockInfo } from './ram-writer.js';

/** Record kinds as counted and reported. */
export type RecordKind = 'memSize' | 'zero' | 'page' | 'xbzrle' | 'xbrle' | 'eos';

/** Records seen, by kind. */
export interface RecordCounts {
  memSize: number;
  zero: number;
  page: number;
  xbzrle: number;
  xbrle: number;
  eos: number;
}

/** A fresh all-zero count. */
export function emptyCounts(): RecordCounts {
  return { memSize: 0, zero: 0, page: 0, xbzrle: 0, xbrle: 0, eos: 0 };
}

/** Adds `b` into `a`. */
export function addCounts(a: RecordCounts, b: RecordCounts): void {
  a.memSize += b.memSize;
  a.zero += b.zero;
  a.page += b.page;
  a.xbzrle += b.xbzrle;
  a.xbrle += b.xbrle;
  a.eos += b.eos;
}

/** What the RAM loader needs from the destination. */
export interface RamLoadTarget {
  /**
   * Called once with the advertised block list (already checked against `maxRamBytes`).
   * Returns the memory to load each accepted block into, sized exactly; a block left out
   * makes any record for it fail. Throw to refuse the migration.
   */
  setupRam(blocks: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> | Promise<ReadonlyMap<string, Uint8Array>>;
  /**
   * Called after each record, for statistics (keep it cheap). `payloadBytes` is the fill
   * byte (1), the page (4096), the delta length, or 0.
   */
  onRecord?(kind: RecordKind, idstr: string | null, payloadBytes: number): void;
  /**
   * Called for each page a record wrote into the target's memory (a ZERO record for a page
   * known to hold zero writes nothing and is not reported): a destination hashes what landed.
   * `fill` is the byte a ZERO record filled the page with, -1 for a page of data.
   */
  onPageLanded?(idstr: string, offset: number, fill: number): void;
  /**
   * Optional: for a block `setupRam` accepted, a copy by byte addresses within the memory its
   * bytes lie in (codec's inPlaceCopy on its WebAssembly.Memory). A page whose record was read
   * into that same memory (a reader whose buffers lie beside the RAM) goes into RAM with it:
   * one memmove, where a typed-array copy into shared memory is word-at-a-time and, between
   * sides not aligned alike, goes through a bounce buffer.
   */
  inPlaceCopy?(idstr: string): InPlaceCopy | undefined;
  /**
   * True when the memory `setupRam` returns is all zero (freshly allocated): a ZERO record
   * for a page no record has written yet then costs nothing, not even a read (the destination
   * of an idle guest would otherwise read all its RAM while the source sends it).
   */
  readonly ramStartsZero?: boolean;
  /**
   * Records for a block `setupRam` left out are read and checked but not applied, instead of
   * failing the load: a scan that validates a stream without holding its RAM. Their XBZRLE
   * deltas are not decoded (there is no old page to decode against).
   */
  readonly discardUnaccepted?: boolean;
}

interface Block {
  readonly idstr: string;
  readonly lengthBytes: number;
  /** null when advertised but not accepted by the target. */
  readonly mem: Uint8Array | null;
  /** With `ramStartsZero`: one bit per page, set once a record may have made it non-zero. */
  readonly written: Uint32Array | null;
  /** `mem.buffer`, and the target's in-place copy for it (null: none). */
  readonly buffer: ArrayBufferLike | null;
  readonly copy: InPlaceCopy | null;
}

const TWO_POW_32 = 0x1_0000_0000;
/** A be64's high half at or above this makes the value ≥ 2^53: no block is that large. */
const HI_LIMIT = 0x20_0000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class RamLoader {
  private blocks: Map<string, Block> | null = null;
  private advertised: RamBlockInfo[] = [];
  private lastBlock: Block | null = null;

  constructor(
    private readonly src: ByteSource,
    private readonly target: RamLoadTarget,
    private readonly maxRamBytes: number,
  ) {}

  /** The block list from MEM_SIZE (empty before it arrives). */
  get blockList(): readonly RamBlockInfo[] {
    return this.advertised;
  }

  /**
   * Loads records up to and including EOS, adding to `counts`.
   * @throws StreamError / StreamLimitError naming the record and its offset.
   */
  async loadSection(counts: RecordCounts): Promise<void> {
    const src = this.src;
    const target = this.target;
    for (;;) {
      const at = src.offset;
      if (src.available < 8) await src.ensure(8, 'RAM record header');
      const hi = src.readBe32();
      const lo = src.readBe32();
      const flags = lo & RAM_FLAGS_MASK;
      const kind = flags & ~RamFlag.Continue;
      switch (kind) {
        case RamFlag.Eos:
          counts.eos++;
          target.onRecord?.('eos', null, 0);
          return;
        case RamFlag.MemSize:
          await this.loadMemSize(hi, lo - flags, at);
          counts.memSize++;
          target.onRecord?.('memSize', null, 0);
          break;
        case RamFlag.Zero: {
          const block = this.continued(flags) ?? (await this.block(flags, at));
          const offset = this.pageOffset(block, hi, lo - flags, at);
          if (src.available < 1) await src.ensure(1, recordName('ZERO', block, offset) + ' fill byte');
          const fill = src.readU8();
          if (block.mem !== null && (fill !== 0 || mayBeWritten(block, offset))) {
            fillPage(block.mem!, offset, fill); // reads only, when the page holds the fill already
            markWritten(block, offset);
            target.onPageLanded?.(block.idstr, offset, fill);
          }
          counts.zero++;
          target.onRecord?.('zero', block.idstr, 1);
          break;
        }
        case RamFlag.Page: {
          const block = this.continued(flags) ?? (await this.block(flags, at));
          const offset = this.pageOffset(block, hi, lo - flags, at);
          if (src.available < PAGE_SIZE_BYTES) await src.ensure(PAGE_SIZE_BYTES, recordName('PAGE', block, offset) + ' data');
          const dataAt = src.takeAt(PAGE_SIZE_BYTES);
          if (block.mem !== null) {
            const win = src.windowBytes;
            if (block.copy !== null && src.windowBuffer === block.buffer) block.copy(block.mem.byteOffset + offset, win.byteOffset + dataAt, PAGE_SIZE_BYTES);
            else copyBytes(block.mem, offset, win, dataAt, PAGE_SIZE_BYTES); // RAM may be shared memory
            target.onPageLanded?.(block.idstr, offset, -1);
          }
          markWritten(block, offset);
          counts.page++;
          target.onRecord?.('page', block.idstr, PAGE_SIZE_BYTES);
          break;
        }
        case RamFlag.Xbzrle: {
          const block = this.continued(flags) ?? (await this.block(flags, at));
          const offset = this.pageOffset(block, hi, lo - flags, at);
          // inline, not an async helper: an await of a helper costs a promise per record
          if (src.available < 3) await src.ensure(3, recordName('XBZRLE', block, offset) + ' header');
          const encAt = src.offset;
          const encoding = src.readU8();
          const len = src.readBe16();
          checkDeltaHeader(encoding, len, encAt, block, offset);
          if (src.available < len) await src.ensure(len, recordName('XBZRLE', block, offset) + ' payload');
          if (block.mem !== null) {
            this.applyDelta(block, offset, encoding, len);
            target.onPageLanded?.(block.idstr, offset, -1);
          } else src.takeAt(len);
          if (encoding === DeltaEncoding.Xbzrle) {
            counts.xbzrle++;
            target.onRecord?.('xbzrle', block.idstr, len);
          } else {
            counts.xbrle++;
            target.onRecord?.('xbrle', block.idstr, len);
          }
          break;
        }
        default: {
          // QEMU has no flag above 0x200: 0x400/0x800 are offset bits of a misaligned page
          const hint = (flags & 0xc00) !== 0 ? ` (bits 0x${(flags & 0xc00).toString(16)} are not flags: an offset not aligned to the ${PAGE_SIZE_BYTES}-byte page?)` : '';
          throw new StreamError(`Unknown combination of migration flags: 0x${flags.toString(16)}${hint}`, at, 'ram record');
        }
      }
    }
  }

  /**
   * Applies an XBZRLE record's `len` payload bytes, which the source holds, to the page in
   * place.
   */
  private applyDelta(block: Block, offset: number, encoding: number, len: number): void {
    const src = this.src;
    const payloadAt = src.offset;
    const deltaAt = src.takeAt(len);
    const window = src.windowBytes;
    try {
      if (encoding === DeltaEncoding.Xbzrle) {
        xbzrleDecodeAt(window, deltaAt, len, block.mem!, offset, PAGE_SIZE_BYTES);
      } else {
        xbrleDecodeAt(window, deltaAt, len, block.mem!, offset, PAGE_SIZE_BYTES);
      }
    } catch (e) {
      if (e instanceof DeltaError) {
        const name = encoding === DeltaEncoding.Xbzrle ? 'XBZRLE' : 'XBRLE';
        throw new StreamError(`Failed to load XBZRLE page - decode error (${name}: ${e.message})`, payloadAt + e.offset, recordName('XBZRLE', block, offset), { cause: e });
      }
      throw e;
    }
    markWritten(block, offset);
  }

  /** The last block, for a CONTINUE record (nearly all of them): no read, so no await per record. */
  private continued(flags: number): Block | null {
    return (flags & RamFlag.Continue) !== 0 ? this.lastBlock : null;
  }

  /** The record's block: the last one under CONTINUE, else the idstr that follows. */
  private async block(flags: number, at: number): Promise<Block> {
    const src = this.src;
    if ((flags & RamFlag.Continue) !== 0) {
      if (this.lastBlock === null) {
        throw new StreamError('RAM record has the CONTINUE flag but no block was named before it (Ack, bad migration stream!)', at, 'ram record');
      }
      return this.lastBlock;
    }
    if (src.available < 1) await src.ensure(1, 'RAM record block name length');
    const len = src.peekU8();
    if (src.available < 1 + len) await src.ensure(1 + len, 'RAM record block name');
    src.readU8();
    const idstr = decodeName(src.take(len), at);
    const block = this.blocks?.get(idstr);
    if (block === undefined) throw new StreamError(`Unknown RAM block '${idstr}' (Can't find block)`, at, `ram record ${idstr}`);
    if (block.mem === null && this.target.discardUnaccepted !== true) throw new StreamError(`RAM block '${idstr}' was not accepted by the destination`, at, `ram record ${idstr}`);
    this.lastBlock = block;
    return block;
  }

  /** The page's offset in `block`, checked against the block's length. */
  private pageOffset(block: Block, hi: number, loOffset: number, at: number): number {
    if (hi >= HI_LIMIT || hi * TWO_POW_32 + loOffset >= block.lengthBytes) {
      const off = `${hi === 0 ? '' : hi.toString(16)}${hi === 0 ? loOffset.toString(16) : loOffset.toString(16).padStart(8, '0')}`;
      throw new StreamError(`Illegal RAM offset 0x${off} in block '${block.idstr}' of length 0x${block.lengthBytes.toString(16)}`, at, `ram record ${block.idstr}+0x${off}`);
    }
    return hi * TWO_POW_32 + loOffset;
  }

  /*
   * MEM_SIZE: be64 (total | 0x04), then until `total` is used up: u8 len, idstr, be64 length.
   * The total is checked against maxRamBytes before anything else is read or allocated.
   */
  private async loadMemSize(hi: number, loTotal: number, at: number): Promise<void> {
    const src = this.src;
    if (this.blocks !== null) throw new StreamError('RAM block list (MEM_SIZE) sent a second time', at, 'ram record MEM_SIZE');
    if (hi >= HI_LIMIT || hi * TWO_POW_32 + loTotal > this.maxRamBytes) {
      const total = hi >= HI_LIMIT ? `0x${hi.toString(16)}${loTotal.toString(16).padStart(8, '0')} bytes` : describeBytes(hi * TWO_POW_32 + loTotal);
      throw new StreamLimitError(`The stream advertises ${total} of RAM, over the limit of ${describeBytes(this.maxRamBytes)} (--max-ram)`, at, this.maxRamBytes);
    }
    const total = hi * TWO_POW_32 + loTotal;
    let left = total;
    const list: RamBlockInfo[] = [];
    const seen = new Set<string>();
    while (left > 0) {
      const entryAt = src.offset;
      if (list.length >= MAX_RAM_BLOCKS) {
        throw new StreamLimitError(`RAM block list has more than ${MAX_RAM_BLOCKS} blocks`, entryAt, MAX_RAM_BLOCKS);
      }
      await src.ensure(1, 'RAM block list entry');
      const len = src.peekU8();
      await src.ensure(1 + len + 8, 'RAM block list entry');
      src.readU8();
      const idstr = decodeName(src.take(len), entryAt);
      const lhi = src.readBe32();
      const llo = src.readBe32();
      const record = `ram record MEM_SIZE block '${idstr}'`;
      if (len === 0) throw new StreamError('RAM block with an empty name', entryAt, record);
      if (seen.has(idstr)) throw new StreamError(`RAM block '${idstr}' is listed twice`, entryAt, record);
      seen.add(idstr);
      const length = lhi * TWO_POW_32 + llo;
      if (lhi >= HI_LIMIT || length > left) {
        throw new StreamError(`RAM block '${idstr}' of 0x${lhi === 0 ? llo.toString(16) : lhi.toString(16) + llo.toString(16).padStart(8, '0')} bytes overruns the advertised total 0x${total.toString(16)} (0x${left.toString(16)} left)`, entryAt, record);
      }
      if (length === 0 || length % PAGE_SIZE_BYTES !== 0) {
        throw new StreamError(`RAM block '${idstr}' length 0x${length.toString(16)} is not a positive multiple of the page size ${PAGE_SIZE_BYTES}`, entryAt, record);
      }
      list.push({ idstr, lengthBytes: length });
      left -= length;
    }
    let accepted: ReadonlyMap<string, Uint8Array>;
    try {
      accepted = await this.target.setupRam(list);
    } catch (e) {
      if (e instanceof LivemigError) throw e;
      throw new StreamError(`RAM block list refused by the destination: ${e instanceof Error ? e.message : String(e)}`, at, 'ram record MEM_SIZE', { cause: e });
    }
    const blocks = new Map<string, Block>();
    for (const b of list) {
      const mem = accepted.get(b.idstr) ?? null;
      if (mem !== null && mem.length !== b.lengthBytes) {
        throw new StreamError(`Size mismatch: RAM block '${b.idstr}' is 0x${b.lengthBytes.toString(16)} bytes in the stream, 0x${mem.length.toString(16)} at the destination`, at, 'ram record MEM_SIZE');
      }
      const written = mem !== null && this.target.ramStartsZero === true ? new Uint32Array(Math.ceil(b.lengthBytes / PAGE_SIZE_BYTES / 32)) : null;
      const copy = mem !== null ? (this.target.inPlaceCopy?.(b.idstr) ?? null) : null;
      blocks.set(b.idstr, { idstr: b.idstr, lengthBytes: b.lengthBytes, mem, written, buffer: mem?.buffer ?? null, copy });
    }
    this.blocks = blocks;
    this.advertised = list;
  }
}

/** An XBZRLE record's encoding byte (at `encAt`) and payload length, as QEMU checks them. */
function checkDeltaHeader(encoding: number, len: number, encAt: number, block: Block, offset: number): void {
  if (encoding !== DeltaEncoding.Xbzrle && encoding !== DeltaEncoding.Xbrle) {
    throw new StreamError(`Failed to load XBZRLE page - wrong compression (encoding byte 0x${hex(encoding)}; 0x01 is XBZRLE, 0x02 XBRLE)`, encAt, recordName('XBZRLE', block, offset));
  }
  if (len > PAGE_SIZE_BYTES) {
    throw new StreamError(`Failed to load XBZRLE page - len overflow (${len} bytes exceeds the page size ${PAGE_SIZE_BYTES})`, encAt + 1, recordName('XBZRLE', block, offset));
  }
}

/** False only for a page of RAM that started zero and that no record has written since. */
function mayBeWritten(block: Block, offset: number): boolean {
  const w = block.written;
  if (w === null) return true;
  const page = offset / PAGE_SIZE_BYTES;
  return (w[page >>> 5]! & (1 << (page & 31))) !== 0;
}

function markWritten(block: Block, offset: number): void {
  const w = block.written;
  if (w === null) return;
  const page = offset / PAGE_SIZE_BYTES;
  w[page >>> 5]! |= 1 << (page & 31);
}

function decodeName(bytes: Uint8Array, at: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new StreamError('RAM block name is not valid UTF-8', at, 'ram record');
  }
}

function recordName(kind: string, block: Block, offset: number): string {
  return `${kind} record ${block.idstr}+0x${offset.toString(16)}`;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
