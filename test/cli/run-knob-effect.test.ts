/**
 * `livemig run`'s workload knobs reach the running workload. Each guest is migrated through
 * its monitor to a `file:` stream, and what the knobs changed is read back from the RAM in
 * the stream (`livemig analyze --extract-ram`: which pages the guest wrote) and from the
 * guest's device state in the stream (livemig-device: be32 length + JSON with the workload's
 * resolved knobs and each vCPU's work count). How fast these guests converge or write is
 * measured by bench/claims.bench.ts (knobs), not here: it depends on the machine's load.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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

/** The pages of the guest RAM carried by a stream that are not all zero (the guest's RAM starts zeroed). */
function writtenPages(name: string): number[] {
  const dir = join(tmp.dir, `${name}-ram`);
  const r = spawnSync(process.execPath, [CLI, 'analyze', join(tmp.dir, `${name}.mig`), '--extract-ram', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ram = readFileSync(join(dir, 'pc.ram.bin'));
  const out: number[] = [];
  for (let p = 0; p < ram.length / 4096; p++) if (ram.subarray(p * 4096, (p + 1) * 4096).some((b) => b !== 0)) out.push(p);
  return out;
}

/** Pages each pass found dirty, from a `--telemetry` file (the first pass: every page). */
function dirtyPerPass(file: string): number[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { dirtyPages: number }).dirtyPages);
}

describe('livemig run: the workload knobs reach the workload', { timeout: 120_000 }, () => {
  test('--buffer: xbzrle-doc writes only its buffer; without it, the default buffer covers all RAM', async () => {
    // 8 MiB of zeroed RAM; three passes at most (a guest writing all RAM never converges: it is
    // forced then), whatever the machine's speed
    const parameters = { 'max-bandwidth': '0', 'link-bandwidth': '16', 'max-iterations': '3' };
    const telemetry = (name: string): string => join(tmp.dir, `${name}.jsonl`);
    const [small, whole] = await Promise.all([
      migrateToFile('buffer-256k', ['--ram', '8M', '--workload', 'xbzrle-doc', '--buffer', '256k', '--telemetry', telemetry('buffer-256k')], parameters),
      migrateToFile('buffer-default', ['--ram', '8M', '--workload', 'xbzrle-doc', '--telemetry', telemetry('buffer-default')], parameters),
    ]);
    for (const r of [small, whole]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.info.get('Migration status'), 'completed');
    }
    assert.equal(small.device.options['bufferBytes'], 256 * 1024);
    assert.equal(whole.device.options['bufferBytes'], 16 * 1024 * 1024, 'the default (cut to RAM by the guest)');
    // --buffer 256k: nothing past the buffer's 64 pages was ever written, and no pass after
    // the first found more than those 64 dirty
    const a = writtenPages('buffer-256k');
    assert.ok(a.every((p) => p < 64), `--buffer 256k: written pages ${a.join(', ')} lie in the first 64`);
    const smallDirty = dirtyPerPass(telemetry('buffer-256k')).slice(1);
    assert.ok(smallDirty.length > 0 && smallDirty.every((n) => n <= 64), `--buffer 256k: dirty pages per pass ${smallDirty.join(', ')}`);
    // the default buffer: the guest writes past those 64 pages (it sweeps all 2048 in well under
    // a pass of 8 MiB at 16 MiB/s)
    const wholeDirty = dirtyPerPass(telemetry('buffer-default')).slice(1);
    assert.ok(wholeDirty.some((n) => n > 64), `default buffer: dirty pages per pass ${wholeDirty.join(', ')}`);
    assert.ok(writtenPages('buffer-default').some((p) => p >= 64), 'and its RAM shows it');
  });

  test('every knob lands in the guest, and --rate paces it', async () => {
    const [mixed, video] = await Promise.all([
      migrateToFile(
        'mixed',
        ['--ram', '8M', '--workload', 'mixed', '--region', '6M', '--region-offset', '1M', '--buffer', '512k', '--hot-fraction', '0.25', '--hot-writes', '0.5', '--words-per-write', '8', '--frames', '4', '--motion', '0.2', '--rate', '20k'],
        { 'max-bandwidth': '0', 'max-iterations': '3' },
      ),
      migrateToFile('video', ['--ram', '8M', '--workload', 'video', '--frame-bytes', '64k', '--frames', '16', '--motion', '0.5'], { 'max-bandwidth': '0', 'max-iterations': '3' }),
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
    // at 20,000 writes/s the guest cannot have written more than that for as long as the process
    // lived (a bound a slow machine only loosens; unpaced, the guest writes hundreds of thousands a
    // second: bench/claims.bench.ts knobs; the pacing itself: test/evidence/workloads.test.ts)
    const written = mixed.device.vcpu[0]!.workDone;
    assert.ok(written > 0 && written <= (20_000 * mixed.elapsedMs) / 1000, `--rate 20k: ${written} writes in under ${Math.round(mixed.elapsedMs)} ms`);
    assert.ok(video.device.vcpu[0]!.workDone > 0, 'the unpaced guest ran');
  });
});
