/** `livemig analyze <file|->`: what a migration stream (livemig's or QEMU's) carries. */
import { analyzeMigrationFile, formatAnalysis } from '../stream/index.js';

export interface AnalyzeCommandOptions {
  json: boolean;
  extractRam?: string;
  maxRam: number;
}

export async function analyzeCommand(file: string, o: AnalyzeCommandOptions): Promise<number> {
  const summary = await analyzeMigrationFile(file, {
    maxRamBytes: o.maxRam,
    ...(o.extractRam !== undefined ? { extractDir: o.extractRam } : {}),
  });
  process.stdout.write(o.json ? JSON.stringify(summary, null, 2) + '\n' : formatAnalysis(summary) + '\n');
  return 0;
}
