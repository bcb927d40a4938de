/**
 * `livemig demo --report --telemetry` end to end (two small, fast migrations to a destination
 * process): the report shows both runs, the telemetry file has every pass of both, and with
 * standard output on a pipe no progress bar is drawn. Also with --json, whose output stays
 * one JSON document.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';
import { DEFAULT_BIOS_PATH } from '../../src/guest/index.js';
import { requirement } from '../helpers/requirements.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = tempDir('livemig-demo-');
after(tmp.remove);

function demo(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [CLI, 'demo', '--ram', '4M', '--bandwidth', '8M', '--max-time', '1500', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('livemig demo with --report and --telemetry', { timeout: 120_000 }, () => {
  test('writes a two-run report and a JSON line per pass of each run; no bar on a pipe', async () => {
    const report = join(tmp.dir, 'demo.html');
    const telemetry = join(tmp.dir, 'demo.jsonl');
    const jsonReport = join(tmp.dir, 'demo-json.html');
    const [text, json] = await Promise.all([
      demo(['--report', report, '--telemetry', telemetry]),
      demo(['--json', '--report', jsonReport]),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /[\r\x1b]/, 'no progress bar (carriage returns or escapes) when stdout is not a terminal');
    assert.match(text.stdout, new RegExp(`report written to ${report.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<title>livemig demo: XBZRLE against no delta compression<\/title>/);
    const head = html.slice(html.indexOf('<thead>'), html.indexOf('</thead>'));
    assert.ok(head.includes('XBZRLE') && head.includes('no delta compression'), 'both runs in the summary');
    // six plots a run, less the cache-miss plot of the run without a cache, and the downtime plot
    assert.equal((html.match(/<svg\b/g) ?? []).length, 6 * 2 - 1 + 1);
    assert.match(html, /Not shown: no delta compression: no page cache, delta compression was off/);
    assert.doesNotMatch(html, /https?:|<script|NaN/);
    const lines = readFileSync(telemetry, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { run: string; stage: string });
    for (const run of ['XBZRLE', 'no delta compression']) {
      const mine = lines.filter((l) => l.run === run);
      assert.ok(mine.length >= 2, `${run}: ${mine.length} passes`);
      assert.equal(mine[mine.length - 1]!.stage, 'stop-and-copy');
    }
    assert.match(text.stdout, new RegExp(`telemetry: ${lines.length} passes written`));

    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { runs: Record<string, unknown>[] };
    assert.equal(doc.runs.length, 2);
    assert.equal(doc.runs[0]!['report'], undefined, 'the report data stays out of the JSON');
    assert.ok(readFileSync(jsonReport, 'utf8').includes('no delta compression'));
  });

  test('an unwritable --report or --telemetry path fails before migrating, with status 2', async () => {
    const r = await demo(['--report', join(tmp.dir, 'missing', 'x.html')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--report: cannot write into .*missing/);
    assert.equal(r.stdout, '');
    const t = await demo(['--telemetry', join(tmp.dir, 'missing', 'x.jsonl')]);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /cannot write telemetry to .*missing/);
  });
});

describe('livemig demo --machine pc', { ...requirement('SeaBIOS (bios.bin)', existsSync(DEFAULT_BIOS_PATH), 'apt-get install -y seabios'), timeout: 120_000 }, () => {
  test('migrates the stride boot-sector PC with XBZRLE and without; digests match in both', async () => {
    // the PC takes at least 16 MiB of RAM
    const r = await demo(['--machine', 'pc', '--ram', '16M', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const runs = (JSON.parse(r.stdout) as { runs: { label: string; digestsMatch: boolean; info: { status: string; livemig?: { codec?: string } } }[] }).runs;
    assert.deepEqual(runs.map((x) => x.label), ['XBZRLE', 'no delta compression']);
    for (const run of runs) {
      assert.equal(run.info.status, 'completed');
      assert.equal(run.digestsMatch, true, `${run.label}: digests`);
    }
    assert.deepEqual(runs.map((x) => x.info.livemig?.codec), ['xbzrle', 'none']);
  });
});
