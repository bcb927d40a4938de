/**
 * Page buffers in the SIMD kernel's own memory, for library users who encode many pages: the
 * public encoders read such a view in place, where a plain Uint8Array is first copied into
 * the kernel's memory (about half the time of a sparse page's encode).
 */
import { InvalidArgumentError } from '../errors.js';
import { KernelView, selectedKernel } from './kernel.js';
import { PAGE_SIZE_BYTES } from './page.js';

/** Largest single buffer handed out (1 GiB); larger regions take several. */
const MAX_CODEC_BUFFER_BYTES = 1 << 30;

/**
 * A zero-filled Uint8Array of `bytes` bytes in the codec kernel's memory (a plain Uint8Array
 * when the SIMD kernel is not in use, or its memory cannot grow). Any subarray of it (a page at
 * any offset) is read in place by xbzrleEncode and xbrleEncode. It is backed by a
 * SharedArrayBuffer and stays valid until given to freeCodecBuffer; growing the memory never
 * detaches it.
 * @throws InvalidArgumentError when `bytes` is not an integer in 1..2^30.
 */
export function allocCodecBuffer(bytes: number): Uint8Array {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_CODEC_BUFFER_BYTES) {
    throw new InvalidArgumentError(`allocCodecBuffer: ${bytes} bytes is not an integer in 1..${MAX_CODEC_BUFFER_BYTES}`);
  }
  const k = selectedKernel();
  const v = k.allocBuffer(bytes);
  return k.arenaOffset(v) >= 0 ? new KernelView(v.buffer, v.byteOffset, v.length) : v;
}

/** allocCodecBuffer for one page (4096 bytes unless told). */
export function allocCodecPage(bytes: number = PAGE_SIZE_BYTES): Uint8Array {
  return allocCodecBuffer(bytes);
}

/**
 * Gives back a buffer from allocCodecBuffer or allocCodecPage (the view it returned, not a
 * subarray); anything else is ignored. The buffer must not be used afterwards: its bytes
 * will be handed out again.
 */
export function freeCodecBuffer(buf: Uint8Array): void {
  selectedKernel().freeBuffer(buf);
}

/** True when `view` lies in the codec kernel's memory, so the encoders read it in place. */
export function isCodecBuffer(view: Uint8Array): boolean {
  return selectedKernel().arenaOffset(view) >= 0;
}
