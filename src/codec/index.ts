export { xbzrleEncode, xbzrleDecode, xbrleEncode, xbrleDecode, isZeroPage, dupPageByte } from './codec.js';
export { xbzrleCheck, xbzrleDecodeAt } from './xbzrle-decode.js';
export { xbrleCheck } from './xbrle-decode.js';
export { copyBytes } from './copy-bytes.js';
export { fillPage, pageHoldsFill } from './fill-page.js';
export { PAGE_SIZE_BYTES, XBRLE_BUDGET_BYTES, MAX_DELTA_PAGE_BYTES } from './page.js';
export { getKernel, selectedKernel, loadWasmKernel } from './kernel.js';
export type { DeltaKernel, KernelName } from './kernel.js';
