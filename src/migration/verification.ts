/**
 * The outcome of a migration's RAM check, and how a source names the pages that differ: the
 * destination's reply carries its page hashes of the chunks whose digests differed; the
 * source, whose RAM is still paused, hashes its own pages of those chunks and compares.
 */
import { chunkPlace, hashOnePage, inPlaceHashers } from '../guest/index.js';
import type { DifferingPage, GuestMemory } from '../guest/index.js';
import type { ReplyMismatch } from './return-path.js';

/** Pages named in a report (a corrupted region may hold many more; the count is kept). */
export const MAX_NAMED_PAGES = 64;

export interface VerificationResult {
  mode: 'before-resume' | 'after-resume';
  algorithm: string;
  result: 'matched' | 'mismatch';
  /** With a mismatch: chunks (64 pages each) whose digests differed, and how many in all. */
  chunks?: number[];
  chunkCount?: number;
  /** With a mismatch: the pages that differ, in the chunks the reply carried (at most MAX_NAMED_PAGES). */
  pages?: DifferingPage[];
}

/** The pages of `memory` whose hashes differ from the destination's in `mismatch`. */
export function namePages(memory: GuestMemory, mismatch: ReplyMismatch): DifferingPage[] {
  const hashers = inPlaceHashers(memory);
  const mine = new Int32Array(4);
  const out: DifferingPage[] = [];
  for (const { chunk, pageHashes } of mismatch.chunks) {
    if (!Number.isInteger(chunk) || chunk < 0 || typeof pageHashes !== 'string') continue;
    let place;
    try {
      place = chunkPlace(memory, chunk);
    } catch {
      continue; // a chunk past our RAM: nothing to name
    }
    const raw = Buffer.from(pageHashes, 'base64');
    const theirs = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.length & ~3)));
    const block = memory.blocks[place.block]!;
    for (let i = 0; i < place.pages && out.length < MAX_NAMED_PAGES; i++) {
      hashOnePage(memory, place.block, place.page + i, mine, 0, hashers[place.block]);
      const j = i * 4;
      if (j + 3 >= theirs.length || mine[0] !== theirs[j] || mine[1] !== theirs[j + 1] || mine[2] !== theirs[j + 2] || mine[3] !== theirs[j + 3]) {
        out.push({ block: block.idstr, offset: (place.page + i) * 4096, page: block.firstPage + place.page + i });
      }
    }
  }
  return out;
}

/** "pc.ram+0x1000 (page 1), ..." for a report. */
export function describePages(pages: readonly DifferingPage[]): string {
  return pages.map((p) => `${p.block}+0x${p.offset.toString(16)} (page ${p.page})`).join(', ');
}

/** One line for a mismatch: the chunks, then the pages named. */
export function describeMismatch(v: VerificationResult): string {
  const chunks = v.chunks ?? [];
  const named = v.pages !== undefined && v.pages.length > 0 ? `; pages that differ: ${describePages(v.pages)}` : '';
  if (chunks.length === 0) return `RAM digest mismatch (${v.algorithm}, ${v.mode}): the RAM differs from the source's`;
  return `RAM digest mismatch (${v.algorithm}, ${v.mode}): ${v.chunkCount ?? chunks.length} chunk(s) of 64 pages differ (${chunks.slice(0, 16).join(', ')}${chunks.length > 16 ? ', ...' : ''})${named}`;
}
