/**
 * A new user's case (a cache smaller than what the guest writes) through the CLI, two real processes over loopback: `livemig run`
 * with a 256 MiB `seed` guest, driven over its human monitor (stdio) as a user would:
 *
 *   migrate_set_capability xbzrle on
 *   migrate_set_cachesize 64m
 *   migrate_set_parameter link-bandwidth 100      (MiB/s: paces every stage, stop-and-copy too)
 *   migrate_set_parameter downtime-limit 300
 *   migrate_set_parameter max-time 20000          (then stall-policy force: a switchover that says so)
 *   migrate -d tcp:...
 *
 * to a `livemig incoming` (`--link 0`: plain loopback, no simulated link). For each run: converged or forced, the expected downtime the
 * switchover was decided on and the downtime the guest saw, both as ratios to the limit, and
 * the promise: a converged run paused at most 1.5 x the limit + 50 ms; a forced one says so.
 *
 * `--rate N` slows the guest to N page writes a second (a guest that can converge).
 *
 *   npm run build && flock /tmp/livemig-bench.lock node dist/bench/downtime-promise.bench.js [--runs 3] [--ram 256M] [--cache 64m] [--link 100] [--limit 300] [--max-time 20000] [--rate 0]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const RUNS = Number(arg('--runs', '3'));
const RAM = arg('--ram', '256M');
const CACHE = arg('--cache', '64m');
const LINK = arg('--link', '100');
const LIMIT = Number(arg('--limit', '300'));
const MAX_TIME = Number(arg('--max-time', '20000'));
/** The seed workload's page writes per second (0: as fast as it runs). */
const RATE = arg('--rate', '0');
/** Added to 1.5 x the limit in the promise (the destination's confirmation over a busy machine). */
const ALLOWANCE_MS = 50;

async function destination(): Promise<{ uri: string; done: Promise<void> }> {
  const p = spawn(process.execPath, [CLI, 'incoming', 'tcp:127.0.0.1:0', '--json', '--exit', '--monitor', 'none', '--ram', RAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: p.stdout });
  const uri = await new Promise<string>((resolve, reject) => {
    rl.on('line', (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (e['event'] === 'listening') resolve(String(e['uri']));
    });
    p.once('close', (code) => reject(new Error(`livemig incoming exited (${code}) before listening`)));
  });
  return { uri, done: new Promise((resolve) => p.once('close', () => resolve())) };
}

interface Outcome {
  status: string;
  downtimeMs: number;
  expectedMs: number;
  forced: boolean;
  passes: number;
  totalMs: number;
}

/** `info migrate`'s lines as name -> value. */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 2));
  }
  return m;
}

async function run(): Promise<Outcome> {
  const dst = await destination();
  const src = spawn(process.execPath, [CLI, 'run', '--ram', RAM, '--workload', 'seed', '--rate', RATE, '--monitor', 'stdio', '--progress', 'off'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  src.stdout.setEncoding('utf8');
  src.stdout.on('data', (d: string) => (out += d));
  const say = (cmd: string) => src.stdin.write(cmd + '\n');
  say('migrate_set_capability xbzrle on');
  say(`migrate_set_cachesize ${CACHE}`);
  if (LINK !== '0') say(`migrate_set_parameter link-bandwidth ${LINK}`);
  say(`migrate_set_parameter downtime-limit ${LIMIT}`);
  say(`migrate_set_parameter max-time ${MAX_TIME}`);
  say(`migrate -d ${dst.uri}`);
  // waits on the migration's own state, read from the monitor each half second
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const mark = out.length;
    say('info migrate');
    say('info status'); // answered after the whole info migrate block: its end
    while (!/Migration status: [^]*\nVM status: /.test(out.slice(mark))) await new Promise((r) => setTimeout(r, 20));
    // every field from the block's first line on: a one-line completion notice printed before,
    // within or after the block (the last text starting 'Migration status: ' was sometimes only
    // that notice, read as a run of 0 passes and -1 ms) adds nothing but the same status
    const answer = out.slice(mark);
    const f = fields(answer.slice(answer.indexOf('Migration status: ')));
    const status = f.get('Migration status')!.split(' ')[0]!;
    if (status === 'completed' || status === 'failed' || status === 'cancelled') {
      if (process.argv.includes('--verbose')) console.log(out.slice(mark));
      say('quit');
      await dst.done;
      const expected = /^(\d+) ms/.exec(f.get('expected downtime at switchover') ?? '');
      return {
        status,
        downtimeMs: Number.parseInt(f.get('downtime') ?? '-1', 10),
        expectedMs: expected ? Number(expected[1]) : -1,
        forced: f.has('forced switchover'),
        passes: Number(f.get('dirty sync count') ?? 0),
        totalMs: Number.parseInt(f.get('total time') ?? '0', 10),
      };
    }
  }
}

console.log(`a new user's case: ${RAM} seed guest${RATE !== '0' ? ` at ${RATE} writes/s` : ''}, XBZRLE cache ${CACHE}, link-bandwidth ${LINK} MiB/s, downtime-limit ${LIMIT} ms, max-time ${MAX_TIME} ms; ratios to the limit`);
console.log('run  outcome     passes  total     expected/limit  downtime/limit  downtime/expected  promise');
for (let i = 1; i <= RUNS; i++) {
  const o = await run();
  const kept = o.status === 'completed' && (o.forced || o.downtimeMs <= 1.5 * LIMIT + ALLOWANCE_MS);
  const outcome = o.status !== 'completed' ? o.status : o.forced ? 'forced' : 'converged';
  console.log(
    `${String(i).padEnd(5)}${outcome.padEnd(12)}${String(o.passes).padEnd(8)}${`${(o.totalMs / 1000).toFixed(1)} s`.padEnd(10)}` +
      `${(o.expectedMs / LIMIT).toFixed(2).padEnd(16)}${(o.downtimeMs / LIMIT).toFixed(2).padEnd(16)}${(o.expectedMs > 0 ? o.downtimeMs / o.expectedMs : 0).toFixed(2).padEnd(19)}${kept ? 'kept' : 'BROKEN'}` +
      `  (${o.expectedMs} ms expected, ${o.downtimeMs} ms)`,
  );
}
