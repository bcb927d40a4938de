/**
 * The migration pipeline end to end: this process is the source, a `livemig incoming`
 * process the destination, over loopback tcp with no rate limit. Cases:
 *  - idle guest, RAM all zero (the sender's scan and zero-page path);
 *  - idle guest, RAM full of random bytes (whole pages through the socket);
 * each reported as GB/s of RAM moved in the first pass (the RAM that pass handled over its
 * duration: it ends early once what is left fits the downtime limit), beside the same run's baselines:
 * the RAM of one Node process copied into another's over loopback tcp with no protocol
 * (`ram-copy-baseline.ts`: the data movement alone, the ceiling for the random case), a plain
 * loopback tcp copy of as many bytes as the stream carried, and a memcpy of the RAM.
 * A third case moves all of RAM in pass 1 (downtime-limit 1 ms), as the bare copy moves all of
 * it; it runs three times, each beside a bare copy measured right after it, and the table shows
 * the medians (this machine's loopback rate drifts by a quarter between runs).
 * Also the peak resident memory of both processes (each case runs in a process of its own), and
 * the main-thread CPU each side spent per GiB of the first pass, beside the bare copy's sender and
 * receiver: on a loaded machine, where wall time depends on what else runs, the work itself.
 *
 * The source warms its engine first, as `livemig run` does at start-up (`--cold`: it does not;
 * the destination, `livemig incoming`, always does before it listens), and waits for its RAM
 * digest worker to be up, as a `livemig run` source long has been when a migration starts.
 *
 *   npm run build && node dist/bench/migrate.bench.js [--ram 1G] [--cold] [--verify before-resume|after-resume|off]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Guest, GuestMemory } from '../src/guest/index.js';
import { IO_AREA_BYTES, SourceManager, warmUpEngine } from '../src/migration/index.js';
import type { MigrationParameters } from '../src/migration/index.js';
import { parseSize } from '../src/monitor/index.js';
import { ramCopyBaseline } from './ram-copy-baseline.js';
import type { RamCopyResult } from './ram-copy-baseline.js';
import { mainThreadCpuMs, threadCpuMs } from './thread-cpu.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const argRam = process.argv.indexOf('--ram');
const RAM = argRam > 0 ? parseSize(process.argv[argRam + 1]!, '--ram') : 1024 ** 3;
/** `--cold`: the source skips the engine warm-up `livemig run` does at start-up. */
const COLD = process.argv.includes('--cold');
const argVerify = process.argv.indexOf('--verify');
/** `--verify before-resume|after-resume|off`: the RAM check (default before-resume, the engine's default). */
const VERIFY = (argVerify > 0 ? process.argv[argVerify + 1]! : 'before-resume') as MigrationParameters['verify'];

/**
 * This process's peak resident memory: /proc's VmHWM, which starts again at exec. getrusage's
 * maxRSS does not: a case spawned by a parent holding a 1 GiB baseline's RAM inherited the
 * forked parent's resident size (2 GiB reported for a 1.1 GiB process).
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: getrusage's figure
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** The destination prepares its RAM before the stream arrives (`--ram`, as QEMU's -m). */
async function destination(): Promise<{ uri: string; pid: number; done: Promise<Record<string, unknown>> }> {
  const p = spawn(process.execPath, [...process.execArgv, CLI, 'incoming', 'tcp:127.0.0.1:0', '--json', '--exit', '--monitor', 'none', '--ram', String(RAM)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: p.stdout });
  let onListen!: (u: string) => void;
  let onDone!: (e: Record<string, unknown>) => void;
  let onExit!: (e: Error) => void;
  const listening = new Promise<string>((resolve, reject) => ((onListen = resolve), (onExit = reject)));
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    onDone = resolve;
    const early = onExit;
    onExit = (e) => (early(e), reject(e));
  });
  done.catch(() => undefined); // observed by the caller once it has the uri
  rl.on('line', (l) => {
    const e = JSON.parse(l) as Record<string, unknown>;
    if (e['event'] === 'listening') onListen(String(e['uri']));
    else onDone(e);
  });
  // a destination that dies (say, it cannot load its modules) must fail the case, not hang it
  p.once('close', (code, signal) => onExit(new Error(`the destination (livemig incoming) exited (${code ?? signal}) before it reported its result`)));
  return { uri: await listening, pid: p.pid!, done };
}

/**
 * `onePass`: the downtime limit is 1 ms, so that the first pass handles all of RAM (an idle
 * guest dirties nothing: the next pass finds nothing left): the pipeline's rate over as much
 * RAM as the bare copy moves, rather than over the part the default limit leaves to pass 1.
 */
async function migrateCase(label: string, fill: (m: GuestMemory) => void, onePass = false) {
  // The destination first, as it is a process of its own in real use: Node spawns with fork(),
  // after which every private page of this process would fault once more on its next write
  // (copy-on-write), a cost a `livemig run` source, which spawns nothing, never pays.
  const dst = await destination();
  if (!COLD) await warmUpEngine(); // as `livemig run` does at start-up (`livemig incoming` always does)
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: RAM }], { ioBytes: IO_AREA_BYTES }); // as `livemig run` allocates it
  fill(memory);
  const guest = await Guest.start({ memory, workload: 'idle' });
  const src = new SourceManager(guest);
  // as in `livemig run`, whose manager (and its digest worker) is up long before a migration
  await src.ready();
  src.setParameter('max-bandwidth', 0);
  src.setParameter('verify', VERIFY);
  if (onePass) src.setParameter('downtime-limit', 1);
  const faults0 = process.resourceUsage().minorPageFault;
  const { migration, done } = src.migrate(dst.uri);
  // main-thread CPU of either side over the first pass (from 'active': setup is not RAM moved)
  let cpu0: [number | undefined, number | undefined] = [undefined, undefined];
  let pass1Cpu: [number | undefined, number | undefined] = [undefined, undefined];
  const cpuNow = (): [number | undefined, number | undefined] => [threadCpuMs(), mainThreadCpuMs(dst.pid)];
  migration.on('status', (s) => {
    if (s === 'active') cpu0 = cpuNow();
  });
  migration.once('pass-end', () => {
    const c = cpuNow();
    pass1Cpu = [c[0] !== undefined && cpu0[0] !== undefined ? c[0] - cpu0[0] : undefined, c[1] !== undefined && cpu0[1] !== undefined ? c[1] - cpu0[1] : undefined];
  });
  const status = await done;
  const sourceFaults = process.resourceUsage().minorPageFault - faults0;
  const end = await dst.done;
  const pass1 = migration.passes[0]!;
  const info = migration.info();
  await guest.stop();
  const seconds = (pass1.endMs - pass1.startMs) / 1000;
  // the first pass ends once what is left fits the downtime limit: count the RAM it did handle
  const pass1Pages = pass1.pages.zero + pass1.pages.normal + pass1.pages.delta + pass1.pages.unchanged;
  const perGiB = (ms: number | undefined): number | null => (ms === undefined ? null : ms / ((pass1Pages * 4096) / 2 ** 30));
  return {
    label,
    status,
    error: info['error-desc'],
    pass1Seconds: seconds,
    ramGBps: (pass1Pages * 4096) / seconds / 1e9,
    pass1Share: (pass1Pages * 4096) / RAM,
    sourceCpuMsPerGiB: perGiB(pass1Cpu[0]),
    destinationCpuMsPerGiB: perGiB(pass1Cpu[1]),
    streamBytes: info.ram!.transferred,
    totalMs: info['total-time']!,
    downtimeMs: info.downtime ?? -1,
    sourceMaxRss: peakRss(),
    sourceFaults,
    destinationMaxRss: Number(end['maxRssBytes'] ?? 0),
    digestsMatch: status === 'completed' && info.livemig?.['ram-digest'] !== undefined && (end['incoming'] as Record<string, unknown>)?.['ram-digest'] === info.livemig['ram-digest'],
  };
}

/** Baseline: a plain loopback tcp transfer of `bytes` in 256 KiB writes. */
async function tcpBaseline(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  return new Promise((resolve) => {
    const server = createServer((s) => {
      let got = 0;
      const t0 = performance.now();
      s.on('data', (d) => {
        got += d.length;
        if (got >= bytes) {
          resolve(bytes / ((performance.now() - t0) / 1000) / 1e9);
          s.destroy();
          server.close();
        }
      });
    }).listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = connect(port, '127.0.0.1', () => {
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          c.end();
        };
        pump();
      });
      c.on('error', () => undefined);
    });
  });
}

/**
 * Baseline: the same transfer received into one reused 1 MiB buffer (Node's `onread`, as the
 * destination reads): what Node's sockets can do here when the receiver allocates nothing.
 */
async function tcpPooledBaseline(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const into = Buffer.alloc(1024 * 1024);
  return new Promise((resolve) => {
    // the sender listens and the receiver connects: onread is an option of sockets Node creates
    const server = createServer((s) => {
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
      s.on('error', () => undefined);
    }).listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      let got = 0;
      const t0 = performance.now();
      const c = connect({ port, host: '127.0.0.1', onread: { buffer: into, callback: (n: number) => ((got += n), true) } });
      c.on('end', () => {
        resolve(got / ((performance.now() - t0) / 1000) / 1e9);
        server.close();
      });
      c.on('error', () => undefined);
    });
  });
}

function memcpyBaseline(bytes: number): number {
  const a = new Uint8Array(bytes);
  const b = new Uint8Array(bytes);
  a.fill(1);
  b.fill(2);
  const t0 = performance.now();
  b.set(a);
  return bytes / ((performance.now() - t0) / 1000) / 1e9;
}

/** Baseline: how fast this machine faults in fresh memory (one write per 4 KiB page). */
function firstTouchBaseline(bytes: number): number {
  const a = new Uint8Array(new SharedArrayBuffer(bytes));
  const t0 = performance.now();
  for (let i = 0; i < bytes; i += 4096) a[i] = 1;
  return bytes / ((performance.now() - t0) / 1000) / 1e9;
}

const gb = (n: number) => n.toFixed(2);
const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
type CaseResult = Awaited<ReturnType<typeof migrateCase>>;
const randomFill = (m: GuestMemory): void => {
  for (const b of m.blocks) for (let off = 0; off < b.bytes.length; off += 1 << 26) randomFillSync(b.bytes.subarray(off, Math.min(b.bytes.length, off + (1 << 26))));
};
const CASES: Record<string, [string, (m: GuestMemory) => void, boolean?]> = {
  zero: ['idle, zero RAM', (m) => {
    for (const b of m.blocks) b.bytes.fill(0); // resident, as a running guest's RAM is
  }],
  random: ['idle, random RAM', randomFill],
  'random-one-pass': ['idle, random RAM, all of it in pass 1 (downtime-limit 1 ms)', randomFill, true],
};
const argCase = process.argv.indexOf('--case');
if (argCase > 0) {
  // one case in this process, its result as JSON on stdout (so peak RSS is this case's alone)
  const name = process.argv[argCase + 1]!;
  const c = CASES[name];
  if (c === undefined) throw new Error(`--case must be one of ${Object.keys(CASES).join(', ')}, got ${name}`);
  console.log(JSON.stringify(await migrateCase(c[0], c[1], c[2] === true)));
  process.exit(0);
}
/** Runs a case in a child process of its own. */
function runCase(name: string): CaseResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, self, '--ram', String(RAM), '--case', name, '--verify', VERIFY, ...(COLD ? ['--cold'] : [])], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`case ${name} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as CaseResult;
}
/** The one-pass case and the bare copy, alternately, this many times: medians, and each run's ratio to the copy beside it. */
const PAIRS = 3;
const zero = runCase('zero');
const random = runCase('random');
const pairs: { run: CaseResult; copy: RamCopyResult }[] = [];
for (let i = 0; i < PAIRS; i++) pairs.push({ run: runCase('random-one-pass'), copy: await ramCopyBaseline(RAM) });
const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[xs.length >> 1]!;
const ramCopy = median(pairs.map((p) => p.copy), (c) => c.gbps);
const onePass = median(pairs.map((p) => p.run), (r) => (r.status === 'completed' ? r.ramGBps : -1));
const tcp = await tcpBaseline(random.streamBytes);
const tcpPooled = await tcpPooledBaseline(random.streamBytes);
const copy = memcpyBaseline(Math.min(RAM, 1 << 30));
const touch = firstTouchBaseline(Math.min(RAM, 256 << 20));
console.log(`# livemig migration pipeline, ${mib(RAM)} guest, loopback tcp, no rate limit, source engine ${COLD ? "cold (--cold)" : "warmed at start-up"}, verify ${VERIFY} (node ${process.version})`);
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '?' : `${Math.round(v)}`);
console.log('| case | RAM moved in pass 1 (GB/s) | ÷ RAM→RAM tcp copy | ÷ plain tcp copy | ÷ tcp copy into a reused buffer | ÷ memcpy | main-thread CPU per GiB, source / destination (ms) | total | downtime | peak RSS source | peak RSS destination | digests |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of [zero, random, onePass]) {
  if (r.status !== 'completed') console.log(`| ${r.label} | migration ${r.status}: ${r.error ?? 'no reason given'} |`);
  else console.log(`| ${r.label} | ${gb(r.ramGBps)} | ${gb(r.ramGBps / ramCopy.gbps)}× | ${gb(r.ramGBps / tcp)}× | ${gb(r.ramGBps / tcpPooled)}× | ${gb(r.ramGBps / copy)}× | ${ms(r.sourceCpuMsPerGiB)} / ${ms(r.destinationCpuMsPerGiB)} | ${r.totalMs} ms | ${r.downtimeMs} ms | ${mib(r.sourceMaxRss)} | ${mib(r.destinationMaxRss)} | ${VERIFY === 'off' ? 'not compared (--verify off)' : r.digestsMatch ? 'equal' : 'DIFFER'} |`);
}
console.log(`pass 1 handled ${zero.pass1Share === 1 ? 'all' : `${Math.round(zero.pass1Share * 100)} %`} of RAM (zero case) and ${random.pass1Share === 1 ? 'all' : `${Math.round(random.pass1Share * 100)} %`} (random case); the rest went in the next passes; the source took ${zero.sourceFaults} and ${random.sourceFaults} page faults while migrating`);
console.log(`all of RAM in pass 1, ${PAIRS} runs, each beside a RAM-to-RAM copy measured right after it: ${pairs.map((p) => (p.run.status === 'completed' ? `${gb(p.run.ramGBps)} ÷ ${gb(p.copy.gbps)} = ${gb(p.run.ramGBps / p.copy.gbps)}×` : p.run.status)).join(', ')}; the table shows the median run and the median copy`);
console.log(`baselines in this run: RAM to RAM between two Node processes over loopback tcp ${gb(ramCopy.gbps)} GB/s, main-thread CPU per GiB: sender ${ms(ramCopy.senderCpuMsPerGiB)} ms, receiver ${ms(ramCopy.receiverCpuMsPerGiB)} ms (bench/ram-copy-baseline.ts: the data movement alone), plain tcp loopback ${gb(tcp)} GB/s ('data' events), into a reused 1 MiB buffer ${gb(tcpPooled)} GB/s, memcpy ${gb(copy)} GB/s, first touch of fresh memory ${gb(touch)} GB/s`);
console.log('(the source RAM is resident, as a running guest\'s is; the destination prepares its RAM before the stream arrives, as QEMU\'s -m)');
