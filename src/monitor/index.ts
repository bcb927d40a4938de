export { Hmp } from './hmp.js';
export type { HmpContext } from './hmp.js';
export { runHmpSession, PROMPT } from './hmp-session.js';
export { formatInfoMigrate } from './info-migrate.js';
export { parseSize, formatSize } from './size.js';
