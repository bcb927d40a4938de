/**
 * The README's library example, run as written: its ```js block is written to a file in an
 * empty directory whose node_modules/livemig is this package (the built dist/, through
 * package.json's "exports", as an installed copy resolves it), run with node, and must exit 0
 * on its own, printing the outcome the README says it prints.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: this file runs as dist/test/readme.test.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The bodies of the README's fenced ```js blocks, in order. */
export function jsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const dir = mkdtempSync(join(tmpdir(), 'livemig-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('README: the library example runs as written and exits', async () => {
  const blocks = jsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.equal(blocks.length, 1, 'the README has one ```js block: the library example');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'livemig'), 'dir');
  const file = join(dir, 'example.mjs');
  writeFileSync(file, blocks[0]!);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // a hang (the process kept alive after the migration) is a failure, not a stuck suite
    execFile(process.execPath, [file], { cwd: dir, timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
  assert.equal(code, 0, `exit status ${String(code)}; stderr:\n${stderr}`);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'source: completed, destination: completed');
  assert.equal(lines[1], 'RAM digests equal: true');
  const m = /^counter at the switchover: (\d+), resumed from: (\d+)$/.exec(lines[2] ?? '');
  assert.ok(m, `third line: ${lines[2]}`);
  assert.ok(Number(m[1]) > 0, 'the VM ran before the switchover');
  assert.equal(m[2], m[1], 'the destination resumed from the source\'s counter');
});
