export { PageCache, CacheSizeError, DEFAULT_CACHE_LIFETIME } from './page-cache.js';
export type { PageCacheOptions, PageCacheCounters } from './page-cache.js';
