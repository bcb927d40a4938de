#!/usr/bin/env node
// `npm run fuzz -- [seconds] [--targets stream,xbzrle,xbrle] [--build dist] [--jobs N]
//                  [--corpus DIR] [--findings DIR] [--seed N] [--no-coverage]`
//
// Fuzzes each target for `seconds` (default 60), as many at a time as there are cores, each in
// its own process (fuzz/engine.mjs), then prints the inputs tried per target and any findings.
// Needs the build (`npm run build`, or --build DIR for another output folder). The working
// corpora go to <corpus>/<target> (default: a fresh temporary folder), findings to
// <findings>/<target> (default fuzz/findings). Exit status 1 if anything was found.
//
// To turn a run's corpus into CI vectors: node fuzz/minimize.mjs --from <corpus>/<target> ...
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    targets: { type: 'string', default: 'stream,xbzrle,xbrle' },
    build: { type: 'string', default: 'dist' },
    jobs: { type: 'string' },
    corpus: { type: 'string' },
    findings: { type: 'string', default: 'fuzz/findings' },
    seed: { type: 'string' },
    'no-coverage': { type: 'boolean', default: false },
  },
});
const seconds = Number(positionals[0] ?? 60);
if (!(seconds > 0)) {
  console.error(`fuzz: seconds must be a positive number, got ${positionals[0]}`);
  process.exit(2);
}
const targets = opt.targets.split(',').filter(Boolean);
const jobs = Math.max(1, Number(opt.jobs ?? Math.min(targets.length, availableParallelism())));
const corpusRoot = opt.corpus ?? mkdtempSync(join(tmpdir(), 'livemig-fuzz-'));

function runOne(target) {
  return new Promise((resolve) => {
    const args = [fileURLToPath(new URL('./engine.mjs', import.meta.url)), '--target', target, '--seconds', String(seconds), '--build', opt.build, '--corpus', join(corpusRoot, target), '--findings', opt.findings];
    if (opt.seed !== undefined) args.push('--seed', opt.seed);
    if (opt['no-coverage']) args.push('--no-coverage');
    const child = spawn(process.execPath, ['--max-old-space-size=2048', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let hang;
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => {
      const text = String(b);
      const m = /FUZZ-HANG (\S+)/.exec(text);
      if (m) hang = m[1];
      process.stderr.write(text);
    });
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('FUZZ-RESULT '));
      if (line) resolve(JSON.parse(line.slice('FUZZ-RESULT '.length)));
      else resolve({ target, failed: hang ? `hang: ${hang}` : `the fuzzer exited (${signal ?? `status ${code}`}) without a result` });
    });
  });
}

const results = [];
const pending = [...targets];
await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, async () => {
  for (let t = pending.shift(); t !== undefined; t = pending.shift()) results.push(await runOne(t));
}));

const rows = [['target', 'inputs tried', 'inputs/s', 'accepted', 'corpus', 'edges covered', 'rejection kinds', 'findings']];
let bad = false;
for (const t of targets) {
  const r = results.find((x) => x.target === t);
  if (r.failed) {
    bad = true;
    rows.push([t, '-', '-', '-', '-', '-', '-', r.failed]);
    continue;
  }
  if (r.findings.length > 0) bad = true;
  rows.push([t, String(r.inputs), String(r.perSecond), String(r.accepted), String(r.corpus), r.coverage ? `${r.coverage.edges}/${r.coverage.instrumented}` : 'off', String(r.rejectionKinds), String(r.findings.length)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`\nfuzz: ${seconds} s per target, coverage ${opt['no-coverage'] ? 'off' : 'on (jazzer.js instrumentation)'}; corpora in ${corpusRoot}`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
for (const r of results) for (const f of r.findings ?? []) console.log(`finding [${r.target}] ${f.signature.slice(0, 200)}\n  ${f.file}`);
process.exit(bad ? 1 : 0);
