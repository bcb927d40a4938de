/**
 * A live migration from QEMU received as data: the destination's path when the configuration
 * section names a machine other than livemig's (e.g. 'pc-i440fx-7.2'). livemig has no QEMU
 * device model, so nothing resumes here; what arrives is kept:
 *
 * - every RAM block, allocated as the block list announces it (never more than `maxRamBytes`),
 *   loaded record by record as the stream arrives, XBZRLE included;
 * - the device sections, which QEMU sends before the VM description that alone says where each
 *   ends: buffered (at most `maxBufferedDeviceBytes`) and walked once it has arrived, then kept
 *   whole;
 * - the VM description, as received.
 *
 * From these it writes, on request, a checkpoint that QEMU loads and resumes from
 * (stream/checkpoint.ts) and one file per RAM block (as `analyze --extract-ram`).
 */
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { updateHash } from '../hash.js';
import { ByteWriter, RAM_SECTION_IDSTR, StreamLimitError, emptyCounts, extractRamBlocks, loadMigrationStream, writeCheckpoint } from '../stream/index.js';
import type { ByteSource, LoadTarget, RamBlockInfo, RecordCounts, RecordKind } from '../stream/index.js';

export interface QemuReceiveOptions {
  /** Write the received VM to this file as a checkpoint QEMU loads (`-incoming "exec:cat FILE"`). */
  saveFile?: string | undefined;
  /** Write each RAM block to `<dir>/<idstr>.bin`, as `analyze --extract-ram` does. */
  extractRamDir?: string | undefined;
  /** Most bytes buffered from the first device section to the end of the stream (default 32 MiB). */
  maxBufferedDeviceBytes?: number | undefined;
}

interface ReceivedBlock {
  idstr: string;
  bytes: Uint8Array;
  records: RecordCounts;
  /** sha256 of the final contents, once the stream has ended well. */
  sha256?: string;
}

interface ReceivedDevice {
  idstr: string;
  instanceId: number;
  versionId: number;
  bytes: Uint8Array;
}

export class QemuIncoming {
  /** The configuration section's machine name. */
  machineName = '';
  /** RAM records of the whole stream, by kind. */
  readonly counts: RecordCounts = emptyCounts();
  readonly blocks: ReceivedBlock[] = [];
  readonly devices: ReceivedDevice[] = [];
  vmdesc: Uint8Array | undefined;
  /** The checkpoint, once written: its file, length and pages by record kind. */
  checkpoint: { file: string; bytes: number; zero: number; page: number; ms: number } | undefined;
  /** Where `extractRamDir` put each block. */
  extracted: Map<string, string> | undefined;
  /** From the first byte read to the end of the VM description. */
  receiveMs = 0;
  private src: ByteSource | undefined;
  private finalBytesRead = 0;
  private ramSectionId = 2;

  constructor(private readonly options: QemuReceiveOptions, private readonly maxRamBytes: number) {}

  /** Stream bytes read so far (all of them once the load ended). */
  get bytesRead(): number {
    return this.src?.offset ?? this.finalBytesRead;
  }

  /**
   * Loads the stream from `src` (positioned at its start), then saves and extracts as asked.
   * @throws StreamError / StreamLimitError naming the stream offset and what was wrong; fs
   *   errors of the checkpoint or the extraction.
   */
  async receive(src: ByteSource): Promise<void> {
    const start = performance.now();
    this.src = src;
    const byName = new Map<string, ReceivedBlock>();
    let blockListAt = 0;
    const target: LoadTarget = {
      ramStartsZero: true, // fresh allocations: ZERO records for untouched pages cost nothing
      setupRam: (list: readonly RamBlockInfo[]) => {
        const views = new Map<string, Uint8Array>();
        for (const b of list) {
          let bytes: Uint8Array;
          try {
            bytes = new Uint8Array(b.lengthBytes);
          } catch (e) {
            throw new StreamLimitError(`cannot allocate ${b.lengthBytes} bytes for RAM block '${b.idstr}'`, blockListAt, this.maxRamBytes, { cause: e });
          }
          const block = { idstr: b.idstr, bytes, records: emptyCounts() };
          this.blocks.push(block);
          byName.set(b.idstr, block);
          views.set(b.idstr, bytes);
        }
        return views;
      },
      onSection: (info) => {
        blockListAt = info.offset;
        if (info.idstr === RAM_SECTION_IDSTR) this.ramSectionId = info.id;
      },
      onRecord: (kind: RecordKind, idstr: string | null) => {
        if (idstr !== null) byName.get(idstr)!.records[kind]++;
      },
      // a copy: the view is of the loader's buffer, and only these few KiB are worth keeping
      onDeviceSection: (s, bytes) => this.devices.push({ idstr: s.idstr, instanceId: s.instanceId, versionId: s.versionId, bytes: bytes.slice() }),
      onVmdesc: (json) => {
        this.vmdesc = json;
      },
    };
    try {
      const result = await loadMigrationStream(src, target, {
        maxRamBytes: this.maxRamBytes,
        unknownDevice: 'buffer',
        ...(this.options.maxBufferedDeviceBytes === undefined ? {} : { maxBufferedDeviceBytes: this.options.maxBufferedDeviceBytes }),
      });
      this.machineName = result.machineName;
      Object.assign(this.counts, result.counts);
      for (const b of this.blocks) b.sha256 = updateHash(createHash('sha256'), b.bytes).digest('hex');
    } finally {
      this.finalBytesRead = src.offset;
      this.src = undefined;
      this.receiveMs = performance.now() - start;
    }
    if (this.options.saveFile !== undefined) await this.save(this.options.saveFile);
    if (this.options.extractRamDir !== undefined) this.extracted = await extractRamBlocks(this.options.extractRamDir, this.blocks);
  }

  /**
   * Writes the received VM as a checkpoint: to `FILE.partial`, renamed to `file` once complete,
   * so a failed save never leaves a stream QEMU would load half of.
   */
  async save(file: string): Promise<void> {
    const start = performance.now();
    const partial = `${file}.partial`;
    const fh = await open(partial, 'w');
    let counts;
    let bytes = 0;
    try {
      const out = new ByteWriter(async (chunk, release) => {
        let done = 0;
        while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
        release();
      }, { chunkBytes: 1024 * 1024 });
      counts = await writeCheckpoint(out, {
        machineName: this.machineName,
        ramSectionId: this.ramSectionId,
        blocks: this.blocks,
        devices: this.devices.map((d) => d.bytes),
        vmdesc: this.vmdesc,
      });
      bytes = out.bytesWritten;
      await fh.close();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw e;
    }
    await rename(partial, file);
    this.checkpoint = { file, bytes, zero: counts.zero, page: counts.page, ms: performance.now() - start };
  }

  /** What was received, for query-migrate's `incoming` (under `qemu`), `info migrate` and `--json`. */
  info(): Record<string, unknown> {
    return {
      'machine-type': this.machineName,
      blocks: this.blocks.map((b) => ({
        idstr: b.idstr,
        'length-bytes': b.bytes.length,
        records: { zero: b.records.zero, page: b.records.page, xbzrle: b.records.xbzrle },
        ...(b.sha256 !== undefined ? { sha256: b.sha256 } : {}),
        ...(this.extracted?.has(b.idstr) ? { file: this.extracted.get(b.idstr) } : {}),
      })),
      devices: this.devices.map((d) => ({ idstr: d.idstr, 'instance-id': d.instanceId, 'version-id': d.versionId, 'length-bytes': d.bytes.length })),
      'device-bytes': this.devices.reduce((n, d) => n + d.bytes.length, 0),
      'vmdesc-bytes': this.vmdesc?.length ?? 0,
      'receive-ms': Math.round(this.receiveMs),
      ...(this.checkpoint
        ? { checkpoint: { file: this.checkpoint.file, bytes: this.checkpoint.bytes, 'zero-pages': this.checkpoint.zero, 'normal-pages': this.checkpoint.page, 'save-ms': Math.round(this.checkpoint.ms) } }
        : {}),
    };
  }
}
