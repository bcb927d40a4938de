/**
 * What the RAM check costs in the downtime: the same migration with `verify off` (the net
 * downtime: pause and send, nothing checked, the baseline of the same run), `before-resume`
 * (the default) and `after-resume`, between two processes over loopback (the `livemig bench`
 * harness: src/cli/bench/run.ts). Cases:
 *
 *   idle-1g  an idle 1 GiB guest (RAM zero), no link limit
 *   sparse   a 128 MiB guest writing XBZRLE's documented pattern over 64 MiB at 20 MiB/s
 *            (5120 pages/s), XBZRLE on, 64 MiB cache, 300 ms limit, no link limit
 *
 * Variants run interleaved, `--repeat` rounds; prints each run, then medians with the
 * downtime's parts and the difference to verify off. Run it under the bench lock:
 *
 *   npm run build && flock /tmp/livemig-bench.lock node dist/bench/verify.bench.js [--case idle-1g|sparse] [--repeat 3]
 */
import { runOne } from '../src/cli/bench/run.js';
import type { RunResult } from '../src/cli/bench/run.js';
import type { RunSpec } from '../src/cli/bench/matrix.js';
import { loadavg } from 'node:os';

const MIB = 1024 * 1024;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const repeat = Number(arg('--repeat') ?? 3);
const only = arg('--case');

function base(over: Partial<RunSpec>): RunSpec {
  return {
    id: '',
    comparison: 'verify',
    variant: '',
    workload: 'idle',
    workloadOptions: {},
    ramBytes: 64 * MIB,
    regionPercent: 100,
    vcpus: 1,
    seed: 1,
    linkBitsPerSecond: 0,
    codec: 'none',
    cachePercent: 50,
    cacheWays: 2,
    downtimeLimitMs: 300,
    maxTimeMs: 20_000,
    autoConverge: false,
    autoXbzrle: false,
    prefill: false,
    warmupMs: 300,
    measureMs: 300,
    parameters: {},
    ...over,
  };
}

const CASES: Record<string, RunSpec> = {
  'idle-1g': base({ workload: 'idle', ramBytes: 1024 * MIB }),
  sparse: base({ workload: 'xbzrle-doc', ramBytes: 128 * MIB, codec: 'xbzrle', prefill: true, workloadOptions: { bufferBytes: 64 * MIB, rate: 5120 } }),
};
const VARIANTS = ['off', 'before-resume', 'after-resume'] as const;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The guest's own downtime, median; '-' for a guest that writes nothing (idle: nothing to see). */
const guestSaw = (rs: { guestDowntimeMs: number | null }[]): string => {
  const seen = rs.flatMap((r) => (r.guestDowntimeMs === null ? [] : [r.guestDowntimeMs]));
  return seen.length === 0 ? '-' : String(median(seen));
};

for (const [name, c] of Object.entries(CASES)) {
  if (only !== undefined && only !== name) continue;
  const runs: Record<string, RunResult[]> = {};
  console.log(`\n## ${name}  (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  for (let round = 1; round <= repeat; round++) {
    for (const v of VARIANTS) {
      const spec = { ...c, id: `${name}/${v}`, variant: v, parameters: { verify: v } };
      const r = await runOne(spec);
      (runs[v] ??= []).push(r);
      const p = r.downtimeParts;
      console.log(
        `${name} ${v.padEnd(13)} round ${round}: ${r.status}${r.error ? ` (${r.error})` : ''}, downtime ${r.downtimeMs} ms ` +
          `(pause ${p.pauseMs}, send ${p.sendMs}, digest ${p.digestMs}, confirm ${p.confirmMs}), guest saw ${r.guestDowntimeMs ?? '-'} ms, ` +
          `digests ${r.digestsMatch ? 'equal' : 'DIFFER'}, load ${loadavg()[0]!.toFixed(2)}`,
      );
    }
  }
  const off = median(runs['off']!.map((r) => r.downtimeMs));
  console.log(`\n| ${name} | downtime (median ms) | net: pause + send | digest wait | confirm | guest saw | − verify off |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const v of VARIANTS) {
    const rs = runs[v]!.filter((r) => r.status === 'completed');
    const d = median(rs.map((r) => r.downtimeMs));
    const net = median(rs.map((r) => r.downtimeParts.pauseMs + r.downtimeParts.sendMs));
    console.log(
      `| verify ${v} | ${d} | ${net} | ${median(rs.map((r) => r.downtimeParts.digestMs))} | ${median(rs.map((r) => r.downtimeParts.confirmMs))} | ${guestSaw(rs)} | ${v === 'off' ? '-' : `+${(d - off).toFixed(0)} ms (${(d / off).toFixed(2)}x)`} |`,
    );
  }
}
