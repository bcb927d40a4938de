/** Page geometry shared by the codecs. */
export const PAGE_SIZE_BYTES = 4096;

/** QEMU's ULEB128 "small" holds at most 14 bits, so a run (and a page) must stay below 16384 bytes. */
export const MAX_DELTA_PAGE_BYTES = 0x3fff;

/** XBRLE (2011)'s budget: a delta larger than a third of the page is not worth sending. */
export const XBRLE_BUDGET_BYTES = Math.floor(PAGE_SIZE_BYTES / 3);
