/**
 * Writer of the RAM section's records (QEMU migration/ram.c: ram_save_setup,
 * save_page_header, save_zero_page, save_normal_page, save_xbzrle_page).
 *
 *   record   := be64 (offset_in_block | flags)  [u8 len, idstr  unless flags & 0x20 CONTINUE]  body
 *   MEM_SIZE := be64 (total | 0x04), then per block: u8 len, idstr, be64 used_length
 *   ZERO     := header(0x02)  u8 fill
 *   PAGE     := header(0x08)  4096 bytes
 *   XBZRLE   := header(0x40)  u8 encoding (0x01 XBZRLE | 0x02 XBRLE, livemig)  be16 len  len bytes
 *   EOS      := be64 0x10
 *
 * CONTINUE is set when a record names the same block as the previous page record. That
 * "last block" survives section boundaries, as QEMU's last_sent_block does; `reset()` forgets
 * it (QEMU's ram_state_reset at setup). Every method returns the bytes it wrote.
 */
import { InvalidArgumentError } from '../errors.js';
import { PAGE_SIZE_BYTES } from '../codec/index.js';
import type { ByteWriter } from './byte-writer.js';
import { DeltaEncoding, RamFlag } from './constants.js';
import { IdstrCache } from './idstr.js';

/** A RAM block as announced in MEM_SIZE. */
export interface RamBlockInfo {
  readonly idstr: string;
  readonly lengthBytes: number;
}

/** 1 = XBZRLE (QEMU's), 2 = XBRLE (livemig's extension). */
export type DeltaEncodingByte = (typeof DeltaEncoding)[keyof typeof DeltaEncoding];

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Writes RAM records into a ByteWriter and remembers the last block for CONTINUE.
 * Every method throws InvalidArgumentError, before writing anything, for a block name that
 * is empty or over 255 bytes, an offset that is not a page-aligned safe integer, or a bad
 * argument.
 */
export class RamRecordWriter {
  private lastBlock: string | null = null;
  private readonly names = new IdstrCache('RAM block');

  constructor(private readonly out: ByteWriter) {}

  /** Forgets the last block, so the next record names its block (QEMU: ram_state_reset). */
  reset(): void {
    this.lastBlock = null;
  }

  /**
   * The setup record, `be64 (total | 0x04)` then per block `u8 len, idstr, be64 length`, in
   * order. Lengths must be whole pages.
   * @throws InvalidArgumentError for a bad name, length or duplicate.
   */
  memSize(blocks: readonly RamBlockInfo[]): number {
    let total = 0;
    const seen = new Set<string>();
    for (const b of blocks) {
      this.names.get(b.idstr);
      if (seen.has(b.idstr)) throw new InvalidArgumentError(`memSize: RAM block '${b.idstr}' is listed twice`);
      seen.add(b.idstr);
      if (!Number.isSafeInteger(b.lengthBytes) || b.lengthBytes <= 0 || b.lengthBytes % PAGE_SIZE_BYTES !== 0) {
        throw new InvalidArgumentError(`memSize: RAM block '${b.idstr}' length ${b.lengthBytes} is not a positive multiple of ${PAGE_SIZE_BYTES}`);
      }
      total += b.lengthBytes;
    }
    if (!Number.isSafeInteger(total)) throw new InvalidArgumentError(`memSize: total RAM ${total} is too large`);
    const start = this.out.bytesWritten;
    this.writeAddr(total, RamFlag.MemSize);
    for (const b of blocks) {
      const name = this.names.get(b.idstr);
      this.out.writeU8(name.length);
      this.out.writeBytes(name);
      this.out.writeBe64(b.lengthBytes);
    }
    return this.out.bytesWritten - start;
  }

  /**
   * `header(offset | 0x02) u8 fill`: a page whose every byte is `fill` (QEMU sends 0; the
   * seed any byte, which QEMU 7.2 applies and 8.2+ rejects).
   */
  zero(idstr: string, offsetInBlock: number, fill: number): number {
    if (!Number.isInteger(fill) || fill < 0 || fill > 255) throw new InvalidArgumentError(`zero: fill ${fill} is not a byte`);
    const n = this.header(idstr, offsetInBlock, RamFlag.Zero);
    this.out.writeU8(fill);
    return n + 1;
  }

  /** `header(offset | 0x08)` then the 4096 bytes, copied into the stream. */
  page(idstr: string, offsetInBlock: number, bytes: Uint8Array): number {
    if (bytes.length !== PAGE_SIZE_BYTES) throw new InvalidArgumentError(`page: ${bytes.length} bytes given, a page is ${PAGE_SIZE_BYTES}`);
    const n = this.header(idstr, offsetInBlock, RamFlag.Page);
    this.out.writeBytes(bytes);
    return n + PAGE_SIZE_BYTES;
  }

  /**
   * `page` for the 4096 bytes at `mem[at]`, with no view of them made: the sender's first pass
   * sends most pages straight from guest RAM, and a subarray per page was an allocation per page.
   */
  pageAt(idstr: string, offsetInBlock: number, mem: Uint8Array, at: number): number {
    if (!Number.isSafeInteger(at) || at < 0 || at + PAGE_SIZE_BYTES > mem.length) {
      throw new InvalidArgumentError(`pageAt: a page at ${at} does not fit in ${mem.length} bytes`);
    }
    const n = this.header(idstr, offsetInBlock, RamFlag.Page);
    this.out.writeBytesAt(mem, at, PAGE_SIZE_BYTES);
    return n + PAGE_SIZE_BYTES;
  }

  /**
   * `header(offset | 0x40) u8 encoding, be16 len, len bytes`: a delta page. `encoding` 1 is
   * QEMU's XBZRLE, 2 XBRLE (2011)'s (livemig only). QEMU's loader accepts lengths 0..4096.
   */
  xbzrle(idstr: string, offsetInBlock: number, encoding: DeltaEncodingByte, delta: Uint8Array): number {
    return this.xbzrleAt(idstr, offsetInBlock, encoding, delta, 0, delta.length);
  }

  /**
   * `xbzrle` for the `len` bytes at `src[at]`, with no view of them made: the sender's deltas
   * sit at the start of one reused buffer, and a subarray per page was an allocation per page.
   */
  xbzrleAt(idstr: string, offsetInBlock: number, encoding: DeltaEncodingByte, src: Uint8Array, at: number, len: number): number {
    if (encoding !== DeltaEncoding.Xbzrle && encoding !== DeltaEncoding.Xbrle) {
      throw new InvalidArgumentError(`xbzrle: encoding ${encoding} is neither 1 (XBZRLE) nor 2 (XBRLE)`);
    }
    if (!(Number.isSafeInteger(len) && len >= 0)) throw new InvalidArgumentError(`xbzrle: delta length ${len} is not a non-negative integer`);
    if (len > PAGE_SIZE_BYTES) throw new InvalidArgumentError(`xbzrle: delta of ${len} bytes exceeds the page size ${PAGE_SIZE_BYTES}`);
    if (!Number.isSafeInteger(at) || at < 0 || at + len > src.length) {
      throw new InvalidArgumentError(`xbzrleAt: ${len} bytes at ${at} do not fit in ${src.length} bytes`);
    }
    const n = this.header(idstr, offsetInBlock, RamFlag.Xbzrle);
    this.out.writeU8(encoding);
    this.out.writeBe16(len);
    this.out.writeBytesAt(src, at, len);
    return n + 3 + len;
  }

  /** `be64 0x10`: end of this section's RAM data (never CONTINUE, no idstr). */
  eos(): number {
    this.out.writeBe64Parts(0, RamFlag.Eos);
    return 8;
  }

  /** `be64 (offset | flags [| 0x20])` and, unless CONTINUE, `u8 len, idstr`. */
  private header(idstr: string, offsetInBlock: number, flag: number): number {
    if (idstr === this.lastBlock) {
      this.writeAddr(offsetInBlock, flag | RamFlag.Continue);
      return 8;
    }
    const name = this.names.get(idstr);
    this.writeAddr(offsetInBlock, flag);
    this.out.writeU8(name.length);
    this.out.writeBytes(name);
    this.lastBlock = idstr;
    return 9 + name.length;
  }

  private writeAddr(addr: number, flags: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE_BYTES !== 0) {
      throw new InvalidArgumentError(`RAM record offset ${addr} is not a page-aligned non-negative safe integer`);
    }
    this.out.writeBe64Parts(Math.floor(addr / TWO_POW_32), (addr % TWO_POW_32) + flags);
  }
}
