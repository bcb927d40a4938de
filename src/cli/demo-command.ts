/**
 * `livemig demo`: the main job on an embedded default. Starts a guest running the `seed`
 * workload (XBRLE (2011)'s load generator; with `--machine pc`, an x86 PC booting livemig's
 * stride boot-sector guest), migrates it to a destination process over loopback tcp through
 * a simulated link, once with XBZRLE and once without, and prints `info migrate` for each,
 * a side-by-side table and whether the RAM digests matched. On a terminal a progress bar
 * shows each migration; `--report FILE.html` writes both runs side by side as an HTML page
 * and `--telemetry FILE` a JSON line per pass of each (labelled with `run`).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Guest, GuestMemory, PASS_MARKER, PcMachine, floppyImage, resolvePcOptions } from '../guest/index.js';
import type { VirtualMachine, WorkloadName } from '../guest/index.js';
import { IO_AREA_BYTES, SourceManager } from '../migration/index.js';
import type { MigrationInfo } from '../migration/index.js';
import { formatInfoMigrate, formatSize } from '../monitor/index.js';
import { selectedKernel } from '../codec/index.js';
import { attachProgressBar } from './progress.js';
import { TelemetryFile } from './telemetry-file.js';
import { RunRecorder, checkReportPath, formatBytes, formatRate, writeMigrationReport } from './report/index.js';
import type { ReportRun } from './report/index.js';

export interface DemoOptions {
  /** synthetic (default) or pc (v86 booting the stride boot-sector guest). */
  machine?: 'synthetic' | 'pc';
  ram: number;
  workload: WorkloadName;
  bandwidth: number;
  maxTime: number;
  json: boolean;
  /** Write an HTML report of both runs here. */
  report?: string;
  /** Write a JSON line per pass of both runs here. */
  telemetry?: string;
}

interface RunResult {
  label: string;
  info: MigrationInfo;
  destination: Record<string, unknown>;
  digestsMatch: boolean;
  report: ReportRun;
}

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

export async function demoCommand(o: DemoOptions): Promise<number> {
  const log = (s: string) => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  // bad output paths fail now, not after the migrations
  if (o.report !== undefined) checkReportPath(o.report, '--report');
  const telemetry = o.telemetry !== undefined ? new TelemetryFile(o.telemetry) : undefined;
  log(`livemig demo: ${guestWords(o)}, migrated over loopback tcp through a ${formatSize(o.bandwidth)}B/s link`);
  log(`(downtime limit 300 ms; a migration that has not converged after ${o.maxTime / 1000} s is switched over anyway)\n`);
  const results: RunResult[] = [];
  for (const xbzrle of [true, false]) {
    const label = xbzrle ? 'XBZRLE' : 'no delta compression';
    log(`== migration ${results.length + 1}: ${label}`);
    results.push(await migrateOnce(o, xbzrle, label, log, telemetry));
  }
  telemetry?.close();
  if (o.report !== undefined) {
    await writeMigrationReport(o.report, results.map((r) => r.report), {
      title: 'livemig demo: XBZRLE against no delta compression',
      subtitle: `${guestWords(o).replace(/^a/, 'A')}, migrated twice to a destination process over loopback tcp through a simulated ${formatRate(o.bandwidth)} link: with XBZRLE delta compression and without.`,
      parameters: [
        ['guest RAM', `${formatBytes(o.ram)} (one block, pc.ram)`],
        ['workload', o.machine === 'pc' ? 'x86 PC (v86), stride boot sector' : o.workload],
        ['simulated link', `${formatRate(o.bandwidth)} for every stage (no other bandwidth limit)`],
        ['downtime limit', `${results[0]?.report.parameters?.['downtime-limit'] ?? 300} ms`],
        ['switch over anyway after', `${o.maxTime / 1000} s`],
        ['XBZRLE page cache', `${formatBytes(results[0]?.report.parameters?.['xbzrle-cache-size'] ?? 0)}, ${results[0]?.report.parameters?.['cache-ways'] ?? 2}-way`],
        ['codec kernel', selectedKernel().name],
        ['transport', 'tcp:127.0.0.1 (loopback), destination in a separate process'],
        ['node', process.version],
      ],
    });
    log(`report written to ${o.report}`);
  }
  if (o.telemetry !== undefined) log(`telemetry: ${telemetry?.lines ?? 0} passes written to ${o.telemetry}`);
  if (o.json) {
    process.stdout.write(JSON.stringify({ runs: results.map(({ report: _r, ...rest }) => rest) }, null, 2) + '\n');
  } else {
    log(table(results));
    const ok = results.every((r) => r.digestsMatch);
    log(ok ? 'RAM digests: source and destination matched in both migrations.' : 'RAM digests: MISMATCH (see above)');
  }
  return results.every((r) => r.digestsMatch && r.info.status === 'completed') ? 0 : 1;
}

async function migrateOnce(o: DemoOptions, xbzrle: boolean, label: string, log: (s: string) => void, telemetry: TelemetryFile | undefined): Promise<RunResult> {
  const dst = spawn(process.execPath, [CLI, 'incoming', 'tcp:127.0.0.1:0', '--json', '--exit', '--monitor', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  let stderr = '';
  dst.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const next = (kind: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = events.find((e) => e['event'] === kind || (kind === 'end' && (e['event'] === 'completed' || e['event'] === 'failed')));
      if (seen) return resolve(seen);
      const rl = createInterface({ input: dst.stdout });
      rl.on('line', (line) => {
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          events.push(e);
          if (e['event'] === kind || (kind === 'end' && (e['event'] === 'completed' || e['event'] === 'failed'))) {
            rl.close();
            resolve(e);
          }
        } catch {
          /* not an event */
        }
      });
      dst.once('exit', (code) => reject(new Error(`destination exited (${code}) before '${kind}': ${stderr.trim()}`)));
    });
  const guest = await startGuest(o);
  try {
    const listening = await next('listening');
    const src = new SourceManager(guest);
    src.setParameter('max-bandwidth', 0);
    src.setParameter('link-bandwidth', o.bandwidth);
    src.setParameter('max-time', o.maxTime);
    src.setCapability('xbzrle', xbzrle);
    const { migration, done } = src.migrate(String(listening['uri']));
    const recorder = new RunRecorder(migration, label);
    const stopTelemetry = telemetry?.attach(migration, label);
    const stopBar = o.json ? undefined : attachProgressBar(migration, process.stdout);
    try {
      await done;
    } finally {
      stopBar?.();
      stopTelemetry?.();
    }
    const end = await next('end');
    const info = migration.info();
    log(formatInfoMigrate(info));
    const destDigest = (end['incoming'] as Record<string, unknown> | undefined)?.['ram-digest'];
    log(`destination: ${String(end['event'])}, ram digest ${String(destDigest ?? '-')}\n`);
    const digestsMatch = destDigest !== undefined && destDigest === info.livemig?.['ram-digest'];
    return { label, info, destination: end, digestsMatch, report: recorder.result({ digestsMatch }) };
  } finally {
    await guest.stop();
    dst.kill();
  }
}

function guestWords(o: DemoOptions): string {
  return o.machine === 'pc' ? `a ${formatSize(o.ram)} x86 PC (v86) running livemig's stride boot-sector guest` : `a ${formatSize(o.ram)} guest running the '${o.workload}' workload`;
}

/** The demo's guest; a PC once it has booted and run a few passes (COM1 markers). */
async function startGuest(o: DemoOptions): Promise<VirtualMachine> {
  if (o.machine !== 'pc') return Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ram }], { ioBytes: IO_AREA_BYTES }), workload: o.workload, seed: 1 });
  const { config, media } = resolvePcOptions({ ramBytes: o.ram, bootImage: { name: 'stride', floppy: floppyImage('stride') } });
  let passes = 0;
  let ran!: () => void;
  const running = new Promise<void>((r) => (ran = r));
  const pc = await PcMachine.create(config, media, { serial: (b) => b === PASS_MARKER && ++passes === 3 && ran() });
  await running;
  return pc;
}

function table(results: RunResult[]): string {
  const rows: [string, (r: RunResult) => string][] = [
    ['status', (r) => String(r.info.status) + (r.info.livemig?.['forced-switchover'] ? ' (forced)' : '')],
    ['total time', (r) => `${r.info['total-time'] ?? 0} ms`],
    ['downtime', (r) => `${r.info.downtime ?? '-'} ms`],
    ['bytes on the wire', (r) => `${Math.floor((r.info.ram?.transferred ?? 0) / 1024)} kbytes`],
    ['passes', (r) => String(r.info.livemig?.pass ?? 0)],
    ['pages sent whole', (r) => String(r.info.ram?.normal ?? 0)],
    ['delta pages sent', (r) => String(r.info.livemig?.['delta-records'] ?? 0)],
    ['cache misses', (r) => String(r.info['xbzrle-cache']?.['cache-miss'] ?? '-')],
    ['overflows', (r) => String(r.info['xbzrle-cache']?.overflow ?? '-')],
    ['digests matched', (r) => (r.digestsMatch ? 'yes' : 'NO')],
  ];
  const w0 = Math.max(...rows.map(([n]) => n.length));
  const ws = results.map((r) => Math.max(r.label.length, ...rows.map(([, f]) => f(r).length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(i === 0 ? w0 : ws[i - 1]!)).join(' | ') + ' |';
  const out = [line(['', ...results.map((r) => r.label)]), '|' + [w0, ...ws].map((w) => '-'.repeat(w + 2)).join('|') + '|'];
  for (const [name, f] of rows) out.push(line([name, ...results.map(f)]));
  return out.join('\n') + '\n';
}

