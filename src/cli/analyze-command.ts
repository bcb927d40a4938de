/**
 * `livemig analyze <file|->`: what a migration stream (livemig's or QEMU's) carries. A stream
 * that fails to load is shown up to the failure, then the error (status 1); so is a livemig
 * stream whose RAM does not match its digest.
 */
import { analyzeMigrationFile, formatAnalysis } from '../stream/index.js';

export interface AnalyzeCommandOptions {
  json: boolean;
  extractRam?: string;
  maxRam: number;
}

export async function analyzeCommand(file: string, o: AnalyzeCommandOptions): Promise<number> {
  const summary = await analyzeMigrationFile(file, {
    maxRamBytes: o.maxRam,
    partial: true,
    ...(o.extractRam !== undefined ? { extractDir: o.extractRam } : {}),
  });
  process.stdout.write(o.json ? JSON.stringify(summary, null, 2) + '\n' : formatAnalysis(summary) + '\n');
  if (summary.error !== undefined) {
    process.stderr.write(`livemig: ${summary.error.message}\n`);
    return 1;
  }
  const d = summary.devices.digest;
  if (d?.matches === false) {
    process.stderr.write(`livemig: the RAM read from the stream does not match its livemig-digest (${d.algorithm} ${d.hex}, read ${d.computed})\n`);
    return 1;
  }
  return 0;
}
