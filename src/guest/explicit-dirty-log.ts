import { copyBytes } from '../codec/copy-bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { checkBitmap, dirtyBitmapWords, lastWordMask, popcount32 } from './dirty-log.js';
import type { DirtyLog } from './dirty-log.js';
import type { GuestMemory } from './guest-memory.js';
import { PAGE_SIZE } from './page.js';

/**
 * The explicit dirty log: writers set a page's bit in a shared atomic bitmap after writing it
 * (workload workers with `Atomics.or`, main-thread code through {@link ExplicitDirtyLog.write} or
 * {@link ExplicitDirtyLog.mark}). `sync()` takes and clears each word with `Atomics.exchange`,
 * so a write marked concurrently lands either in this sync or in the next, never nowhere: a
 * page is marked *after* its write, so a sync between the write and the mark still sees the
 * mark later and the page is sent again.
 */
export class ExplicitDirtyLog implements DirtyLog {
  readonly kind = 'explicit' as const;
  /** The bitmap's buffer, handed to workload workers (layout as in {@link DirtyLog}). */
  readonly shared: SharedArrayBuffer;
  private readonly bits: Int32Array;
  private readonly pageCount: number;

  /** Starts with every page dirty: nothing has been sent yet. */
  constructor(private readonly memory: GuestMemory) {
    this.pageCount = memory.pageCount;
    this.shared = new SharedArrayBuffer(dirtyBitmapWords(this.pageCount) * 4);
    this.bits = new Int32Array(this.shared);
    this.reset();
  }

  /**
   * Marks one page dirty (safe from any thread holding `shared`).
   * @throws InvalidArgumentError for a page outside the guest.
   */
  mark(globalPage: number): void {
    if (!(globalPage >= 0 && globalPage < this.pageCount) || !Number.isInteger(globalPage)) {
      throw new InvalidArgumentError(`page ${globalPage} is outside the guest (0..${this.pageCount - 1})`);
    }
    Atomics.or(this.bits, globalPage >>> 5, 1 << (globalPage & 31));
  }

  /**
   * The guest's memory API for main-thread writers: copies `src` to global byte address
   * `offsetBytes` (across blocks if needed), then marks every page it touched.
   * @throws InvalidArgumentError if the range is outside the guest.
   */
  write(offsetBytes: number, src: Uint8Array): void {
    const end = offsetBytes + src.length;
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || end > this.memory.totalBytes) {
      throw new InvalidArgumentError(`write ${offsetBytes}+${src.length} is outside guest RAM (${this.memory.totalBytes} bytes)`);
    }
    let done = 0;
    while (done < src.length) {
      const addr = offsetBytes + done;
      const block = this.memory.blockOfPage(Math.floor(addr / PAGE_SIZE));
      const inBlock = addr - block.offsetBytes;
      const n = Math.min(src.length - done, block.sizeBytes - inBlock);
      copyBytes(block.bytes, inBlock, src, done, n);
      done += n;
    }
    if (src.length === 0) return;
    const first = Math.floor(offsetBytes / PAGE_SIZE);
    const last = Math.floor((end - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) Atomics.or(this.bits, p >>> 5, 1 << (p & 31));
  }

  sync(into: Uint32Array): number {
    checkBitmap(into, this.pageCount);
    const bits = this.bits;
    let fresh = 0;
    for (let w = 0; w < bits.length; w++) {
      // A plain load first: most words are clean, and an exchange is a locked write.
      if (Atomics.load(bits, w) === 0) continue;
      const v = Atomics.exchange(bits, w, 0) >>> 0;
      const before = into[w]!;
      fresh += popcount32(v & ~before);
      into[w] = before | v;
    }
    return fresh;
  }

  /** Ignored: the explicit log knows writes, not contents. */
  noteSent(_globalPage: number, _bytes: Uint8Array): void {}

  readonly usesSentBytes = false;

  /** Marks every page dirty. */
  reset(): void {
    const bits = this.bits;
    const last = bits.length - 1;
    for (let w = 0; w < last; w++) Atomics.store(bits, w, -1);
    Atomics.store(bits, last, lastWordMask(this.pageCount) | 0);
  }
}
