/**
 * `livemig bench` rejects a bad `--repeat` or a `--filter` that matches nothing before it
 * runs anything, naming the flag (the repetitions themselves are tested with the harness in
 * test/evidence/harness.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function bench(args: readonly string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, 'bench', '--matrix', 'tiny', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('--repeat takes a whole number 1..100; anything else is an error naming the flag', () => {
  for (const bad of ['0', '101', 'two', '1.5', '-1']) {
    const r = bench(['--repeat', bad]);
    assert.notEqual(r.status, 0, `--repeat ${bad}`);
    assert.match(r.stderr, /--repeat must be a whole number from 1 to 100/, `--repeat ${bad}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /runs of the tiny matrix/, 'nothing ran');
  }
});

test('--filter that matches no run is an error naming the flag, with status 2', () => {
  const r = bench(['--filter', 'no-such-run', '--repeat', '2']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--filter "no-such-run" matches no run of the tiny matrix/);
});

test('--help describes --repeat', () => {
  const r = bench(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--repeat <n>\s+run each cell of the matrix n times with the same seed/);
});
