/**
 * `livemig analyze`: reads a whole stream (livemig's or real QEMU's) into memory bounded by
 * `maxRamBytes`, and summarizes it: sections with their RAM record counts, XBZRLE statistics,
 * each block's final contents (sha256, optionally written to `<dir>/<idstr>.bin`), livemig's
 * device sections, and QEMU device sections walked with the VM description. Without a
 * description it stops cleanly at QEMU's first device section, where RAM is already complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { updateHash } from '../hash.js';
import { readVmdescFromFile } from './vmdesc.js';
import type { ByteInput, ByteSource } from './byte-source.js';
import { blockFileName } from './idstr.js';
import { DEFAULT_ANALYZE_MAX_RAM_BYTES, describeBytes, StreamLimitError } from './limits.js';
import { parseMachineSection } from './machine-section.js';
import { loadMigrationStream } from './loader.js';
import type { LoadOptions, SectionSummary, StoppedAt } from './loader.js';
import { emptyCounts } from './ram-loader.js';
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

export interface AnalysisSummary {
  machineName: string;
  bytesRead: number;
  endedAt: 'eof' | 'unknown-device';
  stoppedAt?: StoppedAt;
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
    /** livemig's digest section, when present. */
    digest?: { algorithm: string; hex: string };
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
  let deviceBytes: number | undefined;
  let machine: { kind: string; config: unknown } | undefined;
  let digest: { algorithm: string; hex: string } | undefined;
  let setupOffset = 0;

  const loadOptions: LoadOptions = { maxRamBytes, unknownDevice: 'stop' };
  if (options.vmdesc !== undefined) loadOptions.vmdesc = options.vmdesc;
  if (options.maxDeviceStateBytes !== undefined) loadOptions.maxDeviceStateBytes = options.maxDeviceStateBytes;

  const result = await loadMigrationStream(
    input,
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
        return memory;
      },
      onRecord(kind: RecordKind, idstr: string | null, payloadBytes: number): void {
        if (idstr !== null) perBlock.get(idstr)![kind]++;
        if (kind === 'xbzrle') xbzrle.add(payloadBytes);
        else if (kind === 'xbrle') xbrle.add(payloadBytes);
      },
      onSection(info): void {
        setupOffset = info.offset;
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

  const blocks: BlockSummary[] = [];
  const files = options.extractDir === undefined ? null : await prepareExtraction(options.extractDir, result.blocks);
  for (const b of result.blocks) {
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

  const summary: AnalysisSummary = {
    machineName: result.machineName,
    bytesRead: result.bytesRead,
    endedAt: result.endedAt,
    sections: result.sections,
    totals: result.counts,
    xbzrle: xbzrle.stats(),
    xbrle: xbrle.stats(),
    blocks,
    devices: {
      described: result.sections
        .filter((s) => s.handling === 'described')
        .map((s) => ({ idstr: s.idstr, instanceId: s.instanceId, versionId: s.versionId, lengthBytes: s.lengthBytes })),
    },
    commands: result.commands,
    vmdesc: {
      inStream: result.vmdesc !== undefined,
      given: options.vmdesc !== undefined,
      devices: countDevices(result.vmdesc ?? options.vmdesc),
    },
    warnings: result.warnings,
  };
  if (result.stoppedAt !== undefined) summary.stoppedAt = result.stoppedAt;
  if (deviceBytes !== undefined) summary.devices.livemigDeviceBytes = deviceBytes;
  if (machine !== undefined) summary.devices.machine = machine;
  if (digest !== undefined) summary.devices.digest = digest;
  return summary;
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
