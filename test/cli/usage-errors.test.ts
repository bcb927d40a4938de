/**
 * Usage errors, whoever finds them (commander: a bad value, an unknown option or command, a
 * missing argument; or a command itself: a knob that does not fit): the error, one line
 * pointing to the command's --help instead of the whole help, and status 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/processes.js';

function livemig(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  // a guest that did start would wait on its monitor: `info status` would print "VM status"
  const r = spawnSync(process.execPath, [CLI, ...args], { input: 'info status\n', encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** [arguments, the error line, the command whose --help the pointer names] */
const CASES: [string[], RegExp, string][] = [
  [['run', '--ram', '0'], /^error: option '--ram <size>' argument '0' is invalid\. --ram must be more than 0$/, 'livemig run'],
  [['run', '--workload', 'nope'], /^error: option '--workload <name>' argument 'nope' is invalid\. Allowed choices are idle, /, 'livemig run'],
  [['run', '--bogus'], /^error: unknown option '--bogus'$/, 'livemig run'],
  [['incoming'], /^error: missing required argument 'uri'$/, 'livemig incoming'],
  [['incoming', 'tcp:127.0.0.1:0', '--read-timeout', '-5'], /^error: option .*--read-timeout must be a whole number/, 'livemig incoming'],
  // found after the listener opened: it must be closed, or the process never exits (it hung)
  [['incoming', 'tcp:127.0.0.1:0', '--ram', '12345'], /^livemig: RAM block "pc\.ram": sizeBytes 12345 is not a multiple of the page size 4096$/, 'livemig incoming'],
  [['analyze'], /^error: missing required argument 'file'$/, 'livemig analyze'],
  [['frob'], /^error: unknown command 'frob'$/, 'livemig'],
  [['--bogus'], /^error: unknown option '--bogus'$/, 'livemig'],
  [['bench', '--matrix', 'huge'], /^error: option .*--matrix must be one of tiny, default, full, got 'huge'$/, 'livemig bench'],
  [['run', '--workload', 'seed', '--frames', '4'], /^livemig: --frames applies to the video and mixed workloads, not to 'seed'$/, 'livemig run'],
  [['demo', '--bandwidth', '0'], /^livemig: --bandwidth must be more than 0$/, 'livemig demo'],
];

for (const [args, error, command] of CASES) {
  test(`livemig ${args.join(' ')}: the error, a pointer to ${command} --help, status 2`, () => {
    const r = livemig(args);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '', 'nothing started, no help on standard output');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, `two lines, not the help:\n${r.stderr}`);
    assert.match(lines[0]!, error);
    assert.equal(lines[1], `Try '${command} --help'.`);
  });
}

test('--help still prints the help, with status 0', () => {
  for (const args of [['--help'], ['run', '--help'], ['help', 'incoming']]) {
    const r = livemig(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: livemig/, args.join(' '));
    assert.equal(r.stderr, '', args.join(' '));
  }
});

test('an error that is not a usage error keeps status 1 and no pointer', () => {
  const r = livemig(['analyze', '/nonexistent/livemig-stream']);
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /--help/);
});
