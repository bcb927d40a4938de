/**
 * The rate limit (`max-bandwidth`) over loopback tcp: for each limit, this process migrates
 * an idle synthetic guest whose RAM is random bytes (every page goes whole, and there is more
 * than the limit sends in the run, so it is all iterate stage) to a sink on a worker thread
 * that timestamps every byte it receives, for 10 s from the migration becoming active, then
 * cancels. The source's socket writes are timestamped too. Printed, as ratios to the limit:
 *  - the bytes received, and the bytes the source wrote, over the 10 s (target: within 3 %);
 *  - the busiest sliding 1 s of the source's writes (the limiter's promise: at most 1.02) and
 *    at the receiver (which adds its own scheduling: reads delayed, then several at once);
 *  - the largest burst, writes less than 1 ms apart, against a tenth of a second's budget
 *    (at most 1);
 *  - the highest throughput `info migrate` showed during the run (at most 1).
 *
 *   npm run build && node dist/bench/rate-limit.bench.js [--limits 10,20,100] [--seconds 10] [--workload idle]
 */
import { randomFillSync } from 'node:crypto';
import { Socket, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { Guest, GuestMemory } from '../src/guest/index.js';
import type { WorkloadName } from '../src/guest/index.js';
import { SourceManager } from '../src/migration/index.js';

const MiB = 1024 * 1024;

/** Wall-clock ms shared by both threads (each thread's performance.now() has its own origin). */
const wall = (): number => performance.timeOrigin + performance.now();

if (!isMainThread) {
  // the sink: accepts one connection, reads everything, keeps (time, bytes) of each read
  const times: number[] = [];
  const sizes: number[] = [];
  const server = createServer((s) => {
    s.on('data', (d: Buffer) => {
      times.push(wall());
      sizes.push(d.length);
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as { port: number }).port }));
  parentPort!.on('message', () => {
    parentPort!.postMessage({ times, sizes });
    server.close();
  });
} else {
  await main();
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
}

interface Received {
  times: number[];
  sizes: number[];
}

/** Every write the source makes on a socket to `port`: its time and size. */
function tapWrites(port: number): Received {
  const tap: Received = { times: [], sizes: [] };
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && chunk instanceof Uint8Array) {
      tap.times.push(wall());
      tap.sizes.push(chunk.length);
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  return tap;
}

/** Largest run of writes each less than `gapMs` after the one before. */
function largestBurst(w: Received, from: number, end: number, gapMs: number): number {
  let best = 0;
  let run = 0;
  let prev = -Infinity;
  for (let i = 0; i < w.times.length; i++) {
    const t = w.times[i]!;
    if (t < from || t > end) continue;
    run = t - prev < gapMs ? run + w.sizes[i]! : w.sizes[i]!;
    prev = t;
    best = Math.max(best, run);
  }
  return best;
}

/** Most bytes received in any window [t, t + ms) that starts at a read and ends by `end`. */
function busiest(r: Received, from: number, end: number, ms: number): number {
  let best = 0;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < r.times.length; i++) {
    if (r.times[i]! < from) continue;
    if (j < i) {
      j = i;
      sum = 0;
    }
    while (j < r.times.length && r.times[j]! < r.times[i]! + ms && r.times[j]! <= end) sum += r.sizes[j++]!;
    best = Math.max(best, sum);
    sum -= r.sizes[i]!;
  }
  return best;
}

async function runLimit(limitMiB: number, seconds: number, workload: WorkloadName): Promise<string> {
  const limit = limitMiB * MiB;
  const sink = new Worker(fileURLToPath(import.meta.url));
  const port = await new Promise<number>((resolve) => sink.once('message', (m: { port: number }) => resolve(m.port)));
  const written = tapWrites(port);
  // more RAM than the limit sends in the run: the first pass never ends
  const ramBytes = Math.ceil((limit * (seconds + 3)) / (64 * MiB)) * 64 * MiB;
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: ramBytes }]);
  for (const b of memory.blocks) for (let off = 0; off < b.bytes.length; off += 64 * MiB) randomFillSync(b.bytes.subarray(off, Math.min(b.bytes.length, off + 64 * MiB)));
  const guest = await Guest.start({ memory, workload });
  const src = new SourceManager(guest);
  await src.ready();
  src.setParameter('max-bandwidth', limit);
  // the stop-and-copy is not rate-limited (QEMU's rule), and loopback would send hundreds of MiB
  // within the default 300 ms: a 1 ms limit keeps the migration in the iterate stage measured here
  src.setParameter('downtime-limit', 1);
  const { migration, done } = src.migrate(`tcp:127.0.0.1:${port}`);
  let maxShown = 0;
  migration.on('progress', (info) => {
    if (info.status === 'active') maxShown = Math.max(maxShown, ((info.ram?.mbps ?? 0) * 1e6) / 8);
  });
  await new Promise<void>((resolve) => migration.on('status', (s) => s === 'active' && resolve()));
  const start = wall();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const end = wall();
  const ended = migration.status;
  src.cancel();
  await done;
  sink.postMessage('done');
  const received = await new Promise<Received>((resolve) => sink.once('message', resolve));
  await sink.terminate();
  await guest.stop();
  if (ended !== 'active') return `${limitMiB} MiB/s: the migration was '${ended}' before ${seconds} s (RAM too small?)`;
  const total = (r: Received) => r.sizes.reduce((a, n, i) => (r.times[i]! >= start && r.times[i]! < end ? a + n : a), 0);
  const over = (end - start) / 1000;
  const f = (x: number) => x.toFixed(3);
  return [
    `${String(limitMiB).padStart(4)} MiB/s`,
    f(total(received) / over / limit).padStart(9),
    f(total(written) / over / limit).padStart(9),
    f(busiest(written, start, end, 1000) / limit).padStart(9),
    f(busiest(received, start, end, 1000) / limit).padStart(9),
    f(largestBurst(written, start, end, 1) / (limit / 10)).padStart(9),
    f(maxShown / limit).padStart(9),
  ].join('  ');
}

async function main(): Promise<void> {
  const limits = arg('--limits', '10,20,100').split(',').map(Number);
  const seconds = Number(arg('--seconds', '10'));
  const workload = arg('--workload', 'idle') as WorkloadName;
  console.log(`max-bandwidth over loopback tcp, ${seconds} s of iterate stage each, ${workload} guest with random RAM; ratios to the limit`);
  console.log(`${''.padStart(10)}  ${`${seconds} s average`.padStart(20)}  ${'busiest 1 s'.padStart(20)}  ${'burst/0.1s'.padStart(9)}  ${'info mig.'.padStart(9)}`);
  console.log(`${'limit'.padStart(10)}  ${'received'.padStart(9)}  ${'written'.padStart(9)}  ${'written'.padStart(9)}  ${'received'.padStart(9)}  ${'written'.padStart(9)}  ${'max'.padStart(9)}`);
  for (const l of limits) console.log(await runLimit(l, seconds, workload));
}
