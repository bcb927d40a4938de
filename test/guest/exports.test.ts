import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as guest from '../../src/guest/index.js';

test('guest layer: the public export list is pinned', () => {
  assert.deepEqual(Object.keys(guest).sort(), [
    'BOOT_IMAGES',
    'DEFAULT_BIOS_PATH',
    'DEFAULT_WORKLOAD_OPTIONS',
    'ExplicitDirtyLog',
    'Guest',
    'GuestMemory',
    'LandedPageHashes',
    'MAX_VCPUS',
    'PAGE_SIZE',
    'PASS_MARKER',
    'PC_KIND',
    'PC_RAM_IDSTR',
    'PcMachine',
    'RamBlock',
    'RamHasher',
    'START_MARKER',
    'SYNTHETIC_KIND',
    'ScanningDirtyLog',
    'WORKLOAD_NAMES',
    'bootRegion',
    'checkStride',
    'chunkCountOf',
    'chunkPlace',
    'countMarkers',
    'differingChunks',
    'dirtyBitmapWords',
    'floppyImage',
    'hashOnePage',
    'inPlaceHashers',
    'isBootImageName',
    'pcKind',
    'pcMediaFromConfig',
    'preparedSynthetic',
    'resolvePcOptions',
    'syntheticKind',
  ]);
  assert.deepEqual(guest.WORKLOAD_NAMES, ['idle', 'stride', 'seed', 'random', 'xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed']);
});
