/**
 * The source's view of the stream: the stream layer's writer, fed to the transport with
 * back-pressure, with the section ids livemig uses.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ByteWriter, LIVEMIG_MACHINE_NAME, LivemigSectionId, MigrationStreamWriter, encodeMachineSection } from '../stream/index.js';
import type { ChunkSink, RamRecordWriter } from '../stream/index.js';
import type { GuestMemory } from '../guest/index.js';
import { ioAreaOf } from './io-area.js';

export const RAM_SECTION_ID = LivemigSectionId.Ram;


export class OutgoingStream {
  private readonly bytes: ByteWriter;
  /**
   * When the last {@link flush} had handed everything over, before its turn of the event loop
   * (where a machine on this thread runs: not the stream's time).
   */
  flushedAt = 0;
  private readonly stream: MigrationStreamWriter;
  readonly ram: RamRecordWriter;

  /**
   * `machineType`: the configuration section's machine; any other than livemig's makes a
   * QEMU-shaped stream, in which the machine, device-state and digest sections are left out.
   * `memory`: the guest's RAM; where it has an I/O area (GuestMemory.ioArea), the stream's
   * chunks lie there and its pages go into them with one in-place copy each.
   */
  constructor(sink: ChunkSink, private readonly machineType: string = LIVEMIG_MACHINE_NAME, memory?: GuestMemory) {
    const area = ioAreaOf(memory, 'write');
    this.bytes = new ByteWriter(sink, area === undefined ? {} : { area });
    this.stream = new MigrationStreamWriter(this.bytes);
    this.ram = this.stream.ram;
  }

  /** True for a QEMU-shaped stream (a machine type other than livemig's): RAM only. */
  get qemuShaped(): boolean {
    return this.machineType !== LIVEMIG_MACHINE_NAME;
  }

  /** Every byte written so far (QEMU's `transferred`). */
  get bytesWritten(): number {
    return this.bytes.bytesWritten;
  }

  /** True once the transport failed: later writes are dropped (the failure is sticky). */
  get failed(): boolean {
    return this.bytes.failed;
  }

  /** Bytes written but not yet accepted by the transport. */
  get buffered(): number {
    return this.bytes.pendingBytes;
  }

  header(): void {
    this.stream.header(this.machineType);
  }

  /** The machine the destination must build, before any RAM. */
  machine(kind: string, config: unknown, digest: string, afterResume = false): void {
    if (this.qemuShaped) return;
    this.stream.machine(LivemigSectionId.Machine, encodeMachineSection({ kind, config, digest, ...(afterResume ? { verify: 'after-resume' as const } : {}) }));
  }

  ramSetup(memory: GuestMemory): void {
    this.stream.ramSetup(RAM_SECTION_ID, memory.blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.sizeBytes })));
  }

  sectionPart(id: number): void {
    this.stream.sectionPart(id);
  }

  sectionEnd(id: number): void {
    this.stream.sectionEnd(id);
  }

  footer(id: number): void {
    this.stream.footer(id);
  }

  ramEos(): void {
    this.ram.eos();
  }

  deviceState(state: Uint8Array): void {
    if (this.qemuShaped) return;
    this.stream.deviceState(LivemigSectionId.Device, state);
  }

  /** page128's chunk digests (livemig streams only), before {@link digest}. */
  digestChunks(table: Uint8Array): void {
    if (this.qemuShaped) return;
    this.stream.digestChunks(LivemigSectionId.DigestChunks, table);
  }

  digest(algorithm: string, digest: Uint8Array): void {
    if (this.qemuShaped) return;
    this.stream.digest(LivemigSectionId.Digest, algorithm, digest);
  }

  eof(): void {
    this.stream.eof();
  }

  vmdesc(): void {
    this.stream.vmdesc();
  }

  /**
   * Hands everything written to the transport, waits until it took it, then lets the event
   * loop turn once. A socket that takes every chunk at once resolves all of this in
   * microtasks, so without that turn a whole pass would run without one: the transport's
   * write callbacks (which return chunks to the writer's pool), timers, monitor commands and
   * the destination's reply would all wait for its end.
   */
  async flush(): Promise<void> {
    await this.bytes.flush();
    this.flushedAt = performance.now();
    await nextTurn();
  }
}
