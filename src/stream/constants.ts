/**
 * Numbers of QEMU's migration stream (migration/savevm.h, migration/ram.c) and of livemig's
 * own sections. All stream integers are big-endian. The grammar they belong to is written
 * once, in docs/stream-format.md.
 */

/** "QEVM", the first four bytes of every stream. */
export const QEMU_VM_FILE_MAGIC = 0x5145564d;
/** The pre-2009 "v2" format, which QEMU names on rejection. */
export const QEMU_VM_FILE_VERSION_COMPAT = 2;
export const QEMU_VM_FILE_VERSION = 3;

/** Section type bytes (the byte that opens every top-level item after the header). */
export const SectionType = {
  Eof: 0x00,
  Start: 0x01,
  Part: 0x02,
  End: 0x03,
  Full: 0x04,
  Subsection: 0x05,
  VmDescription: 0x06,
  Configuration: 0x07,
  Command: 0x08,
  Footer: 0x7e,
} as const;

/** QEMU_VM_COMMAND numbers livemig accepts (both carry no data). */
export const MigCommand = {
  OpenReturnPath: 1,
  SwitchoverStart: 11,
} as const;

/**
 * RAM record flags: the low bits of the be64 that opens each record. With 4 KiB pages the
 * loader treats all 12 low bits as flags (QEMU masks with TARGET_PAGE_MASK), so 0x400 and
 * 0x800 are "unknown combinations" and a record offset is page aligned by construction.
 */
export const RamFlag = {
  Full: 0x001,
  Zero: 0x002,
  MemSize: 0x004,
  Page: 0x008,
  Eos: 0x010,
  Continue: 0x020,
  Xbzrle: 0x040,
  Hook: 0x080,
  CompressPage: 0x100,
  MultifdFlush: 0x200,
} as const;

/** The 12 low bits of a record's be64 that hold flags rather than offset. */
export const RAM_FLAGS_MASK = 0xfff;

/**
 * The byte after an XBZRLE record header that names the delta encoding. QEMU defines only
 * 0x01; 0x02 is livemig's extension for XBRLE (2011)'s deltas (XOR, (count, byte) pairs),
 * which a QEMU destination rejects with "wrong compression".
 */
export const DeltaEncoding = {
  Xbzrle: 0x01,
  Xbrle: 0x02,
} as const;

/** The RAM section's registration: QEMU's `register_savevm_live("ram", 0, 4, ...)`. */
export const RAM_SECTION_IDSTR = 'ram';
export const RAM_SECTION_VERSION = 4;

/** livemig's FULL section carrying the guest's device state: be32 length + bytes. */
export const LIVEMIG_DEVICE_IDSTR = 'livemig-device';
/**
 * livemig's FULL section carrying the machine's kind and configuration (be32 length + UTF-8
 * JSON `{"kind", "config", "digest"}`, the last naming the RAM digest's algorithm), sent before
 * RAM so that a destination can build the machine and load pages straight into its memory.
 */
export const LIVEMIG_MACHINE_IDSTR = 'livemig-machine';
/** livemig's FULL section carrying the RAM digest: u8 len + algorithm name, u8 len + digest. */
export const LIVEMIG_DIGEST_IDSTR = 'livemig-digest';
/**
 * livemig's FULL section carrying the page128 chunk digests (be32 length + 16 bytes per 64-page
 * chunk, chunks numbered across blocks in order), sent before livemig-digest so that a
 * destination can tell which chunks differ.
 */
export const LIVEMIG_DIGEST_CHUNKS_IDSTR = 'livemig-digest-chunks';
export const LIVEMIG_SECTION_VERSION = 1;

/**
 * Section ids livemig's writer uses. QEMU numbers sections by registration order (pc: "ram"
 * is 2); a destination only uses ids to link PART/END to their START, so any fixed choice works.
 */
export const LivemigSectionId = {
  Ram: 2,
  Device: 3,
  Digest: 4,
  Machine: 5,
  DigestChunks: 6,
} as const;

/** The machine name livemig writes in the configuration section. */
export const LIVEMIG_MACHINE_NAME = 'livemig';

/** Longest idstr: its length travels in one byte. */
export const MAX_IDSTR_BYTES = 255;
