/**
 * The I/O area livemig sets aside beside a guest's RAM (GuestMemoryOptions.ioBytes): in the
 * same WebAssembly.Memory as the RAM, so that a page goes between RAM and the stream's buffers
 * with one `memory.copy` (codec's inPlaceCopy), where a typed-array copy to or from shared
 * memory is V8's word-at-a-time copy (and a bounce through private memory when the two sides
 * are not aligned alike). A source's byte writer keeps its chunks there, a destination's pooled
 * reader its read buffers. Pages of it not used are never touched, so never resident.
 */
import { inPlaceCopy } from '../codec/index.js';
import type { InPlaceCopy } from '../codec/index.js';
import type { GuestMemory, RamBlock } from '../guest/index.js';

/** The destination's part: the pooled reader's buffers (at most six of 1 MiB). */
const READ_BYTES = 6 * 1024 * 1024;
/** The source's part: its byte writer's eight chunks of 256 KiB and their slack. */
const WRITE_BYTES = 3 * 1024 * 1024 - 4096;
/** Then a page for the destination's hash results (LandedPageHashes' slot). */
const SLOT_BYTES = 4096;
/**
 * Bytes to set aside: the reader's part, the writer's, and the hash slot, apart, so that a
 * guest that arrived here and leaves again never has two of them share a byte.
 */
export const IO_AREA_BYTES = READ_BYTES + WRITE_BYTES + SLOT_BYTES;

/**
 * The memory's I/O area for reading (a destination's reader) or writing (a source's byte
 * writer), and the in-place copy of the memory it lies in; undefined when the memory has no
 * area big enough (or the copy cannot load).
 */
export function ioAreaOf(memory: GuestMemory | undefined, use: 'read' | 'write'): { bytes: Uint8Array; copy: InPlaceCopy } | undefined {
  const io = memory?.ioArea;
  const wasm = io?.block.wasmMemory;
  if (io === undefined || wasm === undefined || io.bytes.length < IO_AREA_BYTES) return undefined;
  const copy = inPlaceCopy(wasm);
  if (copy === undefined) return undefined;
  return { bytes: use === 'read' ? io.bytes.subarray(0, READ_BYTES) : io.bytes.subarray(READ_BYTES, READ_BYTES + WRITE_BYTES), copy };
}

/** The memory's slot for landed pages' hash results (see LandedPageHashes), or undefined without an I/O area big enough. */
export function hashSlotOf(memory: GuestMemory | undefined): { block: RamBlock; bytes: Uint8Array } | undefined {
  const io = memory?.ioArea;
  if (io === undefined || io.block.wasmMemory === undefined || io.bytes.length < IO_AREA_BYTES) return undefined;
  return { block: io.block, bytes: io.bytes.subarray(READ_BYTES + WRITE_BYTES, READ_BYTES + WRITE_BYTES + 16) };
}
