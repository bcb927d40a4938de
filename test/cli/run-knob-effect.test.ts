/**
 * `livemig run`'s workload knobs reach the running workload. Each guest is migrated through
 * its monitor to a `file:` stream, and what the knobs changed is read back from QEMU's
 * `info migrate` (what the guest dirtied) and from the guest's device state in the stream
 * (livemig-device: be32 length + JSON with the workload's resolved knobs and each vCPU's
 * work count).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, parseInfo } from '../helpers/processes.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('livemig-knobs-');
after(tmp.remove);

interface Ran {
  status: number | null;
  info: Map<string, string>;
  stderr: string;
  /** Wall time from spawning the process to its exit: longer than its guest ran. */
  elapsedMs: number;
  device: { workload: string; region: { offsetBytes: number; sizeBytes: number }; options: Record<string, number>; vcpu: { workDone: number }[] };
}

/** Starts `livemig run ARGS`, migrates the guest to a file with `parameters` set, then ends its input. */
function migrateToFile(name: string, args: readonly string[], parameters: Record<string, string>): Promise<Ran> {
  const file = join(tmp.dir, `${name}.mig`);
  const commands = [...Object.entries(parameters).map(([k, v]) => `migrate_set_parameter ${k} ${v}`), `migrate file:${file}`, 'info migrate'];
  const t0 = performance.now();
  const p = spawn(process.execPath, [CLI, 'run', '--monitor', 'stdio', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdin.end(commands.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    p.on('exit', (status) => {
      const elapsedMs = performance.now() - t0;
      try {
        resolve({ status, info: parseInfo(stdout.split('\n')), stderr, elapsedMs, device: deviceState(readFileSync(file)) });
      } catch (e) {
        reject(new Error(`${name}: ${(e as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    });
  });
}

/** The guest's device state from a livemig stream: the JSON document, found by its opening, after its be32 length. */
function deviceState(stream: Buffer): Ran['device'] {
  const at = stream.indexOf('{"format":"livemig-guest"');
  assert.ok(at > 4, 'the stream holds the guest device state');
  return JSON.parse(stream.subarray(at, at + stream.readUInt32BE(at - 4)).toString('utf8')) as Ran['device'];
}

const pages = (info: Map<string, string>, key: string): number => Number(/^(\d+) pages$/.exec(info.get(key) ?? '')?.[1] ?? NaN);

describe('livemig run: the workload knobs reach the workload', { timeout: 120_000 }, () => {
  test('--buffer: xbzrle-doc dirties only its buffer, so the migration converges; without it, all RAM, and it never does', async () => {
    // 8 MiB of zeroed RAM over a 16 MiB/s link: a dirtied page goes whole (4 KiB), a zero page as 1 byte
    const parameters = { 'max-bandwidth': '0', 'link-bandwidth': '16', 'max-time': '3000' };
    const [small, whole] = await Promise.all([
      migrateToFile('buffer-256k', ['--ram', '8M', '--workload', 'xbzrle-doc', '--buffer', '256k'], parameters),
      migrateToFile('buffer-default', ['--ram', '8M', '--workload', 'xbzrle-doc'], parameters),
    ]);
    for (const r of [small, whole]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.info.get('Migration status'), 'completed');
    }
    assert.equal(small.device.options['bufferBytes'], 256 * 1024);
    assert.equal(whole.device.options['bufferBytes'], 16 * 1024 * 1024, 'the default (cut to RAM by the guest)');
    // 64 buffer pages re-sent in a few passes, against 2048 pages a pass until max-time
    const a = pages(small.info, 'normal');
    const b = pages(whole.info, 'normal');
    assert.ok(a > 0 && a < 1024, `--buffer 256k: ${a} pages sent whole`);
    assert.ok(b > 4096, `default buffer: ${b} pages sent whole`);
    assert.ok(Number(small.info.get('total time')?.split(' ')[0]) < 2500, `converged before max-time: ${small.info.get('total time')}`);
  });

  test('every knob lands in the guest, and --rate paces it', async () => {
    const [mixed, video] = await Promise.all([
      migrateToFile(
        'mixed',
        ['--ram', '8M', '--workload', 'mixed', '--region', '6M', '--region-offset', '1M', '--buffer', '512k', '--hot-fraction', '0.25', '--hot-writes', '0.5', '--words-per-write', '8', '--frames', '4', '--motion', '0.2', '--rate', '20k'],
        { 'max-bandwidth': '0', 'max-time': '3000' },
      ),
      migrateToFile('video', ['--ram', '8M', '--workload', 'video', '--frame-bytes', '64k', '--frames', '16', '--motion', '0.5'], { 'max-bandwidth': '0', 'max-time': '3000' }),
    ]);
    for (const r of [mixed, video]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.info.get('Migration status'), 'completed');
    }
    assert.equal(mixed.device.workload, 'mixed');
    assert.deepEqual(mixed.device.region, { offsetBytes: 1 << 20, sizeBytes: 6 << 20 });
    assert.deepEqual(mixed.device.options, { rate: 20_000, bufferBytes: 512 * 1024, hotFraction: 0.25, hotWrites: 0.5, wordsPerWrite: 8, frames: 4, frameBytes: 0, motion: 0.2 });
    assert.deepEqual(video.device.region, { offsetBytes: 0, sizeBytes: 8 << 20 }, 'no --region: all RAM');
    assert.deepEqual(video.device.options, { rate: 0, bufferBytes: 16 << 20, hotFraction: 0.1, hotWrites: 0.9, wordsPerWrite: 4, frames: 16, frameBytes: 64 * 1024, motion: 0.5 });
    // at 20,000 writes/s the guest cannot have written more than that for as long as the process lived
    const written = mixed.device.vcpu[0]!.workDone;
    assert.ok(written > 0 && written <= (20_000 * mixed.elapsedMs) / 1000, `--rate 20k: ${written} writes in under ${Math.round(mixed.elapsedMs)} ms`);
    // the control (so the check above can fail): unpaced, a guest of the same size writes several
    // times faster, even with the two cores shared with the rest of the suite
    const pacedRate = written / mixed.elapsedMs;
    const unpacedRate = video.device.vcpu[0]!.workDone / video.elapsedMs;
    assert.ok(unpacedRate > 3 * pacedRate, `unpaced ${Math.round(unpacedRate * 1000)} writes/s against paced ${Math.round(pacedRate * 1000)}`);
  });
});
