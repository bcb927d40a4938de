/**
 * The progress bar: silent when the stream is not a terminal; on a (fake) terminal, lines
 * that name the pass, its percentage, bytes sent, dirty RAM, dirty rate and expected
 * downtime, fit the width, and end with a summary line once the migration completes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { attachProgressBar, passFraction, progressLine } from '../../src/cli/progress.js';
import type { ProgressState, ProgressStream } from '../../src/cli/progress.js';
import { migrateSmall, tempDir } from './helpers.js';

const tmp = tempDir('livemig-progress-');
after(tmp.remove);

class FakeStream implements ProgressStream {
  readonly chunks: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns = 120) {}
  write(chunk: string | Uint8Array, ...rest: unknown[]): boolean {
    this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** The lines a terminal would have shown: split at carriage returns and newlines, escapes removed. */
function screenLines(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '\r').split(/[\r\n]+/).map((l) => l.trimEnd()).filter(Boolean);
}

const STATE: ProgressState = {
  status: 'active', pass: 3, passPages: 1000, remainingPages: 250, transferredBytes: 12.5 * 1024 * 1024,
  dirtyBytesPerSecond: 2.5 * 1024 * 1024, expectedDowntimeMs: 240, totalTimeMs: 3000,
};

describe('progress bar', { timeout: 60_000 }, () => {
  test('prints nothing at all when the stream is not a terminal', async () => {
    const out = new FakeStream(false);
    let detach: (() => void) | undefined;
    await migrateSmall(join(tmp.dir, 'quiet.mig'), {}, (m) => (detach = attachProgressBar(m, out)));
    detach!();
    assert.equal(out.text, '');
  });

  test('draws pass, percentage, sent, dirty, dirty rate and expected downtime on a terminal, then a summary', async () => {
    const out = new FakeStream(true, 120);
    let detach: (() => void) | undefined;
    // 1 MiB of RAM that is not zero over a 1 MiB/s link: the first pass alone takes about a
    // second (the bar redraws every 200 ms), whatever the guest has written when it begins
    // (a 4 MiB guest that had written nothing yet sent 26 KiB of ZERO records in 96 ms), and
    // however fast deltas go after it
    const m = await migrateSmall(join(tmp.dir, 'tty.mig'), { ramBytes: 1024 * 1024, prefill: true, xbzrle: true, linkBytesPerSecond: 1024 * 1024 }, (mig) => (detach = attachProgressBar(mig, out)));
    detach!(); // already detached at completion: idempotent
    const lines = screenLines(out.text);
    assert.ok(lines.length >= 3, `only ${lines.length} redraws:\n${lines.join('\n')}`);
    for (const l of lines) assert.ok(l.length <= 120, `wider than the terminal: ${l}`);
    const live = lines.filter((l) => /^pass \d+ /.test(l));
    assert.ok(live.length > 0, `no live line in:\n${lines.join('\n')}`);
    for (const l of live) assert.match(l, /^pass \d+ ▕[█░]+▏ +\d+ % │ sent [\d.]+ [KMG]?i?B │ dirty [\d.]+ [KMG]?i?B │ dirtying [\d.]+ [KMG]?i?B\/s │ exp\. downtime [\d.]+ m?s$|^pass \d+ stop-and-copy ▕[█░]+▏ +\d+ % │ sent [\d.]+ [KMG]?i?B │ dirty [\d.]+ [KMG]?i?B │ guest paused [\d.]+ m?s │ exp\. downtime [\d.]+ m?s$/);
    for (const l of live) assert.doesNotMatch(l, /NaN|undefined|Infinity/);
    const percents = live.map((l) => Number(/(\d+) %/.exec(l)![1]));
    assert.ok(percents.every((p) => p >= 0 && p <= 100));
    const last = lines[lines.length - 1]!;
    assert.match(last, new RegExp(`^completed ▕█+▏ 100 % │ sent [\\d.]+ MiB │ in [\\d.]+ m?s │ downtime \\d+ ms \\(expected \\d+ ms\\)( \\(forced\\))? │ ${m.info().livemig!.pass} passes$`));
    assert.ok(out.text.endsWith('\n'), 'the summary line is ended');
    assert.equal(m.listenerCount('pass') + m.listenerCount('progress'), 0, 'detached from the migration');
  });

  test('progressLine: the bar and the fields fit narrow terminals; fields go before the pass and percentage', () => {
    assert.equal(passFraction(STATE), 0.75);
    const wide = progressLine(STATE, 140);
    assert.equal(wide, 'pass 3 ▕██████████████████░░░░░░▏  75 % │ sent 12.5 MiB │ dirty 1000 KiB │ dirtying 2.5 MiB/s │ exp. downtime 240 ms');
    for (const w of [100, 80, 60, 40, 20]) {
      const l = progressLine(STATE, w);
      assert.ok(l.length <= w, `${w}: ${l}`);
      assert.match(l, /^pass 3 .* 75 %/);
    }
    assert.match(progressLine({ ...STATE, status: 'device', pausedMs: 120 }, 140), /^pass 3 stop-and-copy ▕[█░]+▏  75 % │ sent 12\.5 MiB │ dirty 1000 KiB │ guest paused 120 ms │ exp\. downtime 240 ms$/);
    assert.equal(passFraction({ ...STATE, passPages: 0, remainingPages: 0 }), 1);
    assert.equal(passFraction({ ...STATE, passPages: 10, remainingPages: 20 }), 0);
    // a migration that did not complete gets no bar and no percentage
    assert.equal(progressLine({ ...STATE, status: 'failed' }, 140), 'failed in pass 3 │ sent 12.5 MiB │ after 3 s');
    assert.equal(progressLine({ ...STATE, status: 'cancelled', pass: 0, passPages: 0, remainingPages: 0, transferredBytes: 0, totalTimeMs: 4 }, 140), 'cancelled before the first pass │ sent 0 B │ after 4 ms');
    assert.equal(progressLine({ ...STATE, status: 'failed' }, 20), 'failed in pass 3');
    assert.equal(passFraction({ ...STATE, status: 'failed', passPages: 0, remainingPages: 0 }), 0);
  });

  test('a refused connection: the bar ends "failed before the first pass", never "100 %"', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r())); // nothing listens there now
    const guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 1024 * 1024 }]), workload: 'idle' });
    try {
      const src = new SourceManager(guest);
      const out = new FakeStream(true, 120);
      src.onMigration((m) => attachProgressBar(m, out));
      assert.equal(await src.migrate(`tcp:127.0.0.1:${port}`).done, 'failed');
      const lines = screenLines(out.text);
      assert.match(lines[lines.length - 1] ?? '', /^failed before the first pass │ sent 0 B │ after [\d.]+ m?s$/, out.text);
      assert.doesNotMatch(out.text, /100 %/);
      assert.ok(out.text.endsWith('\n'), 'the last line is ended');
    } finally {
      await guest.stop();
    }
  });
});
