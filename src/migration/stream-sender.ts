/**
 * `livemig send FILE URI`: a saved migration stream (a checkpoint written by
 * `incoming --save`, or any QEMU migration stream file) sent to a destination that waits for
 * it, typically a QEMU started with `-incoming`, over livemig's transports and under a rate
 * limit, with QEMU's migration states and a query-migrate-shaped `info()`.
 *
 * The file is checked whole before anything is sent (its block list, every RAM record, and
 * its device sections walked with the VM description at its end), holding none of its RAM: a
 * broken file fails here, naming the offset, rather than at a QEMU 7.2 destination, which has
 * no return path to tell us why it failed. The bytes sent are the file's, unchanged.
 */
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LivemigError } from '../errors.js';
import { emptyCounts, loadMigrationStream, readVmdescFromFile } from '../stream/index.js';
import type { LoadOptions, RamBlockInfo, RecordCounts } from '../stream/index.js';
import { openOutgoing } from '../transport/index.js';
import type { Channel, OutgoingOptions } from '../transport/index.js';
import { LinkPacer } from './rate-limiter.js';
import { assertTransition, isActive } from './state.js';
import type { MigrationStatus } from './state.js';
import { finite } from './stats.js';
import type { MigrationInfo } from './stats.js';

export interface StreamSendOptions {
  /** Bytes per second for the whole stream; 0 = unlimited (the default: a saved VM runs nowhere, so there is nothing to converge). */
  maxBandwidth?: number;
  /** Transport options: TLS credentials, connect and stall timeouts. */
  transport?: Omit<OutgoingOptions, 'signal'>;
  /** Most RAM the file's block list may announce (default 4 GiB); nothing is allocated for it. */
  maxRamBytes?: number;
}

/** What the check of the file found. */
export interface CheckedStream {
  machineName: string;
  streamBytes: number;
  blocks: readonly RamBlockInfo[];
  records: RecordCounts;
  /** Device sections walked with the file's VM description (0 when it has none: then they were not checked). */
  deviceSections: number;
  /** 'whole': every section walked; 'ram': RAM checked, device sections unchecked (no VM description). */
  checked: 'whole' | 'ram';
}

export interface StreamSendEvents {
  status: [MigrationStatus];
}

/** Chunks read from the file; smaller under a rate limit, so that pacing stays within ~100 ms. */
const MAX_CHUNK_BYTES = 1024 * 1024;
const MIN_CHUNK_BYTES = 4096;
const DEFAULT_MAX_RAM_BYTES = 4 * 1024 ** 3;

export class StreamSender extends EventEmitter<StreamSendEvents> {
  status: MigrationStatus = 'none';
  error: Error | undefined;
  /** The file as checked, once setup has read it. */
  stream: CheckedStream | undefined;
  private channel: Channel | undefined;
  private readonly abort = new AbortController();
  private sentBytes = 0;
  private startTime = 0;
  private setupTime = 0;
  private endTime = 0;

  constructor(readonly file: string, private readonly options: StreamSendOptions = {}) {
    super();
    const bw = options.maxBandwidth ?? 0;
    if (!Number.isSafeInteger(bw) || bw < 0) throw new LivemigError('INVALID_ARGUMENT', `maxBandwidth must be a whole number of bytes per second >= 0, got ${bw}`);
  }

  /** Checks the file, then sends it to `uri`. Never rejects: the outcome is in `status` and `error`. */
  async run(uri: string): Promise<MigrationStatus> {
    this.startTime = performance.now();
    this.transition('setup');
    try {
      this.stream = await checkStreamFile(this.file, this.options.maxRamBytes ?? DEFAULT_MAX_RAM_BYTES);
      this.checkCancelled();
      const channel = (this.channel = await openOutgoing(uri, { ...this.options.transport, signal: this.abort.signal }));
      this.checkCancelled();
      this.setupTime = performance.now() - this.startTime;
      this.transition('active');
      await this.send(channel);
      this.transition('device');
      await channel.end();
      this.endTime = performance.now();
      this.transition('completed');
    } catch (e) {
      this.endTime = performance.now();
      this.channel?.destroy();
      this.error = e instanceof Error ? e : new Error(String(e));
      if (this.status === 'cancelling') this.transition('cancelled');
      else this.transition('failed');
    }
    return this.status;
  }

  /** Stops sending; the destination sees the stream cut short. */
  cancel(): void {
    if (!isActive(this.status) || this.status === 'cancelling') return;
    this.transition('cancelling');
    this.abort.abort();
    this.channel?.destroy(new LivemigError('MIGRATION_STATE', 'migration cancelled'));
  }

  private async send(channel: Channel): Promise<void> {
    const rate = this.options.maxBandwidth ?? 0;
    const pacer = rate > 0 ? new LinkPacer(rate) : undefined;
    const chunkBytes = rate > 0 ? Math.max(MIN_CHUNK_BYTES, Math.min(MAX_CHUNK_BYTES, Math.floor(rate / 10))) : MAX_CHUNK_BYTES;
    const input = createReadStream(this.file, { highWaterMark: chunkBytes, signal: this.abort.signal });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      this.checkCancelled();
      if (pacer) await pacer.wait(chunk.length);
      await channel.write(chunk);
      this.sentBytes += chunk.length;
    }
    if (this.sentBytes !== this.stream!.streamBytes) {
      throw new LivemigError('MIGRATION_FAILED', `${this.file} changed while it was sent: ${this.sentBytes} bytes sent, ${this.stream!.streamBytes} checked`);
    }
  }

  /** The sending in QEMU's query-migrate shape, plus what the file holds under `send`. */
  info(): MigrationInfo & { send?: Record<string, unknown> } {
    if (this.status === 'none') return {};
    const ended = this.status === 'completed' || this.status === 'failed' || this.status === 'cancelled';
    const now = ended ? this.endTime : performance.now();
    const s = this.stream;
    const info: MigrationInfo & { send?: Record<string, unknown> } = { status: this.status, 'total-time': Math.round(now - this.startTime) };
    if (this.setupTime > 0) info['setup-time'] = Math.round(this.setupTime);
    if (this.status === 'completed') info.downtime = 0; // the VM ran nowhere while it was sent
    if (this.error) info['error-desc'] = this.error.message;
    const sendingMs = Math.max(1, now - this.startTime - this.setupTime);
    info.ram = {
      transferred: this.sentBytes,
      remaining: s ? s.streamBytes - this.sentBytes : 0,
      total: s ? s.blocks.reduce((n, b) => n + b.lengthBytes, 0) : 0,
      duplicate: s?.records.zero ?? 0,
      skipped: 0,
      normal: s?.records.page ?? 0,
      'normal-bytes': (s?.records.page ?? 0) * 4096,
      'dirty-pages-rate': 0,
      mbps: this.setupTime > 0 ? finite((this.sentBytes * 8) / (sendingMs * 1000)) : 0,
      'dirty-sync-count': s ? 1 : 0,
      'postcopy-requests': 0,
      'page-size': 4096,
      'multifd-bytes': 0,
      'pages-per-second': 0,
      'precopy-bytes': this.sentBytes,
      'downtime-bytes': 0,
      'postcopy-bytes': 0,
    };
    info.send = {
      file: this.file,
      'max-bandwidth': this.options.maxBandwidth ?? 0,
      ...(s
        ? {
            'machine-type': s.machineName,
            'stream-bytes': s.streamBytes,
            blocks: s.blocks.map((b) => ({ idstr: b.idstr, 'length-bytes': b.lengthBytes })),
            records: { zero: s.records.zero, page: s.records.page, xbzrle: s.records.xbzrle, xbrle: s.records.xbrle },
            'device-sections': s.deviceSections,
            checked: s.checked,
          }
        : {}),
      ...(this.channel ? { transport: { description: this.channel.description, ...(this.channel.tls ? { tls: { ...this.channel.tls } } : {}) } } : {}),
    };
    return info;
  }

  private checkCancelled(): void {
    if (this.abort.signal.aborted) throw new LivemigError('MIGRATION_STATE', 'migration cancelled');
  }

  private transition(to: MigrationStatus): void {
    assertTransition(this.status, to);
    this.status = to;
    this.emit('status', to);
  }
}

/**
 * Reads a stream file whole without holding its RAM: the block list (within `maxRamBytes`),
 * every RAM record, and the device sections walked with the VM description at the file's end
 * (when it has one; otherwise the check stops at the first device section).
 * @throws StreamError / StreamLimitError naming the offset and what is wrong; fs errors.
 */
export async function checkStreamFile(file: string, maxRamBytes: number): Promise<CheckedStream> {
  const streamBytes = (await stat(file)).size;
  const vmdesc = await readVmdescFromFile(file).catch(() => null); // a bad one: checked as none
  const options: LoadOptions = { maxRamBytes, unknownDevice: vmdesc === null ? 'stop' : 'reject', ...(vmdesc === null ? {} : { vmdesc }) };
  const records = emptyCounts();
  const result = await loadMigrationStream(createReadStream(file), {
    setupRam: () => new Map(), // no block is held: records are checked and dropped
    discardUnaccepted: true,
    onRecord: (kind) => {
      records[kind]++;
    },
  }, options);
  if (result.blocks.length === 0) throw new LivemigError('STREAM_INVALID', `${file} carries no RAM block list: not a migration stream a destination can load`);
  const deviceSections = result.sections.filter((s) => s.handling === 'described').length;
  return {
    machineName: result.machineName,
    streamBytes,
    blocks: result.blocks,
    records,
    deviceSections,
    checked: result.endedAt === 'eof' ? 'whole' : 'ram',
  };
}
