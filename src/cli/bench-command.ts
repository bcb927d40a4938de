/**
 * `livemig bench`: the migration benchmark matrix (workload × link × codec × cache × guest
 * size, auto-converge, auto-xbzrle), each run a source and a destination process, each cell
 * `--repeat` times. The harness lives in `bench/harness` (built to `dist/bench/harness`),
 * which the published package does not ship: this command runs from a checkout.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LivemigError } from '../errors.js';

export interface BenchCommandOptions {
  matrix: 'tiny' | 'default' | 'full';
  netns: boolean;
  /** Runs of each cell, same seed: the tables show median and min–max. */
  repeat: number;
  json?: string;
  markdown?: string;
  report?: string;
  filter?: string;
}

const HARNESS = new URL('../../bench/harness/bench.js', import.meta.url);

/** The harness's entry, typed here so that src/ does not import bench/ at load time. */
interface Harness {
  runBench(o: BenchCommandOptions & { command: string }): Promise<{ runs: { status: string; digestsMatch: boolean }[] }>;
}

export async function benchCommand(o: BenchCommandOptions): Promise<number> {
  if (!existsSync(fileURLToPath(HARNESS))) {
    throw new LivemigError('INVALID_ARGUMENT', 'the benchmark harness (dist/bench/harness) is not part of the installed package: run `livemig bench` from a built checkout');
  }
  if (o.netns && process.getuid?.() !== 0) throw new LivemigError('INVALID_ARGUMENT', '--netns needs root (it creates network namespaces and shapes a veth pair with tc)');
  const h = (await import(HARNESS.href)) as Harness;
  const command = ['livemig', ...process.argv.slice(2)].join(' ');
  let out: Awaited<ReturnType<Harness['runBench']>>;
  try {
    out = await h.runBench({ ...o, command });
  } catch (e) {
    // the harness checks its options before running anything and names the flag
    if (e instanceof RangeError) throw new LivemigError('INVALID_ARGUMENT', e.message);
    throw e;
  }
  const bad = out.runs.filter((r) => r.status !== 'completed' || !r.digestsMatch);
  if (bad.length > 0) process.stderr.write(`livemig bench: ${bad.length} of ${out.runs.length} runs did not complete with equal RAM digests\n`);
  return bad.length === 0 ? 0 : 1;
}
