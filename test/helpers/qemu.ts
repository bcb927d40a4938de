/**
 * A real QEMU for tests (Debian's qemu-system-x86_64, TCG): a tiny PC booting one of livemig's
 * boot-sector guests from a floppy, driven over QMP on a unix socket (test/monitor/qmp-client.ts).
 * COM1 goes to a unix socket this helper listens on, so tests wait for the guest's markers as
 * they arrive instead of polling a file. Every QEMU started is killed by `stopAllQemus()`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { floppyImage } from '../../src/guest/pc/boot-images.js';
import type { BootImageName } from '../../src/guest/pc/boot-images.js';
import { QmpClient } from '../monitor/qmp-client.js';
import type { Json } from '../monitor/qmp-client.js';
import { qemuPath } from './requirements.js';

/** The machine type every QEMU here runs: what its streams carry and what loads them. */
export const QEMU_MACHINE = 'pc-i440fx-7.2';

const live = new Set<ChildProcess>();

export interface QemuOptions {
  /** A directory of the test's own for sockets, the floppy image and files. */
  dir: string;
  /** Names this QEMU's sockets. */
  name: string;
  ramMiB: number;
  /** The boot-sector guest on the floppy (the same image for a source and its destination). */
  image: BootImageName;
  /** `-incoming` (e.g. 'defer', or a URI): a destination. */
  incoming?: string;
  /** `-S`: do not start the CPU. */
  paused?: boolean;
}

export class Qemu {
  readonly serial: number[] = [];
  private serialWaiters: { pred: (bytes: readonly number[]) => boolean; resolve: () => void }[] = [];
  readonly exited: Promise<number | null>;
  readonly stderr: string[] = [];

  private constructor(
    readonly proc: ChildProcess,
    readonly qmp: QmpClient,
    private readonly serialServer: Server,
    serialSocket: Promise<Socket>,
  ) {
    this.exited = new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', (code) => r(code))));
    void serialSocket.then((s) => {
      s.on('data', (d: Buffer) => {
        for (const b of d) this.serial.push(b);
        this.serialWaiters = this.serialWaiters.filter((w) => (w.pred(this.serial) ? (w.resolve(), false) : true));
      });
      s.on('error', () => undefined);
    });
  }

  /** Starts QEMU with the floppy guest and connects QMP (capabilities negotiated). */
  static async start(o: QemuOptions): Promise<Qemu> {
    const bin = qemuPath();
    if (bin === undefined) throw new Error('qemu-system-x86_64 not found');
    const floppy = join(o.dir, `${o.image}.img`);
    writeFileSync(floppy, floppyImage(o.image));
    const qmpPath = join(o.dir, `${o.name}.qmp`);
    const serialPath = join(o.dir, `${o.name}.com1`);
    // COM1: QEMU connects to us, so its bytes arrive as events
    const server = createServer();
    const socket = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(serialPath, () => resolve());
    });
    const args = [
      '-M', QEMU_MACHINE, '-accel', 'tcg', '-m', `${o.ramMiB}M`, '-nodefaults', '-display', 'none',
      '-drive', `file=${floppy},format=raw,if=floppy`,
      '-chardev', `socket,id=com1,path=${serialPath}`, '-serial', 'chardev:com1',
      '-qmp', `unix:${qmpPath},server=on,wait=off`,
      ...(o.paused ? ['-S'] : []),
      ...(o.incoming !== undefined ? ['-incoming', o.incoming] : []),
    ];
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(proc);
    const stderr: string[] = [];
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    proc.once('exit', () => live.delete(proc));
    const qmp = await connectQmp(qmpPath, proc, stderr);
    const q = new Qemu(proc, qmp, server, socket);
    q.stderr.push(...stderr);
    proc.stderr!.on('data', (d: string) => q.stderr.push(d));
    return q;
  }

  /** Resolves once COM1 has carried `count` bytes equal to `marker` (in all). */
  waitMarkers(marker: number, count: number, ms = 20_000): Promise<void> {
    const pred = (bytes: readonly number[]): boolean => bytes.filter((b) => b === marker).length >= count;
    if (pred(this.serial)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`COM1: fewer than ${count} of 0x${marker.toString(16)} within ${ms} ms (got ${this.serial.length} bytes); stderr: ${this.stderr.join('')}`)), ms);
      this.serialWaiters.push({ pred, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  /** Turns on MIGRATION events (QEMU sends them only with the `events` capability), plus `caps`. */
  async migrationCapabilities(caps: Record<string, boolean> = {}): Promise<void> {
    const all = { events: true, ...caps };
    await this.qmp.ok('migrate-set-capabilities', { capabilities: Object.entries(all).map(([capability, state]) => ({ capability, state })) });
  }

  /** The next MIGRATION event with `status` (from now, or from message index `from`). */
  migrationStatus(status: string, ms = 30_000, from = this.qmp.messages.length): Promise<Json> {
    return this.qmp.waitFor((m) => m['event'] === 'MIGRATION' && (m['data'] as Json)['status'] === status, ms, from);
  }

  /** Guest-physical RAM [0, bytes) through QEMU's own pmemsave (the ground truth), read back. */
  async pmemsave(bytes: number, file: string): Promise<Buffer> {
    await this.qmp.ok('pmemsave', { val: 0, size: bytes, filename: file });
    const { readFile } = await import('node:fs/promises');
    return readFile(file);
  }

  /** Quits over QMP (killed if it does not exit within 5 s). */
  async quit(): Promise<void> {
    if (this.proc.exitCode === null) {
      await this.qmp.execute('quit', undefined, 5000).catch(() => undefined);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    this.qmp.close();
    this.serialServer.close();
  }
}

/** QMP's socket exists once QEMU has parsed its options: connect when it does. */
async function connectQmp(path: string, proc: ChildProcess, stderr: string[]): Promise<QmpClient> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`QEMU exited (${proc.exitCode}) before its QMP socket was up: ${stderr.join('')}`);
    try {
      return await QmpClient.ready({ path });
    } catch (e) {
      if (performance.now() > deadline) throw new Error(`QMP at ${path} not up within 10 s: ${String(e)}; stderr: ${stderr.join('')}`);
      await sleep(10); // a retry interval while the socket does not exist yet, not a wait for a result
    }
  }
}

/** Kills every QEMU still running (for `after()`). */
export function stopAllQemus(): void {
  for (const p of live) p.kill('SIGKILL');
}
