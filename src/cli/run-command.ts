/**
 * `livemig run`: start a guest and its monitors (the source side of a migration).
 *
 * The process ends on `quit` (from any monitor), on SIGINT/SIGTERM, or, with `--monitor
 * stdio`, at the end of standard input once no migration is running. A running migration is
 * cancelled on the way out.
 */
import { Guest, GuestMemory } from '../guest/index.js';
import type { VirtualMachine, WorkloadName } from '../guest/index.js';
import { InvalidArgumentError } from '../errors.js';
import { checkPcFlagsUnused, startPc } from './pc-flags.js';
import type { PcFlags } from './pc-flags.js';
import { SerialSink, parseSerial } from './serial.js';
import { IO_AREA_BYTES, SourceManager, describeMismatch, warmUpEngine } from '../migration/index.js';
import { Machine, parseMonitorAddress } from '../monitor/index.js';
import type { Monitors } from '../monitor/index.js';
import { quitOnSignals, startProcessMonitors } from './process-monitors.js';
import { checkReportPath, formatBytes, observeMigrations } from './report/index.js';
import { loadTlsCreds } from './tls-creds.js';
import { KNOBS, workloadSettings } from './workload-flags.js';
import type { WorkloadFlags } from './workload-flags.js';

/** Everything `livemig run` takes; the workload knobs (`--rate`, `--buffer`, ...) come from {@link WorkloadFlags}. */
export interface RunOptions extends WorkloadFlags, PcFlags {
  ram: number;
  workload: WorkloadName;
  vcpus: number;
  seed: number;
  dirtyLog: 'explicit' | 'scan';
  /** stdio, none, unix:PATH or tcp:HOST:PORT. */
  monitor: string;
  /** unix:PATH or tcp:HOST:PORT. */
  qmp?: string | undefined;
  name?: string | undefined;
  /** One JSON line per pass of each migration. */
  telemetry?: string | undefined;
  /** An HTML report of the migrations, rewritten after each. */
  report?: string | undefined;
  /** A directory of TLS credentials (QEMU's tls-creds-x509 layout) for tls: migrations. */
  tlsCreds?: string | undefined;
  /** `auto` (default): a progress bar on standard error when it is a terminal (see runCommand); `off`: none. */
  progress?: 'auto' | 'off' | undefined;
}

/** How often end of input re-checks whether a detached migration has ended. */
const IDLE_POLL_MS = 50;

export async function runCommand(o: RunOptions): Promise<number> {
  // every option is checked before the guest starts
  const monitor = parseMonitorAddress(o.monitor, '--monitor', ['stdio', 'none', 'unix', 'tcp']);
  const qmp = o.qmp === undefined ? undefined : parseMonitorAddress(o.qmp, '--qmp', ['unix', 'tcp']);
  if (o.report !== undefined) checkReportPath(o.report, '--report');
  const tls = o.tlsCreds === undefined ? undefined : loadTlsCreds(o.tlsCreds, 'client');
  const serialSpec = parseSerial(o.serial);
  if (serialSpec.kind === 'stdio' && monitor.kind === 'stdio') throw new InvalidArgumentError('--serial stdio and --monitor stdio cannot share standard output: give one of them another place');
  if (o.machine !== 'pc') checkPcFlagsUnused(o);
  const { workloadOptions, region } = o.machine === 'pc' ? { workloadOptions: undefined, region: undefined } : workloadSettings(o.workload, o, o.ram, o.vcpus);
  // the sender's hot paths compiled now (before the vCPUs compete for the cores), not during
  // the first ~150 ms of the first migration
  await warmUpEngine();
  const serial = new SerialSink(serialSpec);
  let guest: VirtualMachine;
  if (o.machine === 'pc') {
    guest = await startPc(o, o.ram, serial.write);
  } else {
    const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ram }], { ioBytes: IO_AREA_BYTES });
    guest = await Guest.start({ memory, workload: o.workload, vcpus: o.vcpus, seed: o.seed, dirtyLog: o.dirtyLog, ...(workloadOptions ? { workloadOptions } : {}), ...(region ? { region } : {}) });
  }
  const source = new SourceManager(guest);
  if (tls) source.transport = { tls };
  // The bar is drawn only on a terminal. With the stdio monitor at a prompt on that terminal, it
  // would share the prompt's line: there it is drawn only while a `migrate` typed there waits
  // for its end (no prompt meanwhile); a detached migration, or one started by another monitor,
  // draws nothing, as in QEMU (`info migrate` shows it).
  const prompting = monitor.kind === 'stdio' && process.stdin.isTTY === true;
  let foregroundMigrate = false;
  const observer = observeMigrations(source, {
    ...(o.progress === 'off' ? {} : { progress: process.stderr }),
    ...(prompting ? { progressFor: () => foregroundMigrate } : {}),
    ...(o.telemetry !== undefined ? { telemetry: o.telemetry } : {}),
    ...(o.report !== undefined
      ? { report: o.report, reportOptions: { title: 'livemig run', parameters: reportParameters(o) } }
      : {}),
  });
  // a check that failed after the destination resumed (verify after-resume): said loudly, exit 1
  let verificationFailed = false;
  source.onMigration((m) =>
    m.on('verification-failed', (v) => {
      verificationFailed = true;
      process.stderr.write(`livemig: ${describeMismatch(v)} (the destination resumed before the check: verify after-resume)\n`);
    }),
  );
  const machine = new Machine({ source }, { name: o.name });
  const quit = new Promise<void>((resolve) => machine.once('quit', resolve));
  const unhookSignals = quitOnSignals(machine);
  let monitors: Monitors | undefined;
  try {
    monitors = await startProcessMonitors(machine, monitor, qmp, prompting ? { onStdioForegroundMigrate: (running) => (foregroundMigrate = running) } : {});
    const endOfInput = monitors.stdio?.then(async () => {
      while (source.running) await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
    });
    await Promise.race(endOfInput ? [quit, endOfInput] : [quit]);
  } finally {
    unhookSignals();
    source.cancel();
    await observer.close();
    await monitors?.close();
    machine.close();
    source.close();
    await guest.stop();
    serial.close();
  }
  return verificationFailed ? 1 : 0;
}

/** The machine and what it runs, for the report's parameter table. */
function reportParameters(o: RunOptions): [string, string][] {
  if (o.machine === 'pc') {
    const boot = o.bootSector !== undefined ? `boot sector ${o.bootSector}` : o.kernel !== undefined ? `kernel ${o.kernel}` : o.fda ?? o.hda ?? '';
    return [['machine', 'pc (v86)'], ['guest RAM', formatBytes(o.ram)], ['boots', boot]];
  }
  return [['guest RAM', formatBytes(o.ram)], ['workload', o.workload], ['vCPUs', String(o.vcpus)], ...knobsGiven(o)];
}

/** The knobs given on the command line, for the report's parameter table. */
function knobsGiven(o: WorkloadFlags): [string, string][] {
  return KNOBS.filter((k) => o[k.key] !== undefined).map((k) => [k.flag, String(o[k.key])]);
}
