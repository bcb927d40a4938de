import type { GuestMemory } from './guest-memory.js';
import { PAGE_SIZE } from './page.js';
import { resolveRegion } from './region.js';
import type { RegionSpec } from './region.js';

/** The verdict of {@link checkStride}. */
export interface StrideCheck {
  ok: boolean;
  /** One line for a passing check; the first inconsistencies (at most 10) otherwise. */
  message: string;
  /** Global page index of the first page behind its predecessor, when the sweep was mid-way. */
  boundaryPage?: number;
}

/** QEMU prints the first ten inconsistencies and counts the rest. */
const MAX_REPORTED = 10;

/**
 * QEMU's `check_guests_ram` for the stride workload: read byte 0 of every page of the region
 * (pause the guest first). All must equal their predecessor, except at most one place where a
 * page is one behind it (mod 256): the incrementer stopped mid-sweep, so pages before the
 * boundary are ahead. Anything else means a page was lost or is stale, e.g. a migration
 * that missed a dirty page.
 * @throws InvalidArgumentError for a bad region.
 */
export function checkStride(memory: GuestMemory, region?: RegionSpec): StrideCheck {
  const r = resolveRegion(memory, region ?? {});
  const end = r.firstPage + r.pageCount;
  const first = byte0(memory, r.firstPage);
  let last = first;
  let boundary = -1;
  let bad = 0;
  const lines: string[] = [];
  for (let g = r.firstPage + 1; g < end; g++) {
    const b = byte0(memory, g);
    if (b === last) continue;
    if (((b + 1) & 255) === last && boundary < 0) {
      boundary = g;
    } else {
      bad++;
      if (lines.length < MAX_REPORTED) {
        lines.push(
          `Memory content inconsistency at page 0x${g.toString(16)} (address 0x${(g * PAGE_SIZE).toString(16)}) first_byte = ${hex(first)} last_byte = ${hex(last)} current = ${hex(b)} hit_edge = ${boundary >= 0 ? 1 : 0}`,
        );
      }
    }
    last = b;
  }
  if (bad > 0) {
    if (bad > MAX_REPORTED) lines.push(`... and ${bad - MAX_REPORTED} more`);
    return { ok: false, message: `stride check failed: ${bad} inconsistent pages of ${r.pageCount}\n${lines.join('\n')}` };
  }
  const where = boundary >= 0 ? `one boundary at page 0x${boundary.toString(16)}` : 'no boundary';
  const result: StrideCheck = { ok: true, message: `stride check passed: ${r.pageCount} pages, first byte ${hex(first)}, ${where}` };
  if (boundary >= 0) result.boundaryPage = boundary;
  return result;
}

function byte0(memory: GuestMemory, globalPage: number): number {
  const block = memory.blockOfPage(globalPage);
  return block.bytes[(globalPage - block.firstPage) * PAGE_SIZE]!;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}
