import { InvalidArgumentError } from '../errors.js';
import type { GuestMemory } from './guest-memory.js';
import { PAGE_SIZE } from './page.js';

/**
 * A range of guest RAM in global byte addresses (blocks concatenated in order), page aligned.
 * Absent fields mean "from the start" and "to the end", so `{}` is all RAM. A region may span
 * blocks, like QEMU's migration-test guest, which strides over 1..100 MiB of `pc.ram`.
 */
export interface RegionSpec {
  offsetBytes?: number;
  sizeBytes?: number;
}

/** A validated region: where it starts and how many pages it has. */
export interface ResolvedRegion {
  readonly offsetBytes: number;
  readonly sizeBytes: number;
  readonly firstPage: number;
  readonly pageCount: number;
}

/**
 * Validates a region against a guest's RAM.
 * @throws InvalidArgumentError for an unaligned, empty or out-of-range region.
 */
export function resolveRegion(memory: GuestMemory, region: RegionSpec = {}): ResolvedRegion {
  const offsetBytes = region.offsetBytes ?? 0;
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || offsetBytes % PAGE_SIZE !== 0) {
    throw new InvalidArgumentError(`region offsetBytes ${String(offsetBytes)} must be a non-negative multiple of ${PAGE_SIZE}`);
  }
  if (offsetBytes >= memory.totalBytes) {
    throw new InvalidArgumentError(`region offsetBytes ${offsetBytes} is beyond guest RAM (${memory.totalBytes} bytes)`);
  }
  const sizeBytes = region.sizeBytes ?? memory.totalBytes - offsetBytes;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % PAGE_SIZE !== 0) {
    throw new InvalidArgumentError(`region sizeBytes ${String(sizeBytes)} must be a positive multiple of ${PAGE_SIZE}`);
  }
  if (offsetBytes + sizeBytes > memory.totalBytes) {
    throw new InvalidArgumentError(
      `region ${offsetBytes}+${sizeBytes} ends beyond guest RAM (${memory.totalBytes} bytes)`,
    );
  }
  return { offsetBytes, sizeBytes, firstPage: offsetBytes / PAGE_SIZE, pageCount: sizeBytes / PAGE_SIZE };
}
