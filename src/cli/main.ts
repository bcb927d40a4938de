#!/usr/bin/env node
/** The `livemig` command. */
import { Command, CommanderError, Option } from 'commander';
import { LivemigError } from '../errors.js';
import { WORKLOAD_NAMES } from '../guest/index.js';
import type { WorkloadName } from '../guest/index.js';
import { DEFAULT_MAX_RAM_BYTES } from '../migration/index.js';
import { choiceOption, intOption, sizeOption } from './options.js';
import { runCommand } from './run-command.js';
import type { RunOptions } from './run-command.js';
import { workloadFlagOptions } from './workload-flags.js';
import { pcFlagOptions } from './pc-flags.js';
import { incomingCommand, timeoutOption } from './incoming-command.js';
import { demoCommand } from './demo-command.js';
import { analyzeCommand } from './analyze-command.js';
import { sendCommand } from './send-command.js';
import { DEFAULT_MAX_BUFFERED_DEVICE_BYTES } from '../stream/index.js';
import { rateOption } from './options.js';

const program = new Command();
program
  .name('livemig')
  .description('Live migration of large, write-hot memory between processes, with QEMU\'s XBZRLE delta compression and stream format')
  .configureOutput({ outputError: (s, write) => write(s) })
  .exitOverride(); // inherited by the commands below: commander's errors reach the catch at the end

const run = program
  .command('run')
  .description('start a guest (RAM plus a workload in worker threads) and its monitor; migrate it with the monitor\'s `migrate` command')
  .addOption(new Option('--ram <size>', 'guest RAM, with k/m/g/t suffixes (one block, pc.ram)').default(64 * 1024 * 1024, '64M').argParser(sizeOption('--ram')))
  .addOption(new Option('--workload <name>', 'what the guest does (tuned by the workload knobs below)').choices(WORKLOAD_NAMES).default('idle'))
  .addOption(new Option('--vcpus <n>', 'worker threads running the workload').default(1).argParser(intOption('--vcpus', 1, 64)))
  .addOption(new Option('--seed <n>', 'seed of the workload\'s random numbers').default(1).argParser(intOption('--seed', 0, 2 ** 31 - 1)))
  .addOption(new Option('--dirty-log <kind>', 'explicit (workloads mark pages) or scan (compare page contents)').default('explicit').argParser(choiceOption('--dirty-log', ['explicit', 'scan'] as const)))
  .addOption(new Option('--monitor <where>', 'the human monitor: stdio, none, unix:PATH or tcp:HOST:PORT (a socket gets one session per connection)').default('stdio'))
  .option('--qmp <where>', 'QMP, the JSON monitor: unix:PATH or tcp:HOST:PORT (port 0: a free port, printed on standard error)')
  .option('--name <name>', 'a name for this guest')
  .option('--telemetry <file>', 'write one JSON line per pass of each migration')
  .option('--report <file>', 'write an HTML report of the migrations (rewritten after each)')
  .option('--tls-creds <dir>', 'TLS credentials for tls: URIs (ca-cert.pem, client-cert.pem, client-key.pem, as QEMU\'s tls-creds-x509)')
  .addOption(new Option('--progress <when>', 'auto: a progress bar on standard error when it is a terminal (with --monitor stdio at a prompt there: only during a migrate without -d, as the prompt is not shown then; info migrate shows the rest); off: never').default('auto').argParser(choiceOption('--progress', ['auto', 'off'] as const)));
for (const flag of pcFlagOptions()) run.addOption(flag);
for (const knob of workloadFlagOptions()) run.addOption(knob);
run.action(async (o: RunOptions) => {
  process.exitCode = await runCommand(o);
});

program
  .command('incoming')
  .description('wait for a migration on URI (tcp:HOST:PORT, tls:HOST:PORT with --tls-creds, unix:PATH, exec:CMD, fd:N, file:PATH), verify it and resume the guest; from a QEMU source (migrate tcp:HOST:PORT), receive its VM as data and keep it (--save, --extract-ram)')
  .argument('<uri>', "where the migration comes from, or 'defer' (QEMU's -incoming defer): wait for the URI from HMP migrate_incoming or QMP migrate-incoming. After a failed migration (without --exit) a socket URI listens again; any other waits for migrate_incoming (or exits 1 when no monitor could give it)")
  .addOption(new Option('--max-ram <size>', 'most RAM an incoming stream may make us allocate').default(DEFAULT_MAX_RAM_BYTES, '4G').argParser(sizeOption('--max-ram')))
  .option('--tls-creds <dir>', 'TLS credentials for a tls: URI (ca-cert.pem, server-cert.pem, server-key.pem, as QEMU\'s tls-creds-x509)')
  .addOption(timeoutOption('read'))
  .addOption(timeoutOption('write'))
  .addOption(new Option('--ram <size>', 'prepare this much RAM (block pc.ram) before the migration arrives, as QEMU\'s -m; the stream must match it').argParser(sizeOption('--ram')))
  .addOption(new Option('--monitor <where>', 'the human monitor: stdio, none, unix:PATH or tcp:HOST:PORT').default('stdio'))
  .option('--qmp <where>', 'QMP, the JSON monitor: unix:PATH or tcp:HOST:PORT')
  .option('--json', 'print events as JSON lines on standard output', false)
  .option('--exit', 'exit when the migration has ended (status 0 if completed)', false)
  .addOption(new Option('--exit-after <ms>', 'with --exit: let the resumed guest run this long, then report its work and RAM').default(0).argParser(intOption('--exit-after', 0, 3_600_000)))
  .addOption(new Option('--dirty-log <kind>', 'dirty log of the resumed guest').default('explicit').argParser(choiceOption('--dirty-log', ['explicit', 'scan'] as const)))
  .addOption(new Option('--serial <where>', 'a received PC\'s COM1: stdio, file:PATH or none (what the guest writes after the switchover)').default('none'))
  .option('--save <file>', 'from a QEMU source: write the received VM to FILE, a checkpoint (every page once) that QEMU loads with -incoming "exec:cat FILE" and that livemig send sends')
  .option('--extract-ram <dir>', 'from a QEMU source: write each RAM block to <dir>/<idstr>.bin, as analyze --extract-ram')
  .addOption(new Option('--max-device-state <size>', 'from a QEMU source: most bytes of device sections and VM description held until the description (sent last) arrives').default(DEFAULT_MAX_BUFFERED_DEVICE_BYTES, '32M').argParser(sizeOption('--max-device-state')))
  .action(async (uri: string, o: { maxRam: number; ram?: number; tlsCreds?: string; readTimeout: number; writeTimeout: number; monitor: string; qmp?: string; json: boolean; exit: boolean; exitAfter: number; dirtyLog: 'explicit' | 'scan'; serial: string; save?: string; extractRam?: string; maxDeviceState: number }) => {
    process.exitCode = await incomingCommand(uri, o);
  });

program
  .command('demo')
  .description('migrate a guest that rewrites one byte of every page between two processes, with XBZRLE and without, and compare')
  .addOption(new Option('--machine <kind>', 'synthetic (worker threads running --workload) or pc (an x86 PC emulated by v86 booting livemig\'s stride boot-sector guest; needs Debian\'s seabios)').default('synthetic').argParser(choiceOption('--machine', ['synthetic', 'pc'] as const)))
  .addOption(new Option('--ram <size>', 'guest RAM').default(32 * 1024 * 1024, '32M').argParser(sizeOption('--ram')))
  .addOption(new Option('--workload <name>', 'what the guest does').choices(WORKLOAD_NAMES).default('seed'))
  .addOption(new Option('--bandwidth <rate>', 'simulated link speed in bytes/s (k/m/g suffixes)').default(8 * 1024 * 1024, '8M').argParser(rateOption('--bandwidth')))
  .addOption(new Option('--max-time <ms>', 'switch over anyway after this long').default(12_000).argParser(intOption('--max-time', 1, 3_600_000)))
  .option('--json', 'print the results as JSON', false)
  .option('--report <file>', 'write an HTML report of both migrations side by side (self-contained: plots, no scripts)')
  .option('--telemetry <file>', 'write one JSON line per pass of each migration')
  .action(async (o: { machine: 'synthetic' | 'pc'; ram: number; workload: WorkloadName; bandwidth: number; maxTime: number; json: boolean; report?: string; telemetry?: string }) => {
    if (o.bandwidth <= 0) throw new LivemigError('INVALID_ARGUMENT', '--bandwidth must be more than 0');
    process.exitCode = await demoCommand(o);
  });

program
  .command('analyze')
  .description('read a migration stream (livemig\'s or QEMU\'s) and show its sections, records and XBZRLE statistics')
  .argument('<file>', 'the stream, or - for standard input')
  .option('--json', 'print a machine-readable summary (blocks with id, length, file and sha256)', false)
  .option('--extract-ram <dir>', 'write each RAM block\'s final contents to <dir>/<idstr>.bin')
  .addOption(new Option('--max-ram <size>', 'most RAM the stream may make us allocate').default(4 * 1024 ** 3, '4G').argParser(sizeOption('--max-ram')))
  .action(async (file: string, o: { json: boolean; extractRam?: string; maxRam: number }) => {
    process.exitCode = await analyzeCommand(file, o);
  });

program
  .command('send')
  .description('migrate a saved stream (incoming --save) to a destination waiting for it, e.g. qemu-system-x86_64 ... -incoming tcp:HOST:PORT')
  .argument('<file>', 'the stream file (checked whole before anything is sent)')
  .argument('<uri>', 'where to send it: tcp:HOST:PORT, tls:HOST:PORT, unix:PATH, exec:CMD, fd:N, file:PATH')
  .addOption(new Option('--max-bandwidth <rate>', 'bytes per second, k/m/g suffixes; 0 = unlimited').default(0, '0').argParser(rateOption('--max-bandwidth')))
  .addOption(new Option('--max-ram <size>', 'most RAM the file\'s block list may announce (nothing is allocated for it)').default(DEFAULT_MAX_RAM_BYTES, '4G').argParser(sizeOption('--max-ram')))
  .option('--tls-creds <dir>', 'TLS credentials for a tls: URI (ca-cert.pem, client-cert.pem, client-key.pem, as QEMU\'s tls-creds-x509)')
  .option('--json', 'print events as JSON lines on standard output', false)
  .action(async (file: string, uri: string, o: { maxBandwidth: number; maxRam: number; tlsCreds?: string; json: boolean }) => {
    process.exitCode = await sendCommand(file, uri, o);
  });

program
  .command('bench')
  .description('run the migration benchmark matrix (workloads × links × codecs × cache sizes × guest sizes, auto-converge, auto-xbzrle) and write JSON, markdown and an HTML report')
  .addOption(new Option('--matrix <name>', 'tiny (CI, < 1 min), default (~11 min a repetition), full (hours)').default('default').argParser(choiceOption('--matrix', ['tiny', 'default', 'full'] as const)))
  .addOption(new Option('--repeat <n>', 'run each cell of the matrix n times with the same seed, round after round; the JSON keeps every run, the tables show the median and min–max, converged as k/n').default(1).argParser(intOption('--repeat', 1, 100)))
  .option('--netns', 'real links: source and destination in two network namespaces joined by a veth pair shaped with tc (root)', false)
  .option('--json <file>', 'write every result, with pass records, as JSON')
  .option('--markdown <file>', 'write the results as markdown tables')
  .option('--report <file>', 'write a self-contained HTML report with plots')
  .option('--filter <text>', 'only the runs whose id contains this text')
  .action(async (o: { matrix: 'tiny' | 'default' | 'full'; repeat: number; netns: boolean; json?: string; markdown?: string; report?: string; filter?: string }) => {
    process.exitCode = await (await import('./bench-command.js')).benchCommand(o);
  });

// Usage errors (commander's, and INVALID_ARGUMENT from a command): the error, then a pointer
// to the command's --help instead of the whole help, and status 2.
const helpHint = (c: Command): string => `Try '${c.parent ? `${c.parent.name()} ${c.name()}` : c.name()} --help'.`;
program.showHelpAfterError(helpHint(program));
for (const c of program.commands) c.showHelpAfterError(helpHint(c));
let acting: Command = program;
program.hook('preAction', (_program, command) => {
  acting = command;
});

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // commander already printed the error and the pointer (or the help, or the version)
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  const msg = e instanceof LivemigError ? `${e.message}` : e instanceof Error ? e.message : String(e);
  process.stderr.write(`livemig: ${msg}\n`);
  const usage = e instanceof LivemigError && e.code === 'INVALID_ARGUMENT';
  if (usage) process.stderr.write(helpHint(acting) + '\n');
  process.exitCode = usage ? 2 : 1;
});
