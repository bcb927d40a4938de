/**
 * `livemig bench`: runs a matrix of migrations in one go (each run a source and a destination
 * process), prints a line per run as it goes, and writes the results as JSON, markdown and
 * HTML. With `repeat` N, the whole matrix runs N times over (round after round, so that a
 * spell of load on the machine falls on different cells rather than on every run of one);
 * the JSON keeps every run, the tables show each cell's median and min–max. With `netns`, links are real: two network namespaces joined by a veth pair shaped by
 * tc, removed again on every exit path (also on Ctrl-C).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname } from 'node:path';
import { linkLabel, matrix } from './matrix.js';
import type { MatrixName, RunSpec } from './matrix.js';
import { NetnsLink } from './netns.js';
import { renderHtml, renderMarkdown } from './report.js';
import type { BenchOutput } from './report.js';
import { runOne } from './run.js';
import type { RunResult } from './run.js';

export interface BenchOptions {
  matrix: MatrixName;
  netns: boolean;
  json?: string;
  markdown?: string;
  report?: string;
  /** Only runs whose id contains this text. */
  filter?: string;
  /** Runs of each cell, same seed (default 1). */
  repeat?: number;
  /** The command line, for the record. */
  command: string;
  /** Progress lines (default standard error). */
  log?: (line: string) => void;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Most repetitions of a cell (a default-matrix repetition takes about 11 minutes here). */
export const MAX_REPEAT = 100;

/** @throws RangeError (naming the CLI flag) for a repeat count that is not a whole number 1..MAX_REPEAT, or a filter that matches nothing. */
export async function runBench(o: BenchOptions): Promise<BenchOutput> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const repeat = o.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) throw new RangeError(`--repeat must be a whole number from 1 to ${MAX_REPEAT}, got ${String(repeat)}`);
  const specs: RunSpec[] = matrix(o.matrix).filter((s) => !o.filter || s.id.includes(o.filter));
  if (specs.length === 0) throw new RangeError(`--filter ${JSON.stringify(o.filter)} matches no run of the ${o.matrix} matrix`);
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  const t0 = performance.now();
  let link: NetnsLink | undefined;
  const abort = new AbortController();
  const cleanup = (): void => link?.close();
  // On Ctrl-C or kill: stop the run's processes, remove the namespaces, then die of the signal.
  const onSignal = (sig: NodeJS.Signals): void => {
    abort.abort();
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanup);
  if (o.netns) {
    try {
      link = NetnsLink.create();
    } catch (e) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', cleanup);
      throw e;
    }
  }
  const runs: RunResult[] = [];
  try {
    const total = specs.length * repeat;
    log(
      `livemig bench: ${specs.length} runs of the ${o.matrix} matrix${repeat > 1 ? `, ${repeat} times over (${total} runs)` : ''}${link ? ` over ${link.sourceNs} ⇄ ${link.destinationNs}` : ' over loopback tcp with the simulated link'}`,
    );
    for (let k = 1; k <= repeat && !abort.signal.aborted; k++) {
      for (const s of specs) {
        const load = round2(loadavg()[0]!);
        const r: RunResult = { ...(await runOne(s, link ? { netns: link, signal: abort.signal } : { signal: abort.signal })), repeat: k, loadAverage: load };
        runs.push(r);
        const status = r.status === 'completed' ? (r.forced ? 'forced' : 'converged') : `${r.status}${r.error ? ` (${r.error})` : ''}`;
        log(
          `[${runs.length}/${total}] ${s.id}${repeat > 1 ? ` #${k}` : ''} @ ${linkLabel(s.linkBitsPerSecond)}: ${status}, total ${r.totalMs} ms, downtime ${r.downtimeMs} ms (guest ${r.guestDowntimeMs ?? '-'}), ${(r.bytes.total / 1048576).toFixed(1)} MiB, ${r.passes} passes${r.spec.autoConverge ? `, throttle ${r.throttleMax} %` : ''}`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanup);
    cleanup();
  }
  const cpu = cpus();
  const out: BenchOutput = {
    meta: {
      matrix: o.matrix,
      repeat,
      command: o.command,
      startedAt: started.toISOString(),
      elapsedMs: Math.round(performance.now() - t0),
      node: process.version,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      kernel: release(),
      loadAverage: { before: round2(loadBefore), after: round2(loadavg()[0]!) },
      link: link ? `network namespaces and a veth pair shaped by tc ${link.shaper}` : 'loopback tcp through the simulated link (link-bandwidth token bucket, every stage)',
    },
    runs,
  };
  const write = (path: string | undefined, text: () => string): void => {
    if (!path) return;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text());
    log(`wrote ${path}`);
  };
  write(o.json, () => JSON.stringify(out, null, 1) + '\n');
  write(o.markdown, () => renderMarkdown(out));
  write(o.report, () => renderHtml(out));
  return out;
}
