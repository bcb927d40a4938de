/**
 * The destination's ZERO record: make a page of guest RAM all one byte, cheaply.
 *
 * Guest RAM is shared memory, where V8's `fill` stores one byte at a time (about 2 GB/s);
 * and the destination's RAM is mostly zero already (prepared before the stream, or sent as
 * zero pages before). So, as QEMU's ram_handle_zero does, a page that already holds the fill
 * is only read (a word-wise test), and one that does not is written from a private page of
 * that byte (word-wise copy). On this 2-vCPU VM the destination streaming through its RAM
 * also slowed the source's scan of its own by up to 2×: the two share memory bandwidth.
 */
import { copyBytes } from './copy-bytes.js';
import { PAGE_SIZE_BYTES } from './page.js';

const WORDS = PAGE_SIZE_BYTES >> 2;
/** A private page of `patternByte`, the source of fills. */
const pattern = new Uint8Array(PAGE_SIZE_BYTES);
let patternByte = 0;
/** The word view of the last array tested (the loader works on one block at a time). */
let lastMem: Uint8Array | undefined;
let lastWords: Int32Array | undefined;

function wordsOf(mem: Uint8Array): Int32Array | undefined {
  if (mem !== lastMem) {
    lastMem = mem;
    lastWords = (mem.byteOffset & 3) === 0 ? new Int32Array(mem.buffer, mem.byteOffset, mem.length >> 2) : undefined;
  }
  return lastWords;
}

/** True when the page at `mem[at..at + 4096)` is all `fill`. */
export function pageHoldsFill(mem: Uint8Array, at: number, fill: number): boolean {
  const words = (at & 3) === 0 ? wordsOf(mem) : undefined;
  if (words === undefined) {
    for (let i = at; i < at + PAGE_SIZE_BYTES; i++) if (mem[i] !== fill) return false;
    return true;
  }
  const f = Math.imul(fill, 0x01010101);
  const end = (at >> 2) + WORDS;
  for (let i = at >> 2; i < end; i += 8) {
    if (((words[i]! ^ f) | (words[i + 1]! ^ f) | (words[i + 2]! ^ f) | (words[i + 3]! ^ f) | (words[i + 4]! ^ f) | (words[i + 5]! ^ f) | (words[i + 6]! ^ f) | (words[i + 7]! ^ f)) !== 0) return false;
  }
  return true;
}

/** Makes the page at `mem[at..at + 4096)` all `fill` (a byte), writing only if it is not already. */
export function fillPage(mem: Uint8Array, at: number, fill: number): void {
  if (pageHoldsFill(mem, at, fill)) return;
  if (fill !== patternByte) {
    pattern.fill(fill);
    patternByte = fill;
  }
  copyBytes(mem, at, pattern, 0, PAGE_SIZE_BYTES);
}
