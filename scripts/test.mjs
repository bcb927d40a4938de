// Runs every dist/test/**/*.test.js with node's test runner (Node 20's --test takes no globs,
// and given a folder it would also load helper and fixture files as tests).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const only = process.argv.slice(2);
const files = find('dist/test').filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('test: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
// spec, then the list of skipped tests with their reasons (a tool the machine lacks: see
// test/helpers/requirements.ts; LIVEMIG_REQUIRE_ALL=1 turns those skips into failures)
const REPORTERS = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${new URL('./skips-reporter.mjs', import.meta.url).href}`, '--test-reporter-destination=stdout'];
const r = spawnSync(process.execPath, ['--test', ...REPORTERS, ...files], { stdio: 'inherit' });
if (r.status !== 0 || only.length > 0) process.exit(r.status ?? 1);
// Every kernel runs the engine's tests: again with the TypeScript kernel selected
// (the codec tests already run both kernels side by side).
const again = files.filter((f) => /[/\\](cache|migration[/\\]ram-sender|stream[/\\]roundtrip)/.test(f));
console.log(`\n# again with LIVEMIG_KERNEL=ts: ${again.length} files`);
const r2 = spawnSync(process.execPath, ['--test', ...REPORTERS, ...again], { stdio: 'inherit', env: { ...process.env, LIVEMIG_KERNEL: 'ts' } });
process.exit(r2.status ?? 1);
