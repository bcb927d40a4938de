/**
 * `livemig analyze`: reads a whole stream (livemig's or real QEMU's) into memory bounded by
 * `maxRamBytes`, and summarizes it: sections with their RAM record counts, XBZRLE statistics,
 * each block's final contents (sha256, optionally written to `<dir>/<idstr>.bin`), livemig's
 * device sections, and QEMU device sections walked with the VM description. Without a
 * description it stops cleanly at QEMU's first device section, where RAM is already complete.
 * A livemig stream's RAM is checked against its livemig-digest section. With `partial`, a
 * malformed or truncated stream yields what was read before the failure, and the error.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { InvalidArgumentError, LivemigError, StreamError } from '../errors.js';
import { createRamDigester, isRamDigestAlgorithm, updateHash } from '../hash.js';
import { readVmdescFromFile } from './vmdesc.js';
import { ByteSource } from './byte-source.js';
import type { ByteInput } from './byte-source.js';
import { LIVEMIG_DEVICE_IDSTR, LIVEMIG_DIGEST_CHUNKS_IDSTR, LIVEMIG_DIGEST_IDSTR, LIVEMIG_MACHINE_IDSTR, RAM_SECTION_IDSTR } from './constants.js';
import { peekMachineName } from './header.js';
import { blockFileName } from './idstr.js';
import { DEFAULT_ANALYZE_MAX_RAM_BYTES, describeBytes, StreamLimitError } from './limits.js';
import { parseMachineSection } from './machine-section.js';
import { loadMigrationStream } from './loader.js';
import type { LoadOptions, SectionHandling, SectionInfo, SectionSummary, StoppedAt } from './loader.js';
import { addCounts, emptyCounts } from './ram-loader.js';
import type { RecordCounts, RecordKind } from './ram-loader.js';
import type { RamBlockInfo } from './ram-writer.js';
import type { VmDescription } from './vmdesc.js';

export interface AnalyzeOptions {
  /** Most RAM to allocate (`--max-ram`, default 4 GiB); a stream advertising more is refused first. */
  maxRamBytes?: number;
  /** A VM description to walk QEMU device sections with (see `readVmdescFromFile`). */
  vmdesc?: VmDescription;
  /** Write each block's final contents to `<extractDir>/<sanitized idstr>.bin`. */
  extractDir?: string;
  /** Largest livemig-device payload accepted (default 256 MiB). */
  maxDeviceStateBytes?: number;
  /**
   * On a malformed or truncated stream, resolve with what was read before the failure and
   * `error` set, instead of rejecting (`livemig analyze` does). Nothing is extracted then.
   */
  partial?: boolean;
}

/** Upper bounds (inclusive) of the delta-length histogram buckets. */
export const DELTA_HISTOGRAM_BOUNDS: readonly number[] = [0, 16, 64, 256, 1024, 4096];

/** Delta page statistics. XBZRLE = encoding byte 1 (QEMU's); XBRLE = 2 (livemig's). */
export interface DeltaStats {
  records: number;
  payloadBytes: number;
  /** 0 when there are no records (never NaN). */
  minBytes: number;
  maxBytes: number;
  averageBytes: number;
  /** Record counts with a payload length ≤ `maxBytes` (and above the previous bucket's). */
  histogram: { maxBytes: number; count: number }[];
}

export interface BlockSummary {
  idstr: string;
  lengthBytes: number;
  /** sha256 of the block's contents at the end of the stream (or where the load stopped). */
  sha256: string;
  /** Where `extractDir` put the contents. */
  file?: string;
  records: RecordCounts;
}

/** The RAM digest a livemig stream carries, and whether the RAM loaded from it matches. */
export interface DigestCheck {
  algorithm: string;
  hex: string;
  /** Absent when not checked (an algorithm livemig does not know, or RAM that is incomplete). */
  matches?: boolean;
  /** The loaded RAM's digest with `algorithm`, when checked. */
  computed?: string;
  /** Why it was not checked. */
  unchecked?: string;
}

/** Why a `partial` analysis stopped: the error the load failed with. */
export interface AnalysisError {
  code: string;
  message: string;
  /** Stream offset of the record that failed, when the error names one. */
  offset?: number;
}

export interface AnalysisSummary {
  machineName: string;
  /** Bytes of the stream read (on a failure: every byte that arrived). */
  bytesRead: number;
  endedAt: 'eof' | 'unknown-device' | 'error';
  stoppedAt?: StoppedAt;
  /** Set (with `partial`) when the stream is malformed or truncated: everything else is what was read before. */
  error?: AnalysisError;
  /**
   * Sections in stream order. After a failure they come from the section headers seen: a
   * section's length runs to the next header (a command between two sections counts in the
   * first), and the last one's to the failure.
   */
  sections: SectionSummary[];
  totals: RecordCounts;
  xbzrle: DeltaStats;
  xbrle: DeltaStats;
  blocks: BlockSummary[];
  devices: {
    /** Size of livemig's device state, when the stream has one. */
    livemigDeviceBytes?: number;
    /** The livemig-machine section: the machine kind and its configuration. */
    machine?: { kind: string; config: unknown };
    /** livemig's digest section, when present, checked against the loaded RAM. */
    digest?: DigestCheck;
    /** QEMU device sections walked with the VM description. */
    described: { idstr: string; instanceId: number; versionId: number; lengthBytes: number }[];
  };
  commands: number[];
  vmdesc: { inStream: boolean; given: boolean; devices: number };
  warnings: string[];
}

class DeltaAccumulator {
  records = 0;
  payloadBytes = 0;
  min = Infinity;
  max = 0;
  readonly buckets = new Array<number>(DELTA_HISTOGRAM_BOUNDS.length).fill(0);

  add(len: number): void {
    this.records++;
    this.payloadBytes += len;
    if (len < this.min) this.min = len;
    if (len > this.max) this.max = len;
    let i = 0;
    while (i < DELTA_HISTOGRAM_BOUNDS.length - 1 && len > DELTA_HISTOGRAM_BOUNDS[i]!) i++;
    this.buckets[i]!++;
  }

  stats(): DeltaStats {
    const n = this.records;
    return {
      records: n,
      payloadBytes: this.payloadBytes,
      minBytes: n === 0 ? 0 : this.min,
      maxBytes: this.max,
      averageBytes: n === 0 ? 0 : Math.round((this.payloadBytes / n) * 100) / 100,
      histogram: DELTA_HISTOGRAM_BOUNDS.map((maxBytes, i) => ({ maxBytes, count: this.buckets[i]! })),
    };
  }
}

/**
 * Reads and summarizes a migration stream.
 * @throws StreamError / StreamLimitError as loadMigrationStream; LivemigError
 *   INVALID_ARGUMENT when extracted file names would collide.
 */
export async function analyzeMigrationStream(
  input: ByteInput | ByteSource,
  options: AnalyzeOptions = {},
): Promise<AnalysisSummary> {
  const maxRamBytes = options.maxRamBytes ?? DEFAULT_ANALYZE_MAX_RAM_BYTES;
  const memory = new Map<string, Uint8Array>();
  const perBlock = new Map<string, RecordCounts>();
  const xbzrle = new DeltaAccumulator();
  const xbrle = new DeltaAccumulator();
  let blockList: readonly RamBlockInfo[] = [];
  let deviceBytes: number | undefined;
  let machine: { kind: string; config: unknown } | undefined;
  let digest: { algorithm: string; hex: string } | undefined;
  let setupOffset = 0;
  // what the loader's result would say, kept as the load goes for a summary after a failure
  const seen: { info: SectionInfo; records: RecordCounts }[] = [];
  let ramComplete = false;

  const loadOptions: LoadOptions = { maxRamBytes, unknownDevice: 'stop' };
  if (options.vmdesc !== undefined) loadOptions.vmdesc = options.vmdesc;
  if (options.maxDeviceStateBytes !== undefined) loadOptions.maxDeviceStateBytes = options.maxDeviceStateBytes;

  // a source of our own: after a failure it still says how far the stream got
  const owned = !(input instanceof ByteSource);
  const src = input instanceof ByteSource ? input : new ByteSource(input);
  let result: Awaited<ReturnType<typeof loadMigrationStream>> | undefined;
  let failure: LivemigError | undefined;
  let machineName: string | undefined;
  try {
    if (options.partial === true) machineName = await peekMachineName(src);
    result = await loadMigrationStream(
      src,
      {
        setupRam(blocks: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> {
          for (const b of blocks) {
            try {
              memory.set(b.idstr, new Uint8Array(b.lengthBytes));
            } catch (e) {
              throw new StreamLimitError(`cannot allocate ${describeBytes(b.lengthBytes)} for RAM block '${b.idstr}'`, setupOffset, maxRamBytes, { cause: e });
            }
            perBlock.set(b.idstr, emptyCounts());
          }
          blockList = blocks;
          return memory;
        },
        onRecord(kind: RecordKind, idstr: string | null, payloadBytes: number): void {
          if (idstr !== null) perBlock.get(idstr)![kind]++;
          const current = seen[seen.length - 1];
          if (current !== undefined) current.records[kind]++;
          if (kind === 'xbzrle') xbzrle.add(payloadBytes);
          else if (kind === 'xbrle') xbrle.add(payloadBytes);
        },
        onSection(info): void {
          setupOffset = info.offset;
          seen.push({ info, records: emptyCounts() });
          if (info.idstr === RAM_SECTION_IDSTR) ramComplete = false;
        },
        onRamComplete(): void {
          ramComplete = true;
        },
        onDeviceState(bytes: Uint8Array): void {
          deviceBytes = bytes.length;
        },
        onMachine(bytes: Uint8Array): void {
          machine = parseMachineSection(bytes);
        },
        onDigest(algorithm: string, bytes: Uint8Array): void {
          digest = { algorithm, hex: Buffer.from(bytes).toString('hex') };
        },
      },
      loadOptions,
    );
  } catch (e) {
    // the stream's own faults (malformed, truncated, over a limit); not bad options or I/O
    if (options.partial !== true || !(e instanceof LivemigError) || e.code === 'INVALID_ARGUMENT') throw e;
    failure = e;
  } finally {
    if (owned) await src.close().catch(() => undefined);
  }

  const blocks: BlockSummary[] = [];
  const loaded = result?.blocks ?? blockList;
  const files = options.extractDir === undefined || result === undefined ? null : await prepareExtraction(options.extractDir, loaded);
  for (const b of loaded) {
    const mem = memory.get(b.idstr)!;
    const summary: BlockSummary = {
      idstr: b.idstr,
      lengthBytes: b.lengthBytes,
      sha256: updateHash(createHash('sha256'), mem).digest('hex'),
      records: perBlock.get(b.idstr)!,
    };
    const file = files?.get(b.idstr);
    if (file !== undefined) {
      await writeFile(file, mem);
      summary.file = file;
    }
    blocks.push(summary);
  }

  const bytesRead = result?.bytesRead ?? src.offset + src.available;
  const sections = result?.sections ?? partialSections(seen, failure instanceof StreamError || failure instanceof StreamLimitError ? Math.max(failure.offset, seen.at(-1)?.info.offset ?? 0) : bytesRead);
  const totals = result?.counts ?? emptyCounts();
  if (result === undefined) for (const sec of sections) addCounts(totals, sec.records);
  const summary: AnalysisSummary = {
    machineName: result?.machineName ?? machineName ?? '',
    bytesRead,
    endedAt: result?.endedAt ?? 'error',
    sections,
    totals,
    xbzrle: xbzrle.stats(),
    xbrle: xbrle.stats(),
    blocks,
    devices: {
      described: sections
        .filter((s) => s.handling === 'described')
        .map((s) => ({ idstr: s.idstr, instanceId: s.instanceId, versionId: s.versionId, lengthBytes: s.lengthBytes })),
    },
    commands: result?.commands ?? [],
    vmdesc: {
      inStream: result?.vmdesc !== undefined,
      given: options.vmdesc !== undefined,
      devices: countDevices(result?.vmdesc ?? options.vmdesc),
    },
    warnings: result?.warnings ?? [],
  };
  if (failure !== undefined) {
    summary.error = { code: failure.code, message: failure.message };
    if (failure instanceof StreamError || failure instanceof StreamLimitError) summary.error.offset = failure.offset;
  }
  if (result?.stoppedAt !== undefined) summary.stoppedAt = result.stoppedAt;
  if (deviceBytes !== undefined) summary.devices.livemigDeviceBytes = deviceBytes;
  if (machine !== undefined) summary.devices.machine = machine;
  if (digest !== undefined) summary.devices.digest = await checkDigest(digest, ramComplete, loaded.map((b) => memory.get(b.idstr)!));
  return summary;
}

/** The digest the stream carries against the RAM loaded from it (block order, as the source hashed it). */
async function checkDigest(digest: { algorithm: string; hex: string }, ramComplete: boolean, blocks: Uint8Array[]): Promise<DigestCheck> {
  if (!isRamDigestAlgorithm(digest.algorithm)) return { ...digest, unchecked: `unknown algorithm '${digest.algorithm}'` };
  if (!ramComplete) return { ...digest, unchecked: 'the RAM section did not end' };
  const computed = (await createRamDigester(digest.algorithm)).digest(blocks);
  return { ...digest, matches: computed === digest.hex, computed };
}

const OWN_HANDLING: ReadonlyMap<string, SectionHandling> = new Map([
  [RAM_SECTION_IDSTR, 'ram'],
  [LIVEMIG_MACHINE_IDSTR, 'livemig-machine'],
  [LIVEMIG_DEVICE_IDSTR, 'livemig-device'],
  [LIVEMIG_DIGEST_IDSTR, 'livemig-digest'],
  [LIVEMIG_DIGEST_CHUNKS_IDSTR, 'livemig-digest-chunks'],
] as const);

/**
 * The sections seen before a failure, each running to the next one's header, the last to
 * `end`. A device section other than livemig's is one the VM description described (the
 * loader stops at one it cannot walk before announcing it).
 */
function partialSections(seen: readonly { info: SectionInfo; records: RecordCounts }[], end: number): SectionSummary[] {
  return seen.map(({ info, records }, i) => ({
    ...info,
    handling: OWN_HANDLING.get(info.idstr) ?? 'described',
    lengthBytes: (seen[i + 1]?.info.offset ?? end) - info.offset,
    records,
  }));
}

/**
 * `livemig analyze <file|->`: for a file, first looks for a VM description at its end (so
 * that a real QEMU stream's device sections can be walked), then streams the file through
 * analyzeMigrationStream; `-` reads standard input (no description unless given).
 * A description that is found but malformed is ignored, with a warning in the summary.
 * @throws as analyzeMigrationStream; Node's fs errors for a missing or unreadable file.
 */
export async function analyzeMigrationFile(path: string, options: AnalyzeOptions = {}): Promise<AnalysisSummary> {
  if (path === '-') return analyzeMigrationStream(process.stdin, options);
  const opts: AnalyzeOptions = { ...options };
  let warning: string | undefined;
  // only a regular file can be read from its end (a FIFO would lose what the peek consumed)
  if (opts.vmdesc === undefined && (await stat(path)).isFile()) {
    try {
      const found = await readVmdescFromFile(path);
      if (found !== null) opts.vmdesc = found;
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      warning = `ignored the VM description at the end of ${path}: ${e.message}`;
    }
  }
  const summary = await analyzeMigrationStream(createReadStream(path), opts);
  if (warning !== undefined) summary.warnings.unshift(warning);
  return summary;
}

/**
 * Writes each block's bytes to `<dir>/<sanitized idstr>.bin`, as `analyze --extract-ram` does
 * (`incoming --extract-ram` for a live QEMU stream), creating `dir`.
 * @returns the file of each block, by idstr.
 * @throws InvalidArgumentError when names collide or would land outside `dir`; fs errors.
 */
export async function extractRamBlocks(dir: string, blocks: readonly { idstr: string; bytes: Uint8Array }[]): Promise<Map<string, string>> {
  const files = await prepareExtraction(dir, blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.bytes.length })));
  for (const b of blocks) await writeFile(files.get(b.idstr)!, b.bytes);
  return files;
}

function countDevices(desc: unknown): number {
  if (typeof desc !== 'object' || desc === null) return 0;
  const devices = (desc as { devices?: unknown }).devices;
  return Array.isArray(devices) ? devices.length : 0;
}

/**
 * Maps each block to `<dir>/<sanitized idstr>.bin`, refusing names that collide or that would
 * land outside `dir`, and creates `dir`.
 */
async function prepareExtraction(dir: string, blocks: readonly RamBlockInfo[]): Promise<Map<string, string>> {
  const root = resolve(dir);
  const files = new Map<string, string>();
  const owners = new Map<string, string>();
  for (const b of blocks) {
    const file = resolve(root, blockFileName(b.idstr));
    if (!file.startsWith(root + sep)) throw new InvalidArgumentError(`RAM block '${b.idstr}' would be extracted outside ${root}`);
    const other = owners.get(file);
    if (other !== undefined) {
      throw new InvalidArgumentError(`RAM blocks '${other}' and '${b.idstr}' would both be extracted to ${file}`);
    }
    owners.set(file, b.idstr);
    files.set(b.idstr, file);
  }
  await mkdir(root, { recursive: true });
  return files;
}
