/**
 * One incoming migration (the destination): build the machine the stream names (its
 * livemig-machine section, before RAM; the synthetic guest when there is none) with the
 * {@link VmKind} of that kind, load the RAM into it (never more than `maxRamBytes`), check the
 * source's RAM digest against the loaded memory, and only then resume the machine from its
 * device state and confirm to the source. A machine that was not fully received and verified
 * is never resumed.
 */
import { EventEmitter } from 'node:events';
import { LivemigError } from '../errors.js';
import { createRamDigester, isRamDigestAlgorithm } from '../hash.js';
import type { RamDigestAlgorithm, RamDigester } from '../hash.js';
import { rootDigest } from '../codec/page-hash128.js';
import { IO_AREA_BYTES, hashSlotOf, ioAreaOf } from './io-area.js';
import { LandedPageHashes, RamHasher, SYNTHETIC_KIND, differingChunks, syntheticKind } from '../guest/index.js';
import type { GuestMemory, PreparedVm, VirtualMachine, VmKinds } from '../guest/index.js';
import { ByteSource, LIVEMIG_MACHINE_NAME, RAM_SECTION_IDSTR, loadMigrationStream, parseMachineSection, peekMachineName } from '../stream/index.js';
import type { MachineSection } from '../stream/index.js';
import type { LoadTarget } from '../stream/index.js';
import { readChunks } from '../transport/index.js';
import type { Channel } from '../transport/index.js';
import { QemuIncoming } from './qemu-incoming.js';
import type { QemuReceiveOptions } from './qemu-incoming.js';
import { MAX_REPORTED_CHUNKS, encodeReply, encodeResumed } from './return-path.js';
import type { DestinationReply, ReplyMismatch } from './return-path.js';
import { describeMismatch } from './verification.js';
import type { VerificationResult } from './verification.js';
import type { MigrationInfo } from './stats.js';

export type IncomingStatus = 'none' | 'active' | 'completed' | 'failed';

export interface IncomingOptions {
  /** Most RAM the stream may make us allocate (default 4 GiB). */
  maxRamBytes?: number;
  /** Resume the guest's workload after a verified load (default true). */
  resume?: boolean;
  /**
   * The machine kinds this destination builds, by the name the source's machine gives
   * (`VirtualMachine.kind`); the synthetic guest's is always there, built from the three
   * options below unless given here.
   */
  machines?: VmKinds;
  /** The synthetic guest's dirty log. */
  dirtyLog?: 'explicit' | 'scan';
  /**
   * The synthetic guest's RAM, prepared before the stream arrives (QEMU's destination is
   * started with `-m`): the stream's blocks must match it by name and size. Without it, RAM is
   * allocated as the stream announces it, up to `maxRamBytes`.
   */
  memory?: GuestMemory;
  /**
   * Promises that `memory` is all zero (freshly allocated, never written): the loader then
   * skips zero pages it has not written, without reading them. RAM allocated here always is.
   */
  memoryIsZero?: boolean;
  /**
   * Checks of the caller's, run on the verified RAM before the machine resumes (a workload's
   * pattern, say): each result shows under `incoming` in {@link IncomingMigration.info}. A
   * check never fails the migration.
   */
  checks?: (memory: GuestMemory, vm: VirtualMachine | undefined, machine: MachineSection) => Record<string, unknown>;
  /**
   * Fault injection for tests of the RAM check: called after the loader wrote a page and before
   * it is hashed (where a loader that wrote the wrong bytes would leave them).
   */
  afterPageLanded?: (memory: GuestMemory, idstr: string, offset: number, fill: number) => void;
  /** A QEMU stream (its machine type is not livemig's) is received as data: what to do with it (qemu-incoming.ts). */
  qemu?: QemuReceiveOptions;
}

export interface IncomingEvents {
  status: [IncomingStatus];
  /** The guest runs (after-resume: before the RAM check's result). */
  resumed: [];
  /**
   * The RAM check found pages that differ after the guest had resumed (the source's `verify
   * after-resume`): it runs on RAM that is not the source's. (Before resume, a mismatch fails
   * the migration instead.)
   */
  'verification-failed': [VerificationResult];
}

export const DEFAULT_MAX_RAM_BYTES = 4 * 1024 ** 3;

export class IncomingMigration extends EventEmitter<IncomingEvents> {
  status: IncomingStatus = 'none';
  error: Error | undefined;
  /** The RAM the stream loads into (the prepared machine's). */
  memory: GuestMemory | undefined;
  /** The machine, once resumed (or started paused with `resume: false`... never: see `resume`). */
  guest: VirtualMachine | undefined;
  /** The machine the stream named (the synthetic guest when it named none). */
  machine: MachineSection | undefined;
  sourceDigest: string | undefined;
  ramDigest: string | undefined;
  /** The RAM check's outcome (undefined with verify off, or before it ran). */
  verification: VerificationResult | undefined;
  /** page128: the pages that landed, hashed as they did. */
  private landed: LandedPageHashes | undefined;
  /** page128: the source's chunk digests. */
  private sourceChunks: Int32Array | undefined;
  /** The source asked for `verify after-resume`. */
  private afterResume = false;
  /** after-resume: the chunk table when the guest resumed (the check compares that). */
  private resumedTable: Int32Array | undefined;
  /** after-resume: the guest, resumed while the stream's end is still being read. */
  private resuming: Promise<VirtualMachine> | undefined;
  /** Results of the caller's {@link IncomingOptions.checks}, once run. */
  checks: Record<string, unknown> = {};
  /** Stream bytes consumed (counted as they arrive while the migration runs). */
  bytesRead = 0;
  /** The stream being read, while it is (its offset is the bytes read so far). */
  private source: ByteSource | undefined;
  /** The channel of the migration being loaded (its pooled reader takes buffers beside the RAM). */
  private channel: Channel | undefined;
  /** The RAM's I/O area for reading, and the in-place copy over its memory (set up with the RAM). */
  private readArea: ReturnType<typeof ioAreaOf>;
  readonly recordCounts = { zero: 0, page: 0, xbzrle: 0, xbrle: 0 };
  /** The QEMU stream received as data, when one arrived instead of a livemig migration. */
  qemu: QemuIncoming | undefined;
  private deviceState: Uint8Array | undefined;
  private readonly kinds: VmKinds;
  /** The RAM digest's algorithm: announced in the machine section (sha256 in streams without one). */
  private digestAlgorithm: RamDigestAlgorithm = 'sha256';
  private digester: RamDigester | undefined;
  /** False when the source announced no digest (its `verify` parameter is off). */
  private verifying = true;
  private prepared: PreparedVm | undefined;
  /**
   * The machine, started paused as soon as the device state arrives (while RAM is still being
   * checked), and the device state it was started from. It runs nothing until resumed, once
   * the digest matched; its start-up (60-270 ms for the synthetic guest's vCPUs) thus leaves
   * the downtime.
   */
  private starting: { state: Uint8Array; vm: Promise<VirtualMachine> } | undefined;
  /** RAM sections begun so far: a check run early is stale once another one came. */
  private ramSections = 0;
  /** The last RAM section was a SECTION_END, whole: RAM is as the source left it (unless another comes). */
  private ramComplete = false;
  /** The started machine whose checks ran early, and on RAM as it was after how many RAM sections. */
  private checkedEarly: { vm: Promise<VirtualMachine>; ramSections: number } | undefined;
  /** Hashes the RAM on a worker once it is complete (started with the RAM: a worker takes a while to start). */
  private hasher: RamHasher | undefined;
  private hashing: Promise<string> | undefined;
  private hashStale = false;
  private ramAnnounced = false;
  private startTime = 0;
  private endTime = 0;
  private readonly maxRamBytes: number;

  constructor(private readonly options: IncomingOptions = {}) {
    super();
    this.maxRamBytes = options.maxRamBytes ?? DEFAULT_MAX_RAM_BYTES;
    const synthetic = syntheticKind({
      ...(options.dirtyLog ? { dirtyLog: options.dirtyLog } : {}),
      ...(options.memory ? { memory: options.memory, memoryIsZero: options.memoryIsZero === true } : {}),
      parkVcpus: options.resume !== false,
      ioBytes: IO_AREA_BYTES,
    });
    this.kinds = { [SYNTHETIC_KIND]: synthetic, ...options.machines };
  }

  /** QEMU's rule: every announced block must exist here with the same size (a subset is fine). */
  private matchPrepared(memory: GuestMemory, blocks: readonly { idstr: string; lengthBytes: number }[]): ReadonlyMap<string, Uint8Array> {
    const views = new Map<string, Uint8Array>();
    for (const b of blocks) {
      const mine = memory.block(b.idstr);
      if (!mine) throw new LivemigError('STREAM_INVALID', `Unknown ramblock "${b.idstr}", cannot accept migration`);
      if (mine.sizeBytes !== b.lengthBytes) {
        throw new LivemigError('STREAM_INVALID', `Size mismatch: ${b.idstr}: 0x${b.lengthBytes.toString(16)} != 0x${mine.sizeBytes.toString(16)}`);
      }
      views.set(b.idstr, mine.bytes);
    }
    return views;
  }

  /** The machine section: its kind must be one this destination builds, its digest one it knows. */
  private async onMachine(bytes: Uint8Array): Promise<void> {
    if (this.machine !== undefined) throw new LivemigError('STREAM_INVALID', 'a second livemig-machine section in one stream');
    if (this.ramAnnounced) throw new LivemigError('STREAM_INVALID', 'the livemig-machine section came after the RAM block list');
    const m = parseMachineSection(bytes);
    if (!Object.hasOwn(this.kinds, m.kind)) {
      throw new LivemigError('GUEST_STATE', `this destination cannot build a machine of kind '${m.kind}' (it builds: ${Object.keys(this.kinds).join(', ')})`);
    }
    if (m.digest === 'none') {
      // the source's verify is off: it sends no digest, and nothing is hashed here
      this.verifying = false;
    } else if (m.digest !== undefined) {
      if (!isRamDigestAlgorithm(m.digest)) throw new LivemigError('STREAM_INVALID', `unsupported RAM digest algorithm '${m.digest}'`);
      this.digestAlgorithm = m.digest;
    }
    this.afterResume = this.verifying && m.verify === 'after-resume';
    this.machine = m;
  }

  /** The RAM block list: the machine is prepared, and the stream's pages go into its RAM. */
  private async setupRam(blocks: readonly { idstr: string; lengthBytes: number }[]): Promise<ReadonlyMap<string, Uint8Array>> {
    if (this.ramAnnounced) throw new LivemigError('STREAM_INVALID', 'a second RAM block list in one stream');
    this.ramAnnounced = true;
    const total = blocks.reduce((n, b) => n + b.lengthBytes, 0);
    if (total > this.maxRamBytes) throw new LivemigError('STREAM_LIMIT', `the stream's RAM (${total} bytes) exceeds --max-ram (${this.maxRamBytes} bytes)`);
    this.machine ??= { kind: SYNTHETIC_KIND, config: null };
    this.digester = await createRamDigester(this.digestAlgorithm);
    const prepared = (this.prepared = await this.kinds[this.machine.kind]!.prepare(this.machine.config, blocks));
    this.memory = prepared.memory;
    const views = this.matchPrepared(prepared.memory, blocks);
    // the stream is read into buffers beside the RAM, from where a page goes in with one memmove
    const io = (this.readArea = ioAreaOf(prepared.memory, 'read'));
    if (io !== undefined) this.channel?.pooled?.useBuffers(io.bytes);
    if (this.verifying && this.digestAlgorithm === 'page128') this.landed = new LandedPageHashes(prepared.memory, prepared.memoryIsZero === true, hashSlotOf(prepared.memory));
    // a whole-RAM digest is taken on a worker once RAM is complete
    else if (this.verifying && RamHasher.canHash(prepared.memory)) this.hasher = RamHasher.start(prepared.memory, 1);
    return views;
  }

  /**
   * Starts now, before the stream arrives, what preparing a machine would start (the synthetic
   * guest's parked vCPU thread): a destination calls it before it listens, as QEMU's has its
   * vCPU threads before `-incoming` accepts, so that a thread's start-up (an isolate and its
   * modules: 40-70 ms of a core) does not take a core from the first pass's RAM. Resolves once
   * it is up; never rejects.
   */
  async startEarly(): Promise<void> {
    await Promise.all(Object.values(this.kinds).map((k) => k.startEarly?.()));
  }

  /** Loads one migration from the channel. Never rejects: the outcome is in `status`. */
  async run(channel: Channel): Promise<IncomingStatus> {
    this.setStatus('active');
    this.startTime = performance.now();
    try {
      if (!channel.input) throw new LivemigError('TRANSPORT_CLOSED', `${channel.description} has no input to read a migration from`);
      // readChunks: stopping at EOF must not destroy the socket, whose write side carries the reply
      // (the loader is done with a chunk when it asks for the next: reused buffers are safe)
      this.channel = channel;
      const src = (this.source = new ByteSource(readChunks(channel, { reuseBuffers: true })));
      const machineType = await peekMachineName(src);
      if (machineType !== undefined && machineType !== LIVEMIG_MACHINE_NAME) return await this.receiveQemu(src, channel);
      const self = this;
      const target: LoadTarget = {
        // read by the loader once setupRam resolved
        get ramStartsZero() {
          return self.prepared?.memoryIsZero === true;
        },
        onMachine: (bytes) => this.onMachine(bytes),
        setupRam: (blocks) => this.setupRam(blocks),
        inPlaceCopy: (idstr) => (this.memory?.ioArea?.block.idstr === idstr ? this.readArea?.copy : undefined),
        onDeviceState: (bytes) => {
          this.deviceState = bytes.slice();
          if (this.options.resume !== false && this.prepared !== undefined && this.starting === undefined) {
            this.starting = { state: this.deviceState, vm: this.startPaused(this.prepared, this.deviceState) };
            if (this.afterResume && this.landed !== undefined && this.resuming === undefined) this.resumeEarly(channel);
            else this.checkEarly(this.starting.vm);
          }
        },
        onDigestChunks: (table) => {
          if (table.length % 16 !== 0) throw new LivemigError('STREAM_INVALID', `livemig-digest-chunks of ${table.length} bytes is not whole digests`);
          this.sourceChunks = new Int32Array(table.buffer.slice(table.byteOffset, table.byteOffset + table.length));
        },
        onPageLanded: (idstr, offset, fill) => {
          this.options.afterPageLanded?.(this.memory!, idstr, offset, fill);
          const landed = this.landed;
          if (landed === undefined) return;
          landed.landed(idstr, offset, fill);
          // hashed while the section still arrives (the source is slower to send than this is
          // to load), so that a long last stage leaves little to hash after its END
          if (landed.pending >= LANDED_HASH_PAGES) landed.hashPages();
        },
        onDigest: (algorithm, digest) => {
          if (!isRamDigestAlgorithm(algorithm)) throw new LivemigError('STREAM_INVALID', `unsupported RAM digest algorithm '${algorithm}'`);
          if (algorithm !== this.digestAlgorithm) {
            // not the one announced: the RAM is hashed again, with this one
            this.digestAlgorithm = algorithm;
            this.hashStale = true;
          }
          this.sourceDigest = Buffer.from(digest).toString('hex');
        },
        onRecord: (kind) => {
          if (kind === 'zero' || kind === 'page' || kind === 'xbzrle' || kind === 'xbrle') this.recordCounts[kind]++;
          // the end of a section part: hash what it wrote, while the source sends the next
          else if (kind === 'eos') this.landed?.flush();
        },
        // RAM is final: hash it on a worker while the device sections arrive (and while the
        // source hashes its own), not after them. A RAM section after that makes the hash stale.
        onRamComplete: () => {
          this.ramComplete = true;
          if (this.hashing !== undefined || !this.verifying || this.landed !== undefined) return;
          const digester = this.digester!;
          if (this.hasher === undefined || digester.algorithm === 'page128') {
            // RAM no worker can read (a PC's): hash it here and now, while the source hashes its own
            this.hashing = Promise.resolve(this.memory!.digestWith(digester));
            return;
          }
          // (if the worker fails, hash here; once the load is over, a closed worker's result is unused)
          this.hashing = this.hasher.digest(digester.algorithm).catch(() => (this.hasher === undefined ? '' : this.memory!.digestWith(digester)));
        },
        onSection: (info) => {
          if (info.idstr !== RAM_SECTION_IDSTR) return;
          this.ramSections++;
          this.ramComplete = false;
          if (this.hashing !== undefined) this.hashStale = true;
        },
      };
      const result = await loadMigrationStream(src, target, { maxRamBytes: this.maxRamBytes }).finally(() => src.close().catch(() => undefined));
      this.bytesRead = result.bytesRead;
      if (!this.memory || !this.ramAnnounced || !this.prepared) throw new LivemigError('STREAM_INVALID', 'the stream carried no RAM');
      if (this.resuming !== undefined) {
        // after-resume: the guest runs already; the check runs on the table taken at its resume
        this.guest = await this.resuming;
        const v = this.check(this.resumedTable!);
        this.endTime = performance.now();
        this.setStatus('completed');
        if (v.result === 'mismatch') {
          this.error = new LivemigError('DIGEST_MISMATCH', describeMismatch(v));
          this.emit('verification-failed', v);
        }
        await this.reply(channel, { status: 'completed', verify: 'after-resume', ...(this.ramDigest !== undefined ? { digest: this.ramDigest } : {}), ...this.mismatchReply(v) });
        return this.status;
      }
      if (this.verifying || this.sourceDigest !== undefined) {
        if (!this.sourceDigest) throw new LivemigError('STREAM_INVALID', 'the stream carried no RAM digest (livemig-digest section); refusing to resume an unverified guest');
        if (this.landed !== undefined && this.digestAlgorithm === 'page128') {
          const v = this.check(this.landed.chunkTable());
          if (v.result === 'mismatch') throw new MismatchError(describeMismatch(v), this.mismatchReply(v));
        } else {
          this.ramDigest = this.hashing !== undefined && !this.hashStale ? await this.hashing : this.memory.digestWith(await createRamDigester(this.digestAlgorithm));
          if (this.ramDigest !== this.sourceDigest) {
            throw new LivemigError('DIGEST_MISMATCH', `RAM digest mismatch: loaded ${this.ramDigest}, source sent ${this.sourceDigest}`);
          }
          this.verification = { mode: 'before-resume', algorithm: this.digestAlgorithm, result: 'matched' };
        }
      }
      let vm: VirtualMachine | undefined;
      let vmStarted: Promise<VirtualMachine> | undefined;
      if (this.options.resume !== false && this.deviceState) {
        // the machine started for this device state, or (another one came later) a new one
        const started = this.starting?.state === this.deviceState ? this.starting.vm : undefined;
        if (started === undefined) this.discardStarted();
        this.starting = undefined;
        vmStarted = started ?? this.startPaused(this.prepared, this.deviceState);
        vm = this.guest = await vmStarted;
      }
      const early = this.checkedEarly;
      if (early === undefined || early.vm !== vmStarted || early.ramSections !== this.ramSections) this.runChecks(vm);
      this.guest?.resume();
      this.endTime = performance.now();
      this.setStatus('completed');
      await this.reply(channel, { status: 'completed', ...(this.ramDigest !== undefined ? { digest: this.ramDigest } : {}) });
    } catch (e) {
      this.discardStarted();
      if (this.guest === undefined) void this.prepared?.discard().catch(() => undefined);
      this.endTime = performance.now();
      this.error = e instanceof Error ? e : new Error(String(e));
      this.bytesRead = Math.max(this.bytesRead, this.source?.offset ?? 0); // what arrived before the failure
      this.setStatus('failed');
      await this.reply(channel, { status: 'failed', error: this.error.message, ...(e instanceof MismatchError ? e.reply : {}) }).catch(() => undefined);
      // Closing a socket with unread stream bytes resets it, and a reset can discard the reply
      // before the source reads it: read and drop what is in flight until the source, told why,
      // closes (or briefly), so the source reports our reason rather than "connection reset".
      await drainInput(channel, DRAIN_AFTER_FAILURE_MS);
      channel.destroy();
    } finally {
      const hasher = this.hasher;
      this.hasher = undefined;
      await hasher?.close();
    }
    return this.status;
  }

  /** A QEMU stream: loaded as data and kept (nothing resumes), then the connection closed (QEMU 7.2 reads no reply). */
  private async receiveQemu(src: ByteSource, channel: Channel): Promise<IncomingStatus> {
    const q = (this.qemu = new QemuIncoming(this.options.qemu ?? {}, this.maxRamBytes));
    let error: Error | undefined;
    try {
      await q.receive(src);
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    await src.close().catch(() => undefined);
    channel.destroy();
    this.endTime = performance.now();
    this.bytesRead = q.bytesRead;
    for (const k of ['zero', 'page', 'xbzrle', 'xbrle'] as const) this.recordCounts[k] = q.counts[k];
    this.error = error;
    this.setStatus(error === undefined ? 'completed' : 'failed');
    return this.status;
  }

  /**
   * after-resume: the chunk table as RAM is now (only the last stage's pages are left to hash),
   * then the guest resumes at once and the source is told; the stream's end is read after.
   */
  private resumeEarly(channel: Channel): void {
    this.resumedTable = this.landed!.chunkTable().slice();
    const starting = this.starting!;
    this.resuming = starting.vm.then(async (vm) => {
      this.runChecks(vm);
      vm.resume();
      this.emit('resumed');
      if (channel.hasReturnPath && channel.output) await channel.write(encodeResumed());
      return vm;
    });
    this.resuming.catch(() => undefined); // awaited once the stream is read
    this.starting = undefined;
  }

  /**
   * Compares page128 chunk tables (ours against the source's); sets ramDigest and verification.
   * @throws LivemigError STREAM_INVALID when the source's table does not fit our RAM.
   */
  private check(mine: Int32Array): VerificationResult {
    const count = this.landed!.chunkCount;
    this.ramDigest = rootDigest(mine, count);
    const mode = this.afterResume ? 'after-resume' : 'before-resume';
    const theirs = this.sourceChunks;
    if (theirs !== undefined && theirs.length !== count * 4) {
      throw new LivemigError('STREAM_INVALID', `the source's chunk digests cover ${theirs.length / 4} chunks, this RAM has ${count}`);
    }
    if (this.ramDigest === this.sourceDigest) return (this.verification = { mode, algorithm: 'page128', result: 'matched' });
    const chunks = theirs === undefined ? [] : differingChunks(mine, theirs);
    if (theirs !== undefined && chunks.length === 0) {
      // every chunk matches: the digest itself is not the one of the chunks it came with
      throw new LivemigError('DIGEST_MISMATCH', `RAM digest mismatch: the stream's digest ${this.sourceDigest} is not that of its own chunk digests (${rootDigest(theirs, count)}): damaged in transit`);
    }
    return (this.verification = { mode, algorithm: 'page128', result: 'mismatch', chunks, chunkCount: chunks.length });
  }

  /** The reply's `mismatch`: the chunks that differ, with our page hashes of the first few. */
  private mismatchReply(v: VerificationResult): { mismatch?: ReplyMismatch } {
    if (v.result !== 'mismatch' || v.chunks === undefined || v.chunks.length === 0) return {};
    const chunks = v.chunks.slice(0, MAX_REPORTED_CHUNKS).map((chunk) => {
      const h = this.landed!.pageHashesOf(chunk);
      return { chunk, pageHashes: Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('base64') };
    });
    return { mismatch: { chunkCount: v.chunks.length, chunks } };
  }

  /**
   * Runs the caller's checks on the machine started paused from the device state, once it is,
   * if RAM is complete: while the source's digest is still on its way, not in the downtime
   * after it. A RAM section after this makes them run again at the end.
   */
  private checkEarly(started: Promise<VirtualMachine>): void {
    if (!this.options.checks || !this.ramComplete) return;
    const ramSections = this.ramSections;
    started.then(
      (vm) => {
        if (this.starting?.vm !== started || this.ramSections !== ramSections) return;
        this.runChecks(vm);
        this.checkedEarly = { vm: started, ramSections };
      },
      () => undefined,
    );
  }

  /** The caller's checks; one that throws is reported as failed, never fails the migration. */
  private runChecks(vm: VirtualMachine | undefined): void {
    if (!this.options.checks) return;
    try {
      this.checks = this.options.checks(this.memory!, vm, this.machine!);
    } catch (e) {
      this.checks = { 'check-error': e instanceof Error ? e.message : String(e) };
    }
  }

  /** The machine, paused; its rejection is observed by whoever awaits it. */
  private startPaused(prepared: PreparedVm, state: Uint8Array): Promise<VirtualMachine> {
    const p = prepared.start(state, { paused: true });
    p.catch(() => undefined);
    return p;
  }

  /** Stops a machine started early that will not run (the load failed, or another device state came). */
  private discardStarted(): void {
    const s = this.starting;
    this.starting = undefined;
    s?.vm.then((g) => g.stop(), () => undefined).catch(() => undefined);
  }

  private async reply(channel: Channel, r: DestinationReply): Promise<void> {
    if (!channel.hasReturnPath || !channel.output) {
      await channel.end().catch(() => undefined);
      return;
    }
    await channel.write(encodeReply(r));
    await channel.end();
  }

  private setStatus(s: IncomingStatus): void {
    this.status = s;
    this.emit('status', s);
  }

  /** QEMU-shaped status for `info migrate` / query-migrate on the destination. */
  info(): MigrationInfo & { incoming: Record<string, unknown> } {
    const ended = this.status === 'completed' || this.status === 'failed';
    const info: MigrationInfo & { incoming: Record<string, unknown> } = { incoming: {} };
    if (this.status === 'none') return info;
    info.status = this.status;
    info['total-time'] = Math.round((ended ? this.endTime : performance.now()) - this.startTime);
    if (this.error) info['error-desc'] = this.error.message;
    info.incoming = {
      'bytes-read': this.status === 'active' && this.source ? this.source.offset : this.bytesRead,
      records: { ...this.recordCounts },
      ...(this.machine ? { machine: this.machine.kind } : {}),
      ...(this.sourceDigest ? { 'source-digest': this.sourceDigest } : {}),
      ...(this.ramDigest ? { 'ram-digest': this.ramDigest } : {}),
      ...(this.sourceDigest ? { 'digest-algorithm': this.digestAlgorithm } : {}),
      ...(!this.verifying ? { verify: 'off' } : {}),
      ...(this.verification
        ? {
            verification: {
              mode: this.verification.mode,
              algorithm: this.verification.algorithm,
              result: this.verification.result,
              ...(this.verification.chunks ? { 'differing-chunks': this.verification.chunks.length, chunks: this.verification.chunks.slice(0, 64) } : {}),
            },
          }
        : {}),
      ...this.checks,
      ...(this.qemu ? { machine: this.qemu.machineName || 'qemu', qemu: this.qemu.info() } : {}),
    };
    return info;
  }
}

/** A before-resume mismatch: fails the load, and its reply names the chunks (the source names the pages). */
class MismatchError extends LivemigError {
  constructor(message: string, readonly reply: { mismatch?: ReplyMismatch }) {
    super('DIGEST_MISMATCH', message);
  }
}

/** How long a failed destination keeps reading (and dropping) the stream after its reply. */
const DRAIN_AFTER_FAILURE_MS = 2000;
/** Landed pages hashed at a time while a RAM section arrives (4 MiB: about a millisecond of hashing). */
const LANDED_HASH_PAGES = 1024;

/** Reads and drops the channel's input until it ends or closes, for at most `ms`. */
function drainInput(channel: Channel, ms: number): Promise<void> {
  const input = channel.input;
  if (!channel.hasReturnPath || input === null || input.destroyed || input.readableEnded) return Promise.resolve();
  const pooled = channel.pooled;
  if (pooled !== undefined) {
    // pooled reads: the bytes come through the reader, not as 'data' events
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      void (async () => {
        try {
          while ((await pooled.next()) !== null);
        } catch {
          // closed or failed: nothing more to drop
        }
        clearTimeout(timer);
        resolve();
      })();
    });
  }
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      input.off('end', done);
      input.off('close', done);
      input.off('error', done);
      input.off('data', drop);
      resolve();
    };
    const drop = (): void => undefined;
    const timer = setTimeout(done, ms);
    input.on('data', drop);
    input.once('end', done);
    input.once('close', done);
    input.once('error', done);
  });
}
