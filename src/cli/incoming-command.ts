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
import { Option } from 'commander';
import { Guest, GuestMemory, checkStride } from '../guest/index.js';
import type { VirtualMachine } from '../guest/index.js';
import { patternChecks } from './pattern-checks.js';
import { PC_KIND, pcKind } from '../guest/index.js';
import { InvalidArgumentError } from '../errors.js';
import { SerialSink, parseSerial } from './serial.js';
import { IO_AREA_BYTES, IncomingMigration, warmUpEngine } from '../migration/index.js';
import type { IncomingStatus } from '../migration/index.js';
import { Machine, formatIncomingInfo, parseMonitorAddress, toSafeJson } from '../monitor/index.js';
import type { Monitors } from '../monitor/index.js';
import { quitOnSignals, startProcessMonitors } from './process-monitors.js';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS, TransportError, listenIncoming, parseMigrationUri } from '../transport/index.js';
import type { IncomingListener } from '../transport/index.js';
import { once } from 'node:events';
import { MAX_TIMEOUT_MS } from '../migration/parameters.js';
import { intOption } from './options.js';
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
  /** tcp:/tls:/unix: milliseconds without a byte from a connected source before failing; 0 = no timeout (default 60 s). */
  readTimeout?: number | undefined;
  /** tcp:/tls:/unix: milliseconds the reply may wait on a source that reads nothing; 0 = no timeout (default 30 s). */
  writeTimeout?: number | undefined;
  /** A received PC's COM1: stdio, file:PATH or none. */
  serial?: string | undefined;
  /** A QEMU stream: write the received VM here as a checkpoint QEMU loads. */
  save?: string | undefined;
  /** A QEMU stream: write each RAM block to DIR/<idstr>.bin. */
  extractRam?: string | undefined;
  /** A QEMU stream: most bytes of device sections and VM description buffered until the description arrives. */
  maxDeviceState?: number | undefined;
}

/** `--read-timeout MS` / `--write-timeout MS` for main.ts: the stall timeouts of a connected source, 0 = none. */
export function timeoutOption(which: 'read' | 'write'): Option {
  const flag = `--${which}-timeout`;
  const what = which === 'read'
    ? 'fail the migration when the connected source sends nothing for this many ms (a stalled source)'
    : 'fail the migration when the source takes no byte of our reply for this many ms (a source that stopped reading)';
  return new Option(`${flag} <ms>`, `tcp:, tls:, unix: ${what}; 0 = no timeout`)
    .default(which === 'read' ? DEFAULT_READ_TIMEOUT_MS : DEFAULT_WRITE_TIMEOUT_MS)
    .argParser(intOption(flag, 0, MAX_TIMEOUT_MS));
}

export async function incomingCommand(uri: string, o: IncomingCommandOptions): Promise<number> {
  const monitor = parseMonitorAddress(o.monitor, '--monitor', ['stdio', 'none', 'unix', 'tcp']);
  const qmp = o.qmp === undefined ? undefined : parseMonitorAddress(o.qmp, '--qmp', ['unix', 'tcp']);
  const serialSpec = parseSerial(o.serial ?? 'none');
  if (serialSpec.kind === 'stdio' && (monitor.kind === 'stdio' || o.json)) throw new InvalidArgumentError(`--serial stdio cannot share standard output with ${o.json ? '--json' : '--monitor stdio'}: give one of them another place`);
  const serial = new SerialSink(serialSpec);
  const say = (event: Record<string, unknown>) => {
    if (o.json) process.stdout.write(toSafeJson(event) + '\n');
  };
  const listenOptions = {
    pooledReads: true, // the stream is read into reused buffers (IncomingMigration reads it with readChunks)
    ...(o.tlsCreds === undefined ? {} : { tls: loadTlsCreds(o.tlsCreds, 'server') }),
    ...(o.readTimeout === undefined ? {} : { readTimeoutMs: o.readTimeout === 0 ? Infinity : o.readTimeout }),
    ...(o.writeTimeout === undefined ? {} : { writeTimeoutMs: o.writeTimeout === 0 ? Infinity : o.writeTimeout }),
  };
  // QEMU's -incoming defer: the URI comes later, from migrate_incoming / migrate-incoming
  const deferred = uri === 'defer';
  if (!deferred) parseMigrationUri(uri);
  // the first listener opens before anything else, so a bad or busy address fails at once
  let listener: IncomingListener | undefined = deferred ? undefined : await listenIncoming(uri, listenOptions);
  // until the loop below owns it, a failure closes the listener: it would keep the process alive
  const closingOnError = async <T>(step: () => T | Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (e) {
      await listener?.close();
      throw e;
    }
  };
  // prepared RAM is faulted in now, before the stream arrives, not while it streams in
  const prepared = await closingOnError(() => (o.ram === undefined ? undefined : new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ram }], { ioBytes: IO_AREA_BYTES })));
  if (prepared) for (const b of prepared.blocks) b.bytes.fill(0);
  const serialWrite = serial.write;
  const newIncoming = (): IncomingMigration =>
    new IncomingMigration({
      maxRamBytes: o.maxRam,
      dirtyLog: o.dirtyLog,
      checks: patternChecks,
      machines: { [PC_KIND]: pcKind(serialWrite ? { serial: serialWrite } : {}) },
      ...(prepared ? { memory: prepared, memoryIsZero: true } : {}),
      qemu: { saveFile: o.save, extractRamDir: o.extractRam, maxBufferedDeviceBytes: o.maxDeviceState },
    });
  let incoming = newIncoming();
  // the loader's hot paths compiled and the vCPU thread up now, not during the stream's first pass
  await closingOnError(() => Promise.all([warmUpEngine(), incoming.startEarly()]));
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
  let guest: VirtualMachine | undefined;
  try {
    monitors = await startProcessMonitors(machine, monitor, qmp);
    const canAskUri = monitor.kind !== 'none' || qmp !== undefined;
    // stdio's end of input means no monitor command will come any more: as quit, while waiting
    const endOfInput = monitors.stdio?.then(() => undefined);
    let status: IncomingStatus = 'none';
    for (;;) {
      if (listener === undefined) {
        if (!canAskUri) break; // nothing could give a URI: exit (1 after a failure)
        machine.setWaitingForUri(true);
        say({ event: 'waiting', for: 'migrate_incoming' });
        if (!o.json) process.stderr.write('livemig: waiting for migrate_incoming URI (HMP) or migrate-incoming (QMP)\n');
        const given = await Promise.race([once(machine, 'migrate-incoming').then(([u]) => u as string), quit.then(() => undefined), ...(endOfInput ? [endOfInput] : [])]);
        machine.setWaitingForUri(false);
        if (given === undefined) break;
        try {
          listener = await listenIncoming(given, listenOptions);
        } catch (e) {
          say({ event: 'failed', error: (e as Error).message });
          process.stderr.write(`livemig: cannot listen on ${given}: ${(e as Error).message}\n`);
          continue;
        }
      }
      say({ event: 'listening', uri: listener.address });
      if (!o.json) process.stderr.write(`livemig: waiting for a migration on ${listener.address}\n`);
      status = 'none';
      try {
        channel = await listener.accept({ timeoutMs: Infinity, signal: abort.signal });
        machine.setIncomingChannel(channel); // info migrate shows the connection (TLS: protocol, cipher, the source's certificate)
        status = await incoming.run(channel);
      } catch (e) {
        if (!quitting) throw e; // quit while waiting: nothing arrived
      }
      const address = listener.address;
      await listener.close();
      listener = undefined;
      if (quitting) break;
      const info = machine.queryMigrate();
      if (status === 'completed') {
        const usage = process.resourceUsage();
        say({ event: 'completed', maxRssBytes: usage.maxRSS * 1024, cpuUserMs: Math.round(usage.userCPUTime / 1000), cpuSystemMs: Math.round(usage.systemCPUTime / 1000), ...info });
        if (!o.json) process.stderr.write(formatIncomingInfo(info) + '\n');
        // after-resume: the guest runs, but on RAM the check says is not the source's
        if (incoming.verification?.result === 'mismatch') {
          say({ event: 'verification-failed', error: incoming.error?.message ?? 'RAM verification failed' });
          process.stderr.write(`livemig: ${incoming.error?.message ?? 'RAM verification failed'} (the guest was resumed before the check: verify after-resume)\n`);
        }
        break;
      }
      say({ event: 'failed', error: incoming.error?.message ?? 'unknown error', ...info });
      process.stderr.write(`livemig: incoming migration failed: ${incoming.error?.message ?? 'unknown error'}${stallHint(incoming.error, o)}\n`);
      if (o.exit) break;
      // after a failure, ready for another: a socket listens again on its address; any other
      // URI (a file, a command, a descriptor) waits for migrate_incoming
      incoming = newIncoming();
      await incoming.startEarly();
      machine.setIncoming(incoming);
      const kind = parseMigrationUri(address).kind;
      if (kind === 'tcp' || kind === 'tls' || kind === 'unix') listener = await listenIncoming(address, listenOptions);
    }
    guest = incoming.guest;
    if (o.exit && !quitting) {
      if (guest && o.exitAfter > 0) {
        const before = guest.workDone?.() ?? 0;
        await Promise.race([new Promise((r) => setTimeout(r, o.exitAfter)), quit]);
        await guest.pause();
        const checks = patternChecks(guest.memory, guest);
        say({
          event: 'ran',
          workDone: (guest.workDone?.() ?? 0) - before,
          digest: guest.memory.digest(),
          ...(guest instanceof Guest && guest.workload === 'stride' ? { strideCheck: checkStride(guest.memory) } : {}),
          ...(checks['pattern-check'] !== undefined ? { patternCheck: checks['pattern-check'] } : {}),
        });
      }
    } else if (!quitting && status === 'completed') {
      await Promise.race(monitors.stdio ? [quit, monitors.stdio] : [quit]);
    }
    if (incoming.verification?.result === 'mismatch') return 1;
    return status === 'completed' || (status === 'none' && !incoming.error) ? 0 : 1;
  } finally {
    unhookSignals();
    await listener?.close();
    await monitors?.close();
    machine.close();
    await (guest ?? incoming.guest)?.stop();
    serial.close();
  }
}

/**
 * After a stall timeout (the only ETIMEDOUT once a source is connected), the flags that set it:
 * the transport's message names its library option (readTimeoutMs), not the flag.
 */
function stallHint(err: Error | undefined, o: IncomingCommandOptions): string {
  if (!(err instanceof TransportError) || err.osCode !== 'ETIMEDOUT') return '';
  const show = (ms: number | undefined, fallback: number) => (ms === 0 ? 'none' : `${ms ?? fallback} ms`);
  return ` (stall timeouts: --read-timeout ${show(o.readTimeout, DEFAULT_READ_TIMEOUT_MS)}, --write-timeout ${show(o.writeTimeout, DEFAULT_WRITE_TIMEOUT_MS)})`;
}
