/**
 * A big-endian byte writer that fills fixed-size chunks and hands each full chunk to an
 * async sink, one call at a time, in order. A chunk handed over is never touched again until
 * the sink calls the `release` it was given (a socket does once the kernel took the bytes);
 * released chunks are reused, so a long stream allocates a handful of chunks, not one per
 * 256 KiB. (Fresh large allocations are mmap'd and fault in page by page: on a VM that costs
 * more than the copy itself.) A sink that keeps its chunks never calls `release`.
 *
 * A chunk may start up to 7 bytes into its buffer: before a large copy into a chunk that holds
 * only a few bytes, those bytes move so that the copy's destination and source share their
 * address modulo 8. Page data follows 5 to 15 bytes of framing (section header, record
 * header), and a page copied out of shared memory at a different alignment costs two copies
 * (see copyBytes); whole-page records (8 + 4096 bytes) then keep that alignment page after page.
 *
 * The first sink failure is sticky (QEMU's qemu_file_set_error): later writes are no-ops and
 * `flush()`/`drain()` reject with it.
 */
import { copyBytes } from '../codec/index.js';
import type { InPlaceCopy } from '../codec/index.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * Receives a chunk of stream bytes. The chunk is the sink's until it calls `release()` (at
 * most once, when it no longer needs the bytes); a sink that never calls it keeps the chunk.
 */
export type ChunkSink = (chunk: Uint8Array, release: () => void) => Promise<void>;

export interface ByteWriterOptions {
  /** Bytes per chunk handed to the sink (default 256 KiB, at least 64). */
  chunkBytes?: number;
  /**
   * Memory beside the guest's RAM, in the same WebAssembly.Memory (GuestMemory.ioArea), and
   * the copy by byte addresses within that memory (codec's inPlaceCopy): the chunks are carved
   * from `bytes` (as many as fit, up to the pool's size), and bytes written from that same
   * memory (a page of RAM) go in with one memmove instead of V8's word-at-a-time copy out of
   * shared memory. Chunks the area cannot hold are allocated as usual.
   */
  area?: { bytes: Uint8Array; copy: InPlaceCopy };
}

/** 256 KiB: large enough that sink calls are rare, small enough to keep latency low. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
const MIN_CHUNK_BYTES = 64;
/** Released chunks kept for reuse; more in flight than this is only possible with a sink that buffers. */
const POOL_CHUNKS = 8;
const TWO_POW_32 = 0x1_0000_0000;
/** Spare bytes at a buffer's start, so that a chunk can begin at any alignment. */
const ALIGN_SLACK = 8;
/** Copies at least this long may realign a chunk... */
const REALIGN_MIN_COPY = 1024;
/** ...that holds at most this many bytes (moved within the buffer). */
const REALIGN_MAX_HELD = 64;

export class ByteWriter {
  private readonly chunkBytes: number;
  private chunk: Uint8Array | null = null;
  private view: DataView | null = null;
  /** Where the current chunk begins in its buffer (0..ALIGN_SLACK), and where it must end. */
  private start = 0;
  private limit = 0;
  /** Next byte's index in the chunk's buffer. */
  private pos = 0;
  private written = 0;
  private failure: { error: unknown } | null = null;
  private readonly queue: Uint8Array[] = [];
  /** Each queued chunk's whole buffer view (what goes back to the pool). */
  private readonly queueFull: Uint8Array[] = [];
  /** The area's buffer and copy (null: none); whether the current chunk lies in it. */
  private readonly areaBuffer: ArrayBufferLike | null = null;
  private readonly areaCopy: InPlaceCopy | null = null;
  private chunkInArea = false;
  /** The last source `writeBytesAt` saw, and whether it lies in the area's memory (a `.buffer` per page costs a call into V8). */
  private lastSrc: Uint8Array | null = null;
  private lastSrcInArea = false;
  private queuedBytes = 0;
  private pumping: Promise<void> | null = null;
  /** Released chunks' whole buffer views, ready for reuse. */
  private readonly free: Uint8Array[] = [];
  private allocated = 0;

  constructor(private readonly sink: ChunkSink, options: ByteWriterOptions = {}) {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES) {
      throw new InvalidArgumentError(`ByteWriter: chunkBytes must be an integer >= ${MIN_CHUNK_BYTES}, got ${chunkBytes}`);
    }
    this.chunkBytes = chunkBytes;
    const area = options.area;
    if (area !== undefined) {
      const slot = chunkBytes + ALIGN_SLACK;
      // slots start 8-aligned (see realign); the area's start is its memory's 64 KiB page
      const n = Math.min(POOL_CHUNKS, Math.floor(area.bytes.length / slot));
      if (n > 0) {
        this.areaBuffer = area.bytes.buffer;
        this.areaCopy = area.copy;
        for (let i = n - 1; i >= 0; i--) this.free.push(area.bytes.subarray(i * slot, (i + 1) * slot));
      }
    }
  }

  /** Bytes accepted so far (including those not yet handed to the sink). */
  get bytesWritten(): number {
    return this.written;
  }

  /** Bytes handed over whose sink call has not finished yet. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Chunks allocated so far (reuse keeps this small; a test and the benchmark read it). */
  get chunksAllocated(): number {
    return this.allocated;
  }

  /** True once the sink failed (writes are no-ops from then on). */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** The sticky sink failure, if one happened. */
  get error(): unknown {
    return this.failure?.error;
  }

  writeU8(v: number): void {
    if (this.failure) return;
    this.room(1);
    this.chunk![this.pos++] = v;
    this.written += 1;
  }

  writeBe16(v: number): void {
    if (this.failure) return;
    this.room(2);
    this.view!.setUint16(this.pos, v);
    this.pos += 2;
    this.written += 2;
  }

  writeBe32(v: number): void {
    if (this.failure) return;
    this.room(4);
    this.view!.setUint32(this.pos, v);
    this.pos += 4;
    this.written += 4;
  }

  /**
   * A be64 from a non-negative safe integer (exact up to 2^53 - 1).
   * @throws InvalidArgumentError for anything else.
   */
  writeBe64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`writeBe64: ${v} is not a non-negative safe integer`);
    this.writeBe64Parts(Math.floor(v / TWO_POW_32), v % TWO_POW_32);
  }

  /** A be64 given as its high and low 32-bit halves (each taken as unsigned). */
  writeBe64Parts(hi: number, lo: number): void {
    if (this.failure) return;
    this.room(8);
    this.view!.setUint32(this.pos, hi >>> 0);
    this.view!.setUint32(this.pos + 4, lo >>> 0);
    this.pos += 8;
    this.written += 8;
  }

  /** Copies `bytes` into the stream (the caller may reuse `bytes` at once). */
  writeBytes(bytes: Uint8Array): void {
    this.writeBytesAt(bytes, 0, bytes.length);
  }

  /** Copies the `n` bytes at `src[at]` into the stream (the caller checked the range). */
  writeBytesAt(src: Uint8Array, at: number, n: number): void {
    if (this.failure) return;
    if (src !== this.lastSrc) {
      this.lastSrc = src;
      this.lastSrcInArea = this.areaBuffer !== null && src.buffer === this.areaBuffer;
    }
    let from = at;
    const end = at + n;
    while (from < end) {
      this.room(1);
      const k = Math.min(end - from, this.limit - this.pos); // realign keeps limit - pos
      if (this.chunkInArea && this.lastSrcInArea) {
        this.areaCopy!(this.chunk!.byteOffset + this.pos, src.byteOffset + from, k); // one memmove, any alignment
      } else {
        if (end - from >= REALIGN_MIN_COPY && this.pos - this.start <= REALIGN_MAX_HELD) this.realign(src.byteOffset + from);
        copyBytes(this.chunk!, this.pos, src, from, k); // guest RAM is shared memory: see copyBytes
      }
      this.pos += k;
      from += k;
    }
    this.written += n;
  }

  /**
   * Hands the partial chunk to the sink and waits until every chunk so far was accepted.
   * @throws the sink's first error (sticky).
   */
  async flush(): Promise<void> {
    if (!this.failure && this.chunk !== null && this.pos > this.start) this.handOver();
    await this.drain(0);
  }

  /**
   * Waits until at most `maxPendingBytes` handed-over bytes wait for the sink: back-pressure
   * for a producer that writes faster than the transport drains.
   * @throws the sink's first error (sticky).
   */
  async drain(maxPendingBytes = 0): Promise<void> {
    while (this.failure === null && this.queuedBytes > maxPendingBytes && this.pumping !== null) await this.pumping;
    if (this.failure !== null) throw this.failure.error;
  }

  /** Makes room for `n` (at most 8) contiguous bytes, handing over the current chunk if needed. */
  private room(n: number): void {
    if (this.chunk !== null && this.pos + n > this.limit) this.handOver();
    if (this.chunk === null) {
      const reused = this.free.pop();
      if (reused === undefined) this.allocated++;
      const chunk = (this.chunk = reused ?? new Uint8Array(this.chunkBytes + ALIGN_SLACK));
      this.chunkInArea = this.areaBuffer !== null && chunk.buffer === this.areaBuffer;
      this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
      this.start = this.pos = 0;
      this.limit = this.chunkBytes;
    }
  }

  /**
   * Moves the current chunk's few bytes so that the next byte's address and `srcAddr` are
   * equal modulo 8, the chunk still beginning within its buffer's slack and keeping its size.
   */
  private realign(srcAddr: number): void {
    let shift = (srcAddr - (this.chunk!.byteOffset + this.pos)) & 7;
    if (shift === 0) return;
    if (this.start + shift > ALIGN_SLACK) shift -= 8;
    const chunk = this.chunk!;
    if (this.pos > this.start) chunk.copyWithin(this.start + shift, this.start, this.pos);
    this.start += shift;
    this.pos += shift;
    this.limit += shift;
  }

  /** A release for `chunk`: returns its buffer to the pool once (a second call is ignored). */
  private releaser(full: Uint8Array): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.free.length < POOL_CHUNKS && this.failure === null) this.free.push(full);
    };
  }

  private handOver(): void {
    const chunk = this.chunk!.subarray(this.start, this.pos);
    this.queueFull.push(this.chunk!);
    this.chunk = null;
    this.view = null;
    this.start = this.pos = this.limit = 0;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.pumping === null) this.pumping = this.pump();
  }

  /** Feeds queued chunks to the sink one at a time; stops for good at the first failure. */
  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const chunk = this.queue[0]!;
        try {
          await this.sink(chunk, this.releaser(this.queueFull[0]!));
        } catch (error) {
          this.failure = { error };
          this.queue.length = 0;
          this.queueFull.length = 0;
          this.queuedBytes = 0;
          this.chunk = null;
          this.view = null;
          this.start = this.pos = this.limit = 0;
          return;
        }
        this.queue.shift();
        this.queueFull.shift();
        this.queuedBytes -= chunk.length;
      }
    } finally {
      this.pumping = null;
    }
  }
}
