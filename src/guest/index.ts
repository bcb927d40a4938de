/**
 * The guest layer: RAM in named blocks of 4 KiB pages, the two dirty logs (explicit marks and
 * content scanning), and a guest whose vCPUs are worker threads running synthetic workloads on
 * shared RAM, with pause/resume/throttle and a device state to continue it on a destination.
 */
export { PAGE_SIZE } from './page.js';
export { RamBlock } from './ram-block.js';
export type { RamBlockSpec } from './ram-block.js';
export { GuestMemory } from './guest-memory.js';
export type { RegionSpec, ResolvedRegion } from './region.js';
export { dirtyBitmapWords } from './dirty-log.js';
export type { DirtyLog } from './dirty-log.js';
export { ExplicitDirtyLog } from './explicit-dirty-log.js';
export { ScanningDirtyLog } from './scanning-dirty-log.js';
export type { ScanMethod, ScanningDirtyLogOptions } from './scanning-dirty-log.js';
export { WORKLOAD_NAMES, MAX_VCPUS, DEFAULT_WORKLOAD_OPTIONS } from './workload-plan.js';
export type { WorkloadName, WorkloadOptions, ResolvedWorkloadOptions } from './workload-plan.js';
export { Guest } from './guest.js';
export type { GuestOptions, GuestStatus, DirtyLogKind } from './guest.js';
export { checkStride } from './check-stride.js';
export { RamHasher } from './ram-hasher.js';
export { LandedPageHashes, chunkCountOf, chunkPlace, differingChunks, hashOnePage, inPlaceHashers } from './page-digests.js';
export type { DifferingPage } from './page-digests.js';
export type { StrideCheck } from './check-stride.js';
export { SYNTHETIC_KIND } from './guest.js';
export { syntheticKind, preparedSynthetic } from './synthetic-kind.js';
export type { SyntheticKindOptions } from './synthetic-kind.js';
export type { VirtualMachine, VmStatus, VmKind, VmKinds, PreparedVm } from './vm.js';
export { PcMachine, PC_KIND, PC_RAM_IDSTR } from './pc/pc-machine.js';
export type { PcMachineOptions } from './pc/pc-machine.js';
export { pcKind } from './pc/pc-kind.js';
export { resolvePcOptions, pcMediaFromConfig, DEFAULT_BIOS_PATH } from './pc/pc-config.js';
export type { PcConfig, PcOptions, PcFile, PcMedia } from './pc/pc-config.js';
export { BOOT_IMAGES, floppyImage, isBootImageName, bootRegion, countMarkers, PASS_MARKER, START_MARKER } from './pc/boot-images.js';
export type { BootImageName, PatternCheck } from './pc/boot-images.js';
