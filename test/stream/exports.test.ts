import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as stream from '../../src/stream/index.js';

test('stream layer: the export list is pinned', () => {
  assert.deepEqual(Object.keys(stream).sort(), [
    'ByteSource',
    'ByteWriter',
    'DEFAULT_ANALYZE_MAX_RAM_BYTES',
    'DEFAULT_CHUNK_BYTES',
    'DEFAULT_MAX_BUFFERED_DEVICE_BYTES',
    'DEFAULT_MAX_DEVICE_STATE_BYTES',
    'DEFAULT_MAX_VMDESC_BYTES',
    'DELTA_HISTOGRAM_BOUNDS',
    'DeltaEncoding',
    'LIVEMIG_DEVICE_IDSTR',
    'LIVEMIG_DIGEST_CHUNKS_IDSTR',
    'LIVEMIG_DIGEST_IDSTR',
    'LIVEMIG_MACHINE_IDSTR',
    'LIVEMIG_MACHINE_NAME',
    'LIVEMIG_SECTION_VERSION',
    'LivemigSectionId',
    'MigCommand',
    'MigrationStreamWriter',
    'QEMU_VM_FILE_MAGIC',
    'QEMU_VM_FILE_VERSION',
    'RAM_SECTION_IDSTR',
    'RAM_SECTION_VERSION',
    'RamFlag',
    'RamRecordWriter',
    'SectionType',
    'StreamLimitError',
    'analyzeMigrationFile',
    'analyzeMigrationStream',
    'blockFileName',
    'emptyCounts',
    'encodeMachineSection',
    'encodeVmdesc',
    'extractRamBlocks',
    'findVmdesc',
    'formatAnalysis',
    'livemigDeviceDescription',
    'livemigDigestDescription',
    'loadMigrationStream',
    'parseMachineSection',
    'parseVmDescription',
    'peekMachineName',
    'readVmdescFromFile',
    'writeCheckpoint',
  ]);
});

test('stream layer: the wire numbers', () => {
  assert.equal(stream.QEMU_VM_FILE_MAGIC, 0x5145564d);
  assert.deepEqual(stream.RamFlag, { Full: 1, Zero: 2, MemSize: 4, Page: 8, Eos: 0x10, Continue: 0x20, Xbzrle: 0x40, Hook: 0x80, CompressPage: 0x100, MultifdFlush: 0x200 });
  assert.deepEqual(stream.DeltaEncoding, { Xbzrle: 1, Xbrle: 2 });
  assert.deepEqual(stream.SectionType, { Eof: 0, Start: 1, Part: 2, End: 3, Full: 4, Subsection: 5, VmDescription: 6, Configuration: 7, Command: 8, Footer: 0x7e });
});
