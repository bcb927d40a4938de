/**
 * Migration parameters and capabilities, with QEMU's names, defaults and checks
 * (qapi/migration.json, MigrationParameters), plus livemig's own (cache ways, delta codec,
 * stall guard, transport timeouts). livemig's own names carry no `x-` prefix: in QEMU that marks an unstable
 * interface, and these are stable (as cache-ways or max-time already were).
 *
 * read-timeout and write-timeout reach the transport through SourceManager (the monitors'
 * path); an OutgoingMigration built directly takes them from its `transport` option.
 */
import { InvalidArgumentError } from '../errors.js';
import { RAM_DIGEST_ALGORITHMS, isRamDigestAlgorithm } from '../hash.js';
import type { RamDigestAlgorithm } from '../hash.js';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS } from '../transport/index.js';

export type DeltaCodec = 'xbzrle' | 'xbrle';

export interface MigrationParameters {
  /** Bytes of page cache for delta compression (QEMU default 64 MiB). */
  'xbzrle-cache-size': number;
  /** Bytes per second for the iterate stage; 0 = unlimited (QEMU default 128 MiB/s). */
  'max-bandwidth': number;
  /** Milliseconds the guest may stay paused at switchover (QEMU default 300). */
  'downtime-limit': number;
  /** Ways of the page cache: 2 is XBRLE (2011)'s cache, 1 QEMU's direct-mapped one. */
  'cache-ways': number;
  /** Which delta codec the `xbzrle` capability uses: QEMU's XBZRLE or XBRLE (2011)'s. */
  'delta-codec': DeltaCodec;
  /**
   * A simulated link: bytes per second for every stage, stop-and-copy included (0 = the
   * transport's own speed). max-bandwidth, like QEMU's, limits only the iterate stage.
   */
  'link-bandwidth': number;
  /** Passes (dirty-log syncs) after which the stall policy applies (0 = no limit). */
  'max-iterations': number;
  /** Milliseconds of iterating after which the stall policy applies (0 = no limit). */
  'max-time': number;
  /** At the iteration or time limit: switch over anyway (`force`) or give up (`cancel`). */
  'stall-policy': StallPolicy;
  /**
   * The machine type the configuration section names. `livemig` (the default): livemig's own
   * envelope, with its machine, device-state and digest sections. A QEMU machine type (e.g.
   * `pc-i440fx-7.2`): a QEMU-shaped stream, for QEMU (`-incoming`) and tools that read its
   * streams, without livemig's sections: QEMU loads the RAM but gets none of the guest's state,
   * and nothing confirms the migration (QEMU 7.2 has no return path).
   */
  'machine-type': string;
  /**
   * How the destination checks the RAM it loaded against the source's: `page128` (the
   * default: per-page SIMD hashes combined per 64-page chunk, hashed by the destination as pages
   * land and by the source on worker threads; a mismatch names its pages), or one hash of all
   * RAM, `xxh3-128` or `sha256` (livemig's extension; announced at setup, carried in livemig-digest).
   */
  'digest-algorithm': RamDigestAlgorithm;
  /**
   * `before-resume` (the default): the destination resumes the guest only once its RAM digest
   * matched the source's. `after-resume`: the destination resumes as soon as the last pages
   * and the device state are in, and the check still runs; a mismatch is reported loudly (the
   * migration's `verification` result, with the pages that differ) but the guest keeps running
   * on the destination. `off`: no digest is taken or sent, as in QEMU (the downtime then
   * holds no hashing; nothing checks the RAM).
   */
  verify: VerifyMode;
  /**
   * Auto-converge: throttle when a period dirtied more than this percentage of what it sent
   * (QEMU default 50, 1..100).
   */
  'throttle-trigger-threshold': number;
  /** Auto-converge: the first throttle, percent (QEMU default 20, 1..99). */
  'cpu-throttle-initial': number;
  /** Auto-converge: added at each later step, percent (QEMU default 10, 1..99). */
  'cpu-throttle-increment': number;
  /** Auto-converge: the throttle never goes above this, percent (QEMU default 99, 1..99). */
  'max-cpu-throttle': number;
  /**
   * Milliseconds the source waits for bytes from the destination when it expects some (its
   * confirmation after the stream ended; socket reads) before failing the migration; 0 = no
   * timeout. Default: the transport's 60 s. Read when a migration starts.
   */
  'read-timeout': number;
  /**
   * Milliseconds the source's writes may wait with the destination taking no byte (a peer that
   * stopped reading) before failing the migration; 0 = no timeout (memory stays bounded either
   * way: writes wait on backpressure). Default: the transport's 30 s. Read when a migration starts.
   */
  'write-timeout': number;
}

export type StallPolicy = 'force' | 'cancel';

/** Whether and when the destination checks the RAM digest (parameter `verify`). */
export type VerifyMode = 'before-resume' | 'after-resume' | 'off';

export interface MigrationCapabilities {
  /** Page-delta compression (QEMU's `xbzrle`; with delta-codec xbrle, XBRLE (2011)'s codec). */
  xbzrle: boolean;
  /** MIGRATION status events. */
  events: boolean;
  /** QEMU's auto-converge: throttle the guest's vCPUs when it dirties faster than the link drains. */
  'auto-converge': boolean;
  /**
   * livemig's: switch delta compression off for the rest of a migration once it does not pay
   * (wire gain under 1.25x: cache misses, overflows); see `delta-guard.ts`.
   */
  'auto-xbzrle': boolean;
}

export const DEFAULT_PARAMETERS: Readonly<MigrationParameters> = Object.freeze({
  'xbzrle-cache-size': 64 * 1024 * 1024,
  'max-bandwidth': 128 * 1024 * 1024,
  'downtime-limit': 300,
  'cache-ways': 2,
  'delta-codec': 'xbzrle' as DeltaCodec,
  'link-bandwidth': 0,
  'max-iterations': 0,
  'max-time': 0,
  'stall-policy': 'force' as StallPolicy,
  'machine-type': 'livemig',
  'digest-algorithm': 'page128' as RamDigestAlgorithm,
  verify: 'before-resume' as VerifyMode,
  'throttle-trigger-threshold': 50,
  'cpu-throttle-initial': 20,
  'cpu-throttle-increment': 10,
  'max-cpu-throttle': 99,
  'read-timeout': DEFAULT_READ_TIMEOUT_MS,
  'write-timeout': DEFAULT_WRITE_TIMEOUT_MS,
});

export const DEFAULT_CAPABILITIES: Readonly<MigrationCapabilities> = Object.freeze({ xbzrle: false, events: false, 'auto-converge': false, 'auto-xbzrle': false });

const MAX_DOWNTIME_MS = 2000 * 1000;
/** Longest timeout a timer can hold (setTimeout turns anything longer into 1 ms): about 24.8 days. */
export const MAX_TIMEOUT_MS = 0x7fffffff;

/** Validates one parameter value; returns it normalised. Messages follow QEMU's where QEMU has one. */
export function checkParameter<K extends keyof MigrationParameters>(name: K, value: unknown): MigrationParameters[K] {
  switch (name) {
    case 'xbzrle-cache-size': {
      const v = wholeNumber(name, value);
      if (v < 4096 || !isPow2(v)) {
        throw new InvalidArgumentError("Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size");
      }
      return v as MigrationParameters[K];
    }
    case 'max-bandwidth':
      return wholeNumber(name, value) as MigrationParameters[K];
    case 'downtime-limit': {
      const v = wholeNumber(name, value);
      if (v > MAX_DOWNTIME_MS) throw new InvalidArgumentError("Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms");
      return v as MigrationParameters[K];
    }
    case 'cache-ways': {
      const v = wholeNumber(name, value);
      if (v < 1 || v > 64) throw new InvalidArgumentError(`Parameter 'cache-ways' expects a whole number from 1 to 64, got ${v}`);
      return v as MigrationParameters[K];
    }
    case 'link-bandwidth':
    case 'max-iterations':
    case 'max-time':
      return wholeNumber(name, value) as MigrationParameters[K];
    case 'stall-policy':
      if (value !== 'force' && value !== 'cancel') throw new InvalidArgumentError(`Parameter 'stall-policy' expects force or cancel, got ${String(value)}`);
      return value as MigrationParameters[K];
    case 'throttle-trigger-threshold':
      return percentRange(name, value, 100) as MigrationParameters[K];
    case 'cpu-throttle-initial':
    case 'cpu-throttle-increment':
    case 'max-cpu-throttle':
      return percentRange(name, value, 99) as MigrationParameters[K];
    case 'read-timeout':
    case 'write-timeout':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_MS) {
        throw new InvalidArgumentError(`Parameter '${name}' expects a whole number of milliseconds from 0 (no timeout) to ${MAX_TIMEOUT_MS}, got ${String(value)}`);
      }
      return value as MigrationParameters[K];
    case 'machine-type':
      if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
        throw new InvalidArgumentError(`Parameter 'machine-type' expects livemig or a QEMU machine type such as pc-i440fx-7.2 (letters, digits, '.', '_', '-'), got ${JSON.stringify(value)}`);
      }
      return value as MigrationParameters[K];
    case 'delta-codec':
      if (value !== 'xbzrle' && value !== 'xbrle') throw new InvalidArgumentError(`Parameter 'delta-codec' expects xbzrle or xbrle, got ${String(value)}`);
      return value as MigrationParameters[K];
    case 'verify':
      if (value !== 'before-resume' && value !== 'after-resume' && value !== 'off') throw new InvalidArgumentError(`Parameter 'verify' expects before-resume, after-resume or off, got ${String(value)}`);
      return value as MigrationParameters[K];
    case 'digest-algorithm':
      if (!isRamDigestAlgorithm(value)) throw new InvalidArgumentError(`Parameter 'digest-algorithm' expects ${RAM_DIGEST_ALGORITHMS.join(' or ')}, got ${String(value)}`);
      return value as MigrationParameters[K];
    default:
      throw new InvalidArgumentError(`unknown migration parameter '${String(name)}'`);
  }
}

export function isParameterName(name: string): name is keyof MigrationParameters {
  return Object.prototype.hasOwnProperty.call(DEFAULT_PARAMETERS, name);
}

export function isCapabilityName(name: string): name is keyof MigrationCapabilities {
  return Object.prototype.hasOwnProperty.call(DEFAULT_CAPABILITIES, name);
}

/** QEMU's message: "Parameter 'cpu_throttle_initial' expects an integer in the range of 1 to 99". */
function percentRange(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`Parameter '${name.replaceAll('-', '_')}' expects an integer in the range of 1 to ${max}`);
  }
  return value;
}

function isPow2(v: number): boolean {
  return v > 0 && Number.isInteger(Math.log2(v));
}

function wholeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Parameter '${name}' expects a whole number of ${name === 'downtime-limit' || name === 'max-time' ? 'milliseconds' : name === 'max-iterations' ? 'passes' : 'bytes'} ≥ 0, got ${String(value)}`);
  }
  return value;
}
