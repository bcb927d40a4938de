/**
 * The package as a user gets it: `npm pack` of this checkout (the built dist/), the tarball
 * installed into an empty directory, and the installed `livemig` run from there: --help, a
 * small demo, a filtered tiny bench matrix, and analyze on a stream that the installed
 * `livemig run` wrote. Also what the tarball holds: dist/src without source maps, README and
 * package.json, nothing from asm/, scripts/, bench/ or test/; and that nothing in dist/src
 * imports from outside it (src may not depend on bench/ or test/).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: this file runs as dist/test/package.test.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`: a hang is a failure, not a stuck suite). */
function run(cmd: string, args: readonly string[], cwd: string, timeoutMs: number, input?: string): Promise<Ran> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'livemig-package-'));
const app = join(dir, 'app');
let files: string[] = [];
let bin = '';

/** Runs the installed `livemig` in the app directory. */
const livemig = (args: readonly string[], timeoutMs = 60_000, input?: string): Promise<Ran> => run(process.execPath, [bin, ...args], app, timeoutMs, input);
const show = (r: Ran): string => `status ${String(r.code)}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;

before(async () => {
  // --ignore-scripts: the tests run from a built dist/ (prepare would rebuild it)
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT, 120_000);
  assert.equal(packed.code, 0, `npm pack: ${show(packed)}`);
  const info = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  files = info[0].files.map((f) => f.path);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }) + '\n');
  // the dependencies come from npm's cache (an `npm install` of the checkout put them there)
  const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info[0].filename)], app, 180_000);
  assert.equal(installed.code, 0, `npm install: ${show(installed)}`);
  bin = join(app, 'node_modules', '.bin', 'livemig');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed package, installed into an empty directory', { timeout: 300_000 }, () => {
  test('the tarball holds dist/src (no source maps, no CLI typings), README.md and package.json, and nothing else', () => {
    const other = files.filter((f) => !f.startsWith('dist/src/') && f !== 'README.md' && f !== 'package.json');
    assert.deepEqual(other, [], 'asm/, scripts/, bench/, test/ and the rest stay in the checkout');
    assert.deepEqual(files.filter((f) => f.endsWith('.map')), []);
    assert.deepEqual(files.filter((f) => f.startsWith('dist/src/cli/') && f.endsWith('.d.ts')), []);
    for (const needed of ['dist/src/cli/main.js', 'dist/src/cli/bench/bench.js', 'dist/src/cli/bench/source-child.js', 'dist/src/cli/bench/destination-child.js', 'dist/src/codec/simd-kernel.wasm', 'dist/src/codec/simd-kernel-private.wasm', 'dist/src/codec/fill-scan.wasm', 'dist/src/guest/pc/boot/stride.img', 'dist/src/guest/pc/boot/load2011.img', 'dist/src/index.d.ts']) {
      assert.ok(files.includes(needed), `${needed} is shipped`);
    }
    // a file in dist/src whose source is gone (a stale build) would ship too
    const stale = files.filter((f) => f.endsWith('.js') && !existsSync(join(ROOT, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))));
    assert.deepEqual(stale, [], 'every shipped module has its source in src/');
  });

  test('nothing in dist/src imports from outside dist/src', () => {
    const srcRoot = join(ROOT, 'dist', 'src');
    const outside: string[] = [];
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.js')) {
          for (const m of readFileSync(p, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']*)'/g)) {
            const target = resolve(dirname(p), m[1]!);
            if (relative(srcRoot, target).startsWith('..')) outside.push(`${relative(ROOT, p)} → ${m[1]}`);
          }
        }
      }
    };
    walk(srcRoot);
    // version.ts reads the package's own package.json, which ships
    assert.deepEqual(outside.filter((o) => !o.endsWith('../../../package.json')), []);
  });

  test('livemig --help lists the commands', async () => {
    const r = await livemig(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const c of ['run', 'incoming', 'demo', 'analyze', 'send', 'bench']) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `--help lists ${c}`);
  });

  test('livemig demo: both migrations complete and the RAM digests match', async () => {
    const r = await livemig(['demo', '--ram', '8M', '--bandwidth', '64M', '--max-time', '1000', '--json'], 120_000);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as { runs: { label: string; info: { status?: string }; digestsMatch: boolean }[] };
    assert.equal(out.runs.length, 2, 'with XBZRLE and without');
    for (const run of out.runs) {
      assert.equal(run.info.status, 'completed', run.label);
      assert.equal(run.digestsMatch, true, run.label);
    }
  });

  test('livemig bench --matrix tiny (the xbzrle-doc runs) writes its results', async () => {
    const json = join(dir, 'bench.json');
    const report = join(dir, 'bench.html');
    const r = await livemig(['bench', '--matrix', 'tiny', '--filter', 'xbzrle-doc', '--json', json, '--markdown', join(dir, 'bench.md'), '--report', report], 120_000);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(readFileSync(json, 'utf8')) as { meta: { matrix: string }; runs: { spec: { id: string }; status: string; digestsMatch: boolean }[] };
    assert.equal(out.meta.matrix, 'tiny');
    assert.equal(out.runs.length, 2, 'xbzrle-doc with and without XBZRLE');
    for (const run of out.runs) {
      assert.equal(run.status, 'completed', run.spec.id);
      assert.equal(run.digestsMatch, true, run.spec.id);
    }
    assert.match(readFileSync(report, 'utf8'), /<svg/, 'the HTML report has its charts');
  });

  test('livemig analyze reads a stream that the installed livemig run wrote, and checks its RAM digest', async () => {
    const stream = join(dir, 'vm.mig');
    const ran = await livemig(['run', '--ram', '8M', '--workload', 'stride', '--monitor', 'stdio'], 60_000, `migrate file:${stream}\n`);
    assert.equal(ran.code, 0, show(ran));
    assert.match(ran.stdout, /Migration status: completed/);
    const text = await livemig(['analyze', stream]);
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout, /^Stream: \d+ bytes read, ended at EOF$/m);
    assert.match(text.stdout, /RAM digest: matches the stream's livemig-digest \(page128\)/);
    const json = await livemig(['analyze', '--json', stream]);
    assert.equal(json.code, 0, show(json));
    const summary = JSON.parse(json.stdout) as { blocks: { idstr: string; lengthBytes: number }[]; devices: { digest?: { algorithm: string; matches?: boolean } } };
    assert.deepEqual(summary.blocks.map((b) => [b.idstr, b.lengthBytes]), [['pc.ram', 8 * 1024 * 1024]]);
    assert.equal(summary.devices.digest?.matches, true);
  });
});
