/**
 * `livemig run`'s workload knobs refuse bad values, knobs the chosen workload does not use,
 * and combinations that do not fit the guest: each with a message naming the flag, a failing
 * exit status, and before the guest starts (no monitor output at all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/processes.js';

function run(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  // a guest that did start would wait on its monitor: `info status` on stdin would print "VM status"
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { input: 'info status\n', encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** [arguments, what stderr must say]: a value the flag's parser refuses (a usage error: status 2). */
const BAD_VALUES: [string[], RegExp][] = [
  [['--workload', 'seed', '--rate', '-5'], /option '--rate <writes\/s>' argument '-5' is invalid\. --rate must be a whole number from 0 to 1000000000/],
  [['--workload', 'seed', '--rate', '2.5'], /--rate must be a whole number/],
  [['--workload', 'seed', '--rate', 'fast'], /--rate must be a whole number/],
  [['--workload', 'seed', '--rate', '2g'], /--rate must be a whole number/],
  [['--workload', 'seed', '--region', '5000'], /--region must be a non-zero multiple of 4096 bytes/],
  [['--workload', 'seed', '--region', '0'], /--region must be a non-zero multiple of 4096 bytes/],
  [['--workload', 'seed', '--region-offset', '1x'], /invalid --region-offset '1x': expected a number with an optional k, m, g or t suffix/],
  [['--workload', 'xbzrle-doc', '--buffer', '6k'], /--buffer must be a non-zero multiple of 4096 bytes \(whole pages\), got '6k'/],
  [['--workload', 'zipf', '--hot-fraction', '0'], /--hot-fraction must be a number above 0 to 1, got '0'/],
  [['--workload', 'zipf', '--hot-fraction', '1.01'], /--hot-fraction must be a number above 0 to 1/],
  [['--workload', 'zipf', '--hot-writes', '-0.1'], /--hot-writes must be a number from 0 to 1/],
  [['--workload', 'zipf', '--hot-writes', 'NaN'], /--hot-writes must be a number from 0 to 1/],
  [['--workload', 'zipf', '--words-per-write', '0'], /--words-per-write must be a whole number from 1 to 1024/],
  [['--workload', 'zipf', '--words-per-write', '1025'], /--words-per-write must be a whole number from 1 to 1024/],
  [['--workload', 'video', '--frames', '0'], /--frames must be a whole number from 1 to 1024/],
  [['--workload', 'video', '--frame-bytes', '4097'], /--frame-bytes must be a multiple of 4096 bytes/],
  [['--workload', 'video', '--motion', '0'], /--motion must be a number above 0 to 1/],
  [['--workload', 'video', '--motion', '2'], /--motion must be a number above 0 to 1/],
];

/** [arguments, what stderr must say]: values that parse but do not apply or fit (status 2). */
const MISFITS: [string[], RegExp][] = [
  [['--workload', 'seed', '--frames', '4'], /^livemig: --frames applies to the video and mixed workloads, not to 'seed'$/m],
  [['--workload', 'mixed', '--frame-bytes', '64k'], /--frame-bytes applies to the video workload, not to 'mixed'/],
  [['--workload', 'video', '--buffer', '1M'], /--buffer applies to the xbzrle-doc and mixed workloads, not to 'video'/],
  [['--workload', 'bwmem', '--hot-writes', '0.5'], /--hot-writes applies to the zipf and mixed workloads, not to 'bwmem'/],
  [['--workload', 'random', '--motion', '0.5'], /--motion applies to the video and mixed workloads, not to 'random'/],
  [['--rate', '1000'], /--rate applies to every workload but idle, not to 'idle'/],
  [['--workload', 'idle', '--region', '1M'], /--region applies to every workload but idle, not to 'idle'/],
  [['--workload', 'seed', '--ram', '8M', '--region', '16M'], /--region 16M from --region-offset 0 ends beyond the guest's RAM \(--ram 8M\)/],
  [['--workload', 'seed', '--ram', '8M', '--region-offset', '8M'], /--region-offset 8M is not inside the guest's RAM \(--ram 8M\)/],
  [['--workload', 'seed', '--ram', '8M', '--region-offset', '6M', '--region', '4M'], /--region 4M from --region-offset 6M ends beyond/],
  [['--workload', 'video', '--ram', '8M', '--frame-bytes', '2M'], /video: 8 frames \(--frames\) of 2M \(--frame-bytes\) do not fit vCPU 0's 8M of the region/],
  [['--workload', 'video', '--ram', '1M', '--vcpus', '2', '--frames', '200'], /video: 200 frames \(--frames\) of at least one page .* do not fit vCPU 0's 512K/],
  [['--workload', 'mixed', '--ram', '8M', '--region', '32k'], /mixed: vCPU 0 gets 8 pages of the region; each needs at least 16 \(raise --ram or --region, or lower --vcpus\)/],
  [['--workload', 'mixed', '--ram', '128k', '--vcpus', '4'], /mixed: vCPU 0 gets 8 pages of the region; each needs at least 16/],
];

test('a bad knob value is refused by its flag before the guest starts', () => {
  for (const [args, re] of BAD_VALUES) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: status`);
    assert.match(r.stderr, re, args.join(' '));
    assert.match(r.stderr, /^Try 'livemig run --help'\.$/m, `${args.join(' ')}: a pointer to --help`);
    assert.doesNotMatch(r.stderr, /Usage:/, `${args.join(' ')}: not the whole help`);
    assert.equal(r.stdout, '', `${args.join(' ')}: no guest, no monitor`);
  }
});

test('a knob the workload does not use, or one that does not fit the guest, is an error with status 2', () => {
  for (const [args, re] of MISFITS) {
    const r = run(args);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.status, 2, `${args.join(' ')}: status (${r.stderr})`);
    assert.equal(r.stdout, '', `${args.join(' ')}: no guest, no monitor`);
  }
});

test('knobs that fit start the guest (the monitor answers)', () => {
  const r = run(['--workload', 'mixed', '--ram', '8M', '--region', '4M', '--region-offset', '1M', '--buffer', '256k', '--hot-fraction', '.5', '--hot-writes', '0', '--words-per-write', '16', '--frames', '2', '--motion', '1', '--rate', '1.5k']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^VM status: running$/m);
});

test('--help lists every knob with the workloads that use it', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Workload knobs \(each for the workloads in brackets; any other workload rejects it\):/);
  const knobs: [string, string][] = [
    ['--rate <writes/s>', 'every workload but idle'],
    ['--region <size>', 'every workload but idle'],
    ['--region-offset <size>', 'every workload but idle'],
    ['--buffer <size>', 'xbzrle-doc, mixed'],
    ['--hot-fraction <share>', 'zipf, mixed'],
    ['--hot-writes <share>', 'zipf, mixed'],
    ['--words-per-write <n>', 'zipf, mixed'],
    ['--frames <n>', 'video, mixed'],
    ['--frame-bytes <size>', 'video'],
    ['--motion <share>', 'video, mixed'],
  ];
  for (const [flag, workloads] of knobs) {
    assert.match(r.stdout, new RegExp(`^  ${flag.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+\\[${workloads}\\] \\S`, 'm'), flag);
  }
});
