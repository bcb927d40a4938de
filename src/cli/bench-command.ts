/**
 * `livemig bench`: the migration benchmark matrix (workload × link × codec × cache × guest
 * size, auto-converge, auto-xbzrle), each run a source and a destination process, each cell
 * `--repeat` times. The harness is `./bench/` (shipped with the package, so an installed
 * livemig runs it too); main.ts imports this module only when the command runs.
 */
import { LivemigError } from '../errors.js';
import { runBench } from './bench/bench.js';
import type { MatrixName } from './bench/matrix.js';

export interface BenchCommandOptions {
  matrix: MatrixName;
  netns: boolean;
  /** Runs of each cell, same seed: the tables show median and min–max. */
  repeat: number;
  json?: string;
  markdown?: string;
  report?: string;
  filter?: string;
}

export async function benchCommand(o: BenchCommandOptions): Promise<number> {
  if (o.netns && process.getuid?.() !== 0) throw new LivemigError('INVALID_ARGUMENT', '--netns needs root (it creates network namespaces and shapes a veth pair with tc)');
  const command = ['livemig', ...process.argv.slice(2)].join(' ');
  let out: Awaited<ReturnType<typeof runBench>>;
  try {
    out = await runBench({ ...o, command });
  } catch (e) {
    // the harness checks its options before running anything and names the flag
    if (e instanceof RangeError) throw new LivemigError('INVALID_ARGUMENT', e.message);
    throw e;
  }
  const bad = out.runs.filter((r) => r.status !== 'completed' || !r.digestsMatch);
  if (bad.length > 0) process.stderr.write(`livemig bench: ${bad.length} of ${out.runs.length} runs did not complete with equal RAM digests\n`);
  return bad.length === 0 ? 0 : 1;
}
