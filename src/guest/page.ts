/**
 * Page geometry of a guest. The guest layer keeps its own constants (it depends on no other
 * layer); they equal the codec's `PAGE_SIZE_BYTES` because QEMU's target page is 4 KiB.
 */

/** Bytes in a guest page: the unit of dirty tracking, of the workloads and of the stream. */
export const PAGE_SIZE = 4096;

/** log2(PAGE_SIZE): page index <-> byte offset by shifts on hot paths. */
export const PAGE_SHIFT = 12;

/** 32-bit words in a page: the hash and the random workload work a word at a time. */
export const PAGE_WORDS = PAGE_SIZE >>> 2;

/**
 * Most pages a guest may have: global page indices are used in 32-bit bit arithmetic
 * (`p >>> 5`, `1 << (p & 31)`), so they must stay below 2^31 (8 TiB of RAM).
 */
export const MAX_GUEST_PAGES = 0x7fffffff;
