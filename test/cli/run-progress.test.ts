/**
 * The progress bar of `livemig run` against the stdio monitor's prompt. In process: a session
 * at its prompt puts a detached migration's outcome on a line of its own and shows the prompt
 * again, and tells when a `migrate` without -d runs. On a real terminal (script(1)): a
 * `migrate -d` draws no bar (the prompt is there; `info migrate` shows progress), a `migrate`
 * that waits draws one that ends before its outcome line and the next prompt, and
 * `--progress off` draws none.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { Machine, PROMPT, runHmpSession } from '../../src/monitor/index.js';
import { isForegroundMigrate } from '../../src/monitor/hmp-session.js';
import { CLI } from '../helpers/processes.js';
import { requires } from '../helpers/requirements.js';

const killed: (() => void)[] = [];
after(() => {
  for (const k of killed) k();
});

/** Collects a stream's text; `until(re)` resolves once the text from `from` on matches. */
class Collector {
  text = '';
  private waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
  add(s: string): void {
    this.text += s;
    this.waiters = this.waiters.filter((w) => (w.re.test(this.text.slice(w.from)) ? (w.resolve(), false) : true));
  }
  until(re: RegExp, from = 0, ms = 30_000): Promise<void> {
    if (re.test(this.text.slice(from))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms in:\n${JSON.stringify(this.text.slice(from))}`)), ms);
      this.waiters.push({ re, from, resolve: () => (clearTimeout(t), resolve()) });
    });
  }
}

/** What a terminal would have shown, line by line: escapes and carriage returns split lines. */
function screenLines(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '\r').split(/[\r\n]+/).map((l) => l.trimEnd()).filter(Boolean);
}

test('isForegroundMigrate: migrate without -d, as Hmp reads its flags', () => {
  for (const l of ['migrate tcp:h:1', 'migrate -x tcp:h:1', '  migrate "exec:cat > /dev/null"', 'migrate tcp:h:1 -d']) assert.equal(isForegroundMigrate(l), true, l);
  for (const l of ['migrate -d tcp:h:1', 'migrate -xd tcp:h:1', 'migrate -x -d tcp:h:1', 'migrate_cancel', 'info migrate', 'migrate "unterminated', '']) assert.equal(isForegroundMigrate(l), false, l);
});

describe('the stdio monitor session, in process', { timeout: 60_000 }, () => {
  test('at the prompt, a detached migration\'s outcome gets a line of its own and the prompt again; onForegroundMigrate brackets a waiting migrate only', async () => {
    const guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * 1024 * 1024 }]), workload: 'stride' });
    const source = new SourceManager(guest);
    const machine = new Machine({ source });
    const input = new PassThrough();
    const output = new PassThrough();
    const out = new Collector();
    output.on('data', (d: Buffer) => out.add(d.toString()));
    const told: boolean[] = [];
    const session = runHmpSession(machine, input, output, { prompt: true, stopped: () => false, onForegroundMigrate: (r) => told.push(r) });
    try {
      await out.until(/\(livemig\) $/);
      let from = out.text.length;
      input.write('migrate_set_speed 64k\n'); // 4 MiB of stride pages take a minute at 64 KiB/s
      await out.until(/^\(livemig\) $/, from);
      from = out.text.length;
      input.write('migrate -d "exec:cat > /dev/null"\n');
      await out.until(/^\(livemig\) $/, from);
      assert.deepEqual(told, [], 'migrate -d keeps the prompt: no foreground migration');
      from = out.text.length;
      machine.cancel(); // as another monitor would: the session is at its prompt
      await out.until(/Migration status: cancelled/, from);
      await out.until(/\(livemig\) $/, from);
      assert.equal(out.text.slice(from), `\nMigration status: cancelled\n${PROMPT}`);

      from = out.text.length;
      input.write('migrate_set_speed 0\n');
      input.write('migrate_set_parameter max-time 500\n');
      await out.until(/^\(livemig\) \(livemig\) $/, from);
      from = out.text.length;
      input.write('migrate "exec:cat > /dev/null"\n');
      await out.until(/^Migration status: completed\n\(livemig\) $/, from);
      assert.deepEqual(told, [true, false]);
    } finally {
      input.end();
      await session;
      source.cancel();
      machine.close();
      await guest.stop();
    }
  });
});

/** `livemig run ARGS` on a pseudo-terminal (script(1)): its whole output as the terminal got it. */
function onTerminal(args: readonly string[]): { out: Collector; type: (line: string) => void; ask: (line: string) => Promise<string>; exited: Promise<number | null> } {
  const quoted = [process.execPath, CLI, 'run', ...args].map((a) => `'${a}'`).join(' ');
  const proc = spawn('script', ['-qec', quoted, '/dev/null'], { stdio: 'pipe' });
  killed.push(() => proc.kill('SIGKILL'));
  const out = new Collector();
  proc.stdout.on('data', (d: Buffer) => out.add(d.toString()));
  const type = (line: string): void => void proc.stdin.write(line + '\n');
  // one command at a time: typed once the prompt is up, answered when the next one is
  const ask = async (line: string): Promise<string> => {
    const from = out.text.length;
    type(line);
    await out.until(/\(livemig\) $/, from);
    return out.text.slice(from);
  };
  return { out, type, ask, exited: new Promise((r) => proc.on('exit', r)) };
}

const BAR = /▕|\d %( │|$)/m;

describe('livemig run on a terminal', { ...requires.script(), timeout: 120_000 }, () => {
  test('migrate -d draws no bar at the prompt; a migrate that waits draws one, ended before its outcome line and the next prompt', async () => {
    const t = onTerminal(['--ram', '4M', '--workload', 'stride']);
    await t.out.until(/\(livemig\) $/);
    await t.ask('migrate_set_speed 64k'); // 4 MiB of stride pages take a minute at 64 KiB/s
    await t.ask('migrate -d "exec:cat > /dev/null"');
    // a bar, had one been attached, would have drawn as the migration started
    for (let i = 0; !/Migration status: active/.test(await t.ask('info migrate')); i++) assert.ok(i < 1000, 'the detached migration runs');
    assert.doesNotMatch(t.out.text, BAR, 'no bar during migrate -d');
    assert.match(await t.ask('migrate_cancel'), /Migration status: cancelled\r?\n\(livemig\) $/);
    assert.doesNotMatch(t.out.text, BAR);

    await t.ask('migrate_set_speed 1m');
    // against a 1 ms limit a stride guest never converges (its 4 MiB would fit a 300 ms one at
    // the unthrottled final stage's rate, at once): a forced switchover after 1 s, a bar before
    await t.ask('migrate_set_parameter downtime-limit 1');
    await t.ask('migrate_set_parameter max-time 1000');
    const from = t.out.text.length;
    assert.match(await t.ask('migrate "exec:cat > /dev/null"'), /Migration status: completed\r?\n\(livemig\) $/);
    const lines = screenLines(t.out.text.slice(from));
    const bar = lines.findIndex((l) => /^pass \d+ ▕/.test(l));
    const done = lines.findIndex((l) => /^completed ▕█+▏ 100 % │/.test(l));
    const outcome = lines.indexOf('Migration status: completed');
    assert.ok(bar >= 0, `a live bar line in:\n${lines.join('\n')}`);
    assert.ok(done > bar && outcome === done + 1, `the bar's last line, then the outcome:\n${lines.join('\n')}`);
    assert.equal(lines[outcome + 1], '(livemig)', 'then the prompt, on a line of its own');
    assert.ok(lines.slice(bar, done).every((l) => !l.includes('(livemig)')), 'no prompt while the bar is drawn');
    t.type('quit');
    assert.equal(await t.exited, 0);
  });

  test('--progress off: a migrate that waits draws no bar', async () => {
    const t = onTerminal(['--ram', '4M', '--workload', 'stride', '--progress', 'off']);
    await t.out.until(/\(livemig\) $/);
    await t.ask('migrate_set_speed 1m');
    await t.ask('migrate_set_parameter downtime-limit 1'); // no convergence: 500 ms in which a bar would draw
    await t.ask('migrate_set_parameter max-time 500');
    assert.match(await t.ask('migrate "exec:cat > /dev/null"'), /Migration status: completed\r?\n\(livemig\) $/);
    assert.doesNotMatch(t.out.text, BAR);
    t.type('quit');
    assert.equal(await t.exited, 0);
  });
});

test('--progress takes auto or off; anything else is a usage error naming the flag', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--progress', 'sometimes', '--monitor', 'none'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--progress must be one of auto, off, got 'sometimes'/);
  const help = spawnSync(process.execPath, [CLI, 'run', '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /--progress <when>/);
});
