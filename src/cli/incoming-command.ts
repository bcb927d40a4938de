/**
 * `livemig incoming URI`: the destination. Listens (or reads), loads one migration,
 * verifies its RAM digest, resumes the guest and reports. With --json, events go to
 * standard output as JSON lines (listening, then completed or failed).
 *
 * Monitors (`--monitor`, `--qmp`) serve while it waits and after: `info migrate` /
 * `query-migrate` show the incoming side. `quit` (or SIGINT/SIGTERM) ends the process at any
 * time, dropping a migration still arriving; otherwise it ends after the migration with
 * `--exit`, else at the end of a stdio monitor's input or on quit.
 */
import type { Guest } from '../guest/index.js';
import { GuestMemory, checkStride } from '../guest/index.js';
import { IncomingMigration } from '../migration/index.js';
import type { IncomingStatus } from '../migration/index.js';
import { Machine, formatIncomingInfo, parseMonitorAddress, toSafeJson } from '../monitor/index.js';
import type { Monitors } from '../monitor/index.js';
import { quitOnSignals, startProcessMonitors } from './process-monitors.js';
import { listenIncoming } from '../transport/index.js';
import { loadTlsCreds } from './tls-creds.js';
import type { Channel } from '../transport/index.js';

export interface IncomingCommandOptions {
  maxRam: number;
  /** stdio, none, unix:PATH or tcp:HOST:PORT. */
  monitor: string;
  /** unix:PATH or tcp:HOST:PORT. */
  qmp?: string | undefined;
  json: boolean;
  /** Exit once the migration ended (0 completed, 1 failed); `exitAfter` ms of running first. */
  exit: boolean;
  exitAfter: number;
  dirtyLog: 'explicit' | 'scan';
  /** Prepare this much RAM (one block, pc.ram) before the stream arrives, as QEMU's `-m`. */
  ram?: number | undefined;
  /** A directory of TLS credentials (QEMU's tls-creds-x509 layout) for a tls: URI. */
  tlsCreds?: string | undefined;
}

export async function incomingCommand(uri: string, o: IncomingCommandOptions): Promise<number> {
  const monitor = parseMonitorAddress(o.monitor, '--monitor', ['stdio', 'none', 'unix', 'tcp']);
  const qmp = o.qmp === undefined ? undefined : parseMonitorAddress(o.qmp, '--qmp', ['unix', 'tcp']);
  const say = (event: Record<string, unknown>) => {
    if (o.json) process.stdout.write(toSafeJson(event) + '\n');
  };
  const listener = await listenIncoming(uri, o.tlsCreds === undefined ? undefined : { tls: loadTlsCreds(o.tlsCreds, 'server') });
  // prepared RAM is faulted in now, before the stream arrives, not while it streams in
  const prepared = o.ram === undefined ? undefined : new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ram }]);
  if (prepared) for (const b of prepared.blocks) b.bytes.fill(0);
  const incoming = new IncomingMigration({ maxRamBytes: o.maxRam, dirtyLog: o.dirtyLog, ...(prepared ? { memory: prepared } : {}) });
  const machine = new Machine({ incoming });
  const abort = new AbortController();
  let quitting = false;
  let channel: Channel | undefined;
  const quit = new Promise<void>((resolve) =>
    machine.once('quit', () => {
      quitting = true;
      abort.abort();
      channel?.destroy(); // a migration still arriving fails now
      resolve();
    }),
  );
  const unhookSignals = quitOnSignals(machine);
  let monitors: Monitors | undefined;
  let guest: Guest | undefined;
  try {
    monitors = await startProcessMonitors(machine, monitor, qmp);
    say({ event: 'listening', uri: listener.address });
    if (!o.json) process.stderr.write(`livemig: waiting for a migration on ${listener.address}\n`);
    let status: IncomingStatus = 'none';
    try {
      channel = await listener.accept({ timeoutMs: Infinity, signal: abort.signal });
      status = await incoming.run(channel);
    } catch (e) {
      if (!quitting) throw e; // quit while waiting: nothing arrived
    } finally {
      await listener.close();
    }
    guest = incoming.guest;
    if (status !== 'none') {
      const info = incoming.info();
      if (status === 'completed') {
        const usage = process.resourceUsage();
        say({ event: 'completed', maxRssBytes: usage.maxRSS * 1024, cpuUserMs: Math.round(usage.userCPUTime / 1000), cpuSystemMs: Math.round(usage.systemCPUTime / 1000), ...info });
        if (!o.json) process.stderr.write(formatIncomingInfo(info) + '\n');
      } else {
        say({ event: 'failed', error: incoming.error?.message ?? 'unknown error', ...info });
        process.stderr.write(`livemig: incoming migration failed: ${incoming.error?.message ?? 'unknown error'}\n`);
      }
    }
    if (o.exit && !quitting) {
      if (guest && o.exitAfter > 0) {
        const before = guest.workDone();
        await Promise.race([new Promise((r) => setTimeout(r, o.exitAfter)), quit]);
        await guest.pause();
        say({ event: 'ran', workDone: guest.workDone() - before, digest: guest.memory.digest(), strideCheck: checkStride(guest.memory) });
      }
    } else if (!quitting) {
      await Promise.race(monitors.stdio ? [quit, monitors.stdio] : [quit]);
    }
    return status === 'completed' || status === 'none' ? 0 : 1;
  } finally {
    unhookSignals();
    await listener.close();
    await monitors?.close();
    machine.close();
    await (guest ?? incoming.guest)?.stop();
  }
}
