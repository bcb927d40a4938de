/**
 * livemig's stream layer: QEMU's migration stream format, written and read byte for byte.
 *
 * Source side: a chunking `ByteWriter` feeding an async sink, `MigrationStreamWriter` for the
 * framing (header, sections, footers, EOF, VM description, livemig's device and digest
 * sections) and its `ram` RamRecordWriter for MEM_SIZE/ZERO/PAGE/XBZRLE/EOS records.
 * Destination side: `ByteSource` over any AsyncIterable of chunks, `loadMigrationStream` into
 * a LoadTarget, and `analyzeMigrationStream` + `formatAnalysis` for `livemig analyze`.
 *
 * livemig's extension to the format: an XBZRLE record whose encoding byte is 0x02 carries
 * an XBRLE delta (XBRLE (2011)'s XOR run-length pairs); QEMU rejects it as "wrong compression".
 */
export {
  QEMU_VM_FILE_MAGIC,
  QEMU_VM_FILE_VERSION,
  SectionType,
  MigCommand,
  RamFlag,
  DeltaEncoding,
  RAM_SECTION_IDSTR,
  RAM_SECTION_VERSION,
  LIVEMIG_DEVICE_IDSTR,
  LIVEMIG_MACHINE_IDSTR,
  LIVEMIG_DIGEST_IDSTR,
  LIVEMIG_DIGEST_CHUNKS_IDSTR,
  LIVEMIG_SECTION_VERSION,
  LivemigSectionId,
  LIVEMIG_MACHINE_NAME,
} from './constants.js';
export { ByteWriter, DEFAULT_CHUNK_BYTES } from './byte-writer.js';
export type { ChunkSink, ByteWriterOptions } from './byte-writer.js';
export { RamRecordWriter } from './ram-writer.js';
export type { RamBlockInfo, DeltaEncodingByte } from './ram-writer.js';
export { MigrationStreamWriter } from './writer.js';
export { ByteSource } from './byte-source.js';
export type { ByteInput } from './byte-source.js';
export { loadMigrationStream } from './loader.js';
export type {
  LoadTarget,
  LoadOptions,
  LoadResult,
  SectionInfo,
  SectionKind,
  SectionSummary,
  SectionHandling,
  StoppedAt,
} from './loader.js';
export { emptyCounts } from './ram-loader.js';
export type { RecordKind, RecordCounts, RamLoadTarget } from './ram-loader.js';
export {
  StreamLimitError,
  DEFAULT_ANALYZE_MAX_RAM_BYTES,
  DEFAULT_MAX_BUFFERED_DEVICE_BYTES,
  DEFAULT_MAX_DEVICE_STATE_BYTES,
  DEFAULT_MAX_VMDESC_BYTES,
} from './limits.js';
export { peekMachineName } from './header.js';
export { writeCheckpoint } from './checkpoint.js';
export type { CheckpointContent, CheckpointCounts } from './checkpoint.js';
export {
  encodeVmdesc,
  findVmdesc,
  readVmdescFromFile,
  parseVmDescription,
  livemigDeviceDescription,
  livemigDigestDescription,
} from './vmdesc.js';
export type { VmDescription, VmdescDevice, VmdescField, VmdescStruct, FoundVmdesc } from './vmdesc.js';
export { blockFileName } from './idstr.js';
export { analyzeMigrationStream, analyzeMigrationFile, extractRamBlocks, DELTA_HISTOGRAM_BOUNDS } from './analyze.js';
export type { AnalyzeOptions, AnalysisError, AnalysisSummary, BlockSummary, DeltaStats, DigestCheck } from './analyze.js';
export { formatAnalysis } from './analyze-format.js';
export { encodeMachineSection, parseMachineSection } from './machine-section.js';
export type { MachineSection } from './machine-section.js';
