/**
 * `livemig analyze` on a real livemig stream (a migration to a file): the RAM checked against
 * the stream's page128 digest; the same stream with its digest altered (status 1, named);
 * and truncated: what was read before the cut, in text and --json, then the error (status 1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnalysisSummary } from '../../src/stream/index.js';
import { migrateSmall, tempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = tempDir('livemig-analyze-cli-');
const stream = join(tmp.dir, 'vm.mig');
let bytes: Buffer;
let digestHex = '';

before(async () => {
  const m = await migrateSmall(stream, { xbzrle: true }, () => undefined);
  digestHex = m.ramDigest!;
  bytes = readFileSync(stream);
});
after(() => tmp.remove());

/** Runs `livemig analyze ARGS` with standard output and error into one file, in the order written. */
function analyze(args: readonly string[]): { status: number | null; stdout: string; stderr: string; both: string } {
  const r = spawnSync(process.execPath, [CLI, 'analyze', ...args], { encoding: 'utf8', timeout: 60_000 });
  const file = join(tmp.dir, 'both.txt');
  const fd = openSync(file, 'w');
  try {
    spawnSync(process.execPath, [CLI, 'analyze', ...args], { stdio: ['ignore', fd, fd], timeout: 60_000 });
  } finally {
    closeSync(fd);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, both: readFileSync(file, 'utf8') };
}

test('a livemig stream: the RAM matches its page128 digest (text and --json), status 0', () => {
  const text = analyze([stream]);
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stderr, '');
  assert.match(text.stdout, /^RAM digest: matches the stream's livemig-digest \(page128\)$/m);
  assert.match(text.stdout, new RegExp(`^  livemig-digest: page128 ${digestHex}$`, 'm'));
  const json = analyze(['--json', stream]);
  assert.equal(json.status, 0, json.stderr);
  const s = JSON.parse(json.stdout) as AnalysisSummary;
  assert.deepEqual(s.devices.digest, { algorithm: 'page128', hex: digestHex, matches: true, computed: digestHex });
  assert.equal(s.error, undefined);
});

test('a digest that does not match the RAM: said in the summary, then an error naming both digests, status 1', () => {
  const at = bytes.indexOf(Buffer.from(digestHex, 'hex'));
  assert.ok(at > 0, 'the digest bytes are in the stream');
  const altered = Buffer.from(bytes);
  altered[at + 3]! ^= 0x01;
  const file = join(tmp.dir, 'altered.mig');
  writeFileSync(file, altered);
  const r = analyze([file]);
  assert.equal(r.status, 1);
  const stored = altered.subarray(at, at + 16).toString('hex');
  assert.match(r.stdout, new RegExp(`^RAM digest: DOES NOT MATCH the stream's livemig-digest \\(page128\\): the RAM read gives ${digestHex}$`, 'm'));
  assert.equal(r.stderr, `livemig: the RAM read from the stream does not match its livemig-digest (page128 ${stored}, read ${digestHex})\n`);
});

test('a truncated stream: what was read before the cut, then the error, status 1 (text and --json)', () => {
  const cut = Math.floor(bytes.length / 2);
  const file = join(tmp.dir, 'truncated.mig');
  writeFileSync(file, bytes.subarray(0, cut));
  const r = analyze([file]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^Machine: livemig$/m);
  const stopped = new RegExp(`^Stream: ${cut} bytes read, failed at stream offset (\\d+) \\(what follows was read before the error\\)$`, 'm').exec(r.stdout);
  assert.ok(stopped, r.stdout);
  assert.match(r.stdout, /^ {2}\d+ +START +\d+ +ram /m, 'the sections read are listed');
  assert.match(r.stdout, /^RAM records: mem_size 1, zero \d+, page [1-9]\d*/m);
  assert.match(r.stdout, /^ {2}pc\.ram +0x400000 +[0-9a-f]{64}$/m);
  assert.match(r.stdout, /^ {2}livemig-machine: kind synthetic/m);
  assert.match(r.stderr, new RegExp(`^livemig: truncated .* at stream offset ${stopped[1]}\\n$`));
  // the summary first, the error last
  assert.ok(r.both.startsWith('Machine: livemig\n'), r.both.slice(0, 200));
  assert.ok(r.both.endsWith(r.stderr), r.both.slice(-300));

  const json = analyze(['--json', file]);
  assert.equal(json.status, 1);
  assert.equal(json.stderr, r.stderr);
  const s = JSON.parse(json.stdout) as AnalysisSummary;
  assert.equal(s.endedAt, 'error');
  assert.equal(s.bytesRead, cut);
  assert.equal(s.error?.code, 'STREAM_INVALID');
  assert.equal(s.error?.offset, Number(stopped[1]));
  assert.equal(`livemig: ${s.error?.message}\n`, r.stderr);
  assert.deepEqual(s.sections.slice(0, 2).map((x) => x.idstr), ['livemig-machine', 'ram']);
  assert.ok(s.totals.page > 0);
  assert.equal(s.devices.digest, undefined, 'the digest section was past the cut');
});

test('a file that is not a migration stream: the error after an empty summary; a missing file: the error alone', () => {
  const file = join(tmp.dir, 'text.txt');
  writeFileSync(file, 'hello, world\n');
  const r = analyze([file]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^Stream: 13 bytes read, failed at stream offset 0/m);
  assert.match(r.stderr, /^livemig: Not a migration stream \(magic 0x68656c6c/);
  const missing = analyze([join(tmp.dir, 'none.mig')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /^livemig: ENOENT/);
});
