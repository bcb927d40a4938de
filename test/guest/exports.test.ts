import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as guest from '../../src/guest/index.js';

test('guest layer: the public export list is pinned', () => {
  assert.deepEqual(Object.keys(guest).sort(), [
    'DEFAULT_WORKLOAD_OPTIONS',
    'ExplicitDirtyLog',
    'Guest',
    'GuestMemory',
    'MAX_VCPUS',
    'PAGE_SIZE',
    'RamBlock',
    'RamHasher',
    'SYNTHETIC_KIND',
    'ScanningDirtyLog',
    'WORKLOAD_NAMES',
    'checkStride',
    'dirtyBitmapWords',
    'preparedSynthetic',
    'syntheticKind',
  ]);
  assert.deepEqual(guest.WORKLOAD_NAMES, ['idle', 'stride', 'seed', 'random', 'xbzrle-doc', 'bwmem', 'zipf', 'video', 'mixed']);
});
