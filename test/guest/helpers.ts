import { setTimeout as sleepMs } from 'node:timers/promises';
import { GuestMemory } from '../../src/guest/index.js';
import type { DirtyLog } from '../../src/guest/index.js';

/** Test helpers shared by the guest tests. */
export const sleep = (ms: number): Promise<unknown> => sleepMs(ms);

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A fresh memory with the same block layout as `src` and a copy of its bytes (a "destination"). */
export function copyMemory(src: GuestMemory): GuestMemory {
  const dst = new GuestMemory(src.blocks.map((b) => ({ idstr: b.idstr, sizeBytes: b.sizeBytes })));
  src.blocks.forEach((b, i) => dst.blocks[i]!.bytes.set(b.bytes));
  return dst;
}

/**
 * A minimal pre-copy loop: sync the log into `pending`, copy each pending page from `src` to
 * `dst` through a private snapshot, note it as sent. Returns pages copied.
 */
export function copyDirty(src: GuestMemory, dst: GuestMemory, log: DirtyLog, pending: Uint32Array, snap: Uint8Array): number {
  log.sync(pending);
  let copied = 0;
  for (let g = 0; g < src.pageCount; g++) {
    const w = g >>> 5;
    const bit = 1 << (g & 31);
    if ((pending[w]! & bit) === 0) continue;
    pending[w] = pending[w]! & ~bit;
    const sb = src.blockOfPage(g);
    const off = (g - sb.firstPage) * 4096;
    snap.set(sb.bytes.subarray(off, off + 4096));
    log.noteSent(g, snap);
    dst.blockOfPage(g).bytes.set(snap, off);
    copied++;
  }
  return copied;
}
