/**
 * The human monitor through a pipe to a real `livemig run` / `livemig incoming` process:
 * every command with good and bad arguments; errors are one `Error: ` line and the monitor
 * goes on; no prompt when standard input is not a terminal.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, parseInfo } from '../helpers/processes.js';
import { DEFAULT_PARAMETERS } from '../../src/migration/index.js';
import { CAPABILITY_NAMES } from '../../src/monitor/index.js';
import { killAll, livemig } from './procs.js';
import type { Proc } from './procs.js';
import { requires } from '../helpers/requirements.js';

const dir = mkdtempSync(join(tmpdir(), 'livemig-hmp-'));
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Asserts one line starting with "Error: " that matches `re`. */
async function error(p: Proc, command: string, re: RegExp): Promise<void> {
  const out = await p.ask(command);
  assert.equal(out.length, 1, `${command}: ${out.join('\n')}`);
  assert.match(out[0]!, /^Error: /);
  assert.match(out[0]!, re, command);
}

async function silent(p: Proc, command: string): Promise<void> {
  assert.deepEqual(await p.ask(command), [], command);
}

describe('HMP through a pipe (livemig run)', { timeout: 120_000 }, () => {
  test('help, info, unknown commands and bad arguments; no prompt when piped', async () => {
    const p = livemig(['run', '--ram', '4M']);
    const help = await p.ask('help');
    for (const c of ['migrate [-d] [-x] uri', 'migrate_cancel', 'migrate_set_cachesize', 'migrate_set_speed', 'migrate_set_downtime', 'migrate_set_capability', 'migrate_set_parameter', 'info migrate', 'info migrate_capabilities', 'info migrate_parameters', 'info status', 'stop', 'cont', 'help', 'quit']) {
      assert.ok(help.some((l) => l.startsWith(c)), `help lists ${c}`);
    }
    assert.deepEqual((await p.ask('help migrate_cancel')).map((l) => l.split(' ')[0]), ['migrate_cancel']);
    assert.equal((await p.ask('? stop')).length, 1);
    await error(p, 'help frobnicate', /unknown command: 'frobnicate'/);
    await error(p, 'frobnicate now', /^Error: unknown command: 'frobnicate' \(try 'help'\)$/);
    await silent(p, '');
    await silent(p, '   ');
    assert.deepEqual(await p.ask('info'), ['info migrate', 'info migrate_capabilities', 'info migrate_parameters', 'info status']);
    await error(p, 'info frobnicate', /unknown info 'frobnicate'/);
    await error(p, 'info migrate now', /usage: info migrate\|/);
    await silent(p, 'info migrate'); // no migration yet: QEMU prints no status
    await error(p, 'migrate "exec:cat', /unterminated " quote/);
    await error(p, 'quit now', /quit takes no arguments/);
    assert.ok(p.out.every((l) => !l.includes('(livemig)')), 'no prompt on a pipe');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('settings: cache size, speed, downtime, capabilities, parameters, with their errors', async () => {
    const p = livemig(['run', '--ram', '4M']);
    const params = async () => parseInfo(await p.ask('info migrate_parameters'));
    const caps = async () => parseInfo(await p.ask('info migrate_capabilities'));
    const units: Record<string, string> = { 'xbzrle-cache-size': ' bytes', 'max-bandwidth': ' bytes/second', 'link-bandwidth': ' bytes/second', 'downtime-limit': ' ms', 'max-time': ' ms', 'read-timeout': ' ms', 'write-timeout': ' ms' };
    assert.deepEqual(Object.fromEntries(await params()), Object.fromEntries(Object.entries(DEFAULT_PARAMETERS).map(([k, v]) => [k, `${v}${units[k] ?? ''}`])));
    assert.equal((await params()).get('xbzrle-cache-size'), '67108864 bytes', "QEMU's default and unit");
    assert.equal((await params()).get('max-bandwidth'), '134217728 bytes/second');
    assert.equal((await params()).get('downtime-limit'), '300 ms');
    const capsOff = Object.fromEntries(CAPABILITY_NAMES.map((c) => [c, 'off']));
    assert.deepEqual(Object.fromEntries(await caps()), capsOff);
    assert.deepEqual([...(await caps()).keys()].slice(0, 3), ['xbzrle', 'xbrle', 'events']);
    await silent(p, 'migrate_set_cachesize 4m');
    assert.equal((await params()).get('xbzrle-cache-size'), '4194304 bytes');
    // QEMU's HMP: MiB when no suffix is given (the xbzrle-cache-size parameter stays in bytes)
    await silent(p, 'migrate_set_cachesize 64');
    assert.equal((await params()).get('xbzrle-cache-size'), '67108864 bytes');
    await silent(p, 'migrate_set_cachesize 8192b');
    assert.equal((await params()).get('xbzrle-cache-size'), '8192 bytes');
    await error(p, 'migrate_set_cachesize 3x', /^Error: invalid cache size '3x': expected a number with an optional k, m, g or t suffix/);
    await error(p, 'migrate_set_cachesize 3000', /power of two no less than the target page size/);
    await error(p, 'migrate_set_cachesize', /usage: migrate_set_cachesize size/);
    await error(p, 'migrate_set_cachesize 1m 2m', /usage: migrate_set_cachesize size/);

    await silent(p, 'migrate_set_speed 2m');
    assert.equal((await params()).get('max-bandwidth'), '2097152 bytes/second');
    await silent(p, 'migrate_set_speed 1000b');
    assert.equal((await params()).get('max-bandwidth'), '1000 bytes/second');
    await silent(p, 'migrate_set_speed 100'); // QEMU's HMP: MiB/s when no suffix is given
    assert.equal((await params()).get('max-bandwidth'), '104857600 bytes/second');
    await silent(p, 'migrate_set_speed 0.5');
    assert.equal((await params()).get('max-bandwidth'), '524288 bytes/second');
    await silent(p, 'migrate_set_speed 0');
    assert.equal((await params()).get('max-bandwidth'), '0 bytes/second');
    await error(p, 'migrate_set_speed fast', /invalid speed 'fast'/);
    await error(p, 'migrate_set_speed -1', /invalid speed '-1'/);

    await silent(p, 'migrate_set_downtime 0.5');
    assert.equal((await params()).get('downtime-limit'), '500 ms');
    await silent(p, 'migrate_set_downtime 40ms');
    assert.equal((await params()).get('downtime-limit'), '40 ms');
    await error(p, 'migrate_set_downtime abc', /^Error: invalid downtime 'abc': expected seconds/);
    await error(p, 'migrate_set_downtime 3000', /downtime_limit' expects an integer in the range of 0 to \(2000 \* 1000\) ms/);

    await silent(p, 'migrate_set_capability xbzrle on');
    assert.deepEqual(Object.fromEntries(await caps()), { ...capsOff, xbzrle: 'on' });
    await silent(p, 'migrate_set_capability xbrle on');
    assert.deepEqual(Object.fromEntries(await caps()), { ...capsOff, xbrle: 'on' });
    assert.equal((await params()).get('delta-codec'), 'xbrle');
    await silent(p, 'migrate_set_capability xbrle off');
    assert.deepEqual(Object.fromEntries(await caps()), capsOff);
    await silent(p, 'migrate_set_capability xbrle on');
    await silent(p, 'migrate_set_capability xbzrle off'); // delta compression off, whichever codec
    assert.deepEqual(Object.fromEntries(await caps()), capsOff);
    await silent(p, 'migrate_set_capability events on');
    assert.equal((await caps()).get('events'), 'on');
    await silent(p, 'migrate_set_capability events off');
    for (const c of CAPABILITY_NAMES.filter((n) => !['xbzrle', 'xbrle', 'events'].includes(n))) {
      await silent(p, `migrate_set_capability ${c} on`);
      assert.equal((await caps()).get(c), 'on', c);
      await silent(p, `migrate_set_capability ${c} off`);
    }
    assert.deepEqual(Object.fromEntries(await caps()), capsOff);
    await silent(p, 'migrate_set_capability multifd off'); // QEMU's, not livemig's: off is fine
    await error(p, 'migrate_set_capability multifd on', /capability 'multifd' is not supported by livemig/);
    await error(p, 'migrate_set_capability frobnicate on', /unknown capability 'frobnicate' \(known: xbzrle, xbrle, events/);
    await error(p, 'migrate_set_capability xbzrle maybe', /invalid state of xbzrle 'maybe': expected on or off/);
    await error(p, 'migrate_set_capability xbzrle', /usage: migrate_set_capability name on\|off/);

    const set: [string, string, string][] = [
      ['xbzrle-cache-size 8M', 'xbzrle-cache-size', '8388608 bytes'],
      ['xbzrle_cache_size 16m', 'xbzrle-cache-size', '16777216 bytes'],
      ['max-bandwidth 10', 'max-bandwidth', '10485760 bytes/second'],
      ['max-bandwidth 512k', 'max-bandwidth', '524288 bytes/second'],
      ['downtime-limit 100', 'downtime-limit', '100 ms'],
      ['cache-ways 1', 'cache-ways', '1'],
      ['delta-codec xbzrle', 'delta-codec', 'xbzrle'],
      ['link-bandwidth 4', 'link-bandwidth', '4194304 bytes/second'],
      ['max-iterations 5', 'max-iterations', '5'],
      ['max-time 1000', 'max-time', '1000 ms'],
      ['stall-policy cancel', 'stall-policy', 'cancel'],
      ['cpu-throttle-initial 30', 'cpu-throttle-initial', '30'],
    ];
    for (const [args, name, shown] of set) {
      await silent(p, `migrate_set_parameter ${args}`);
      assert.equal((await params()).get(name), shown, args);
    }
    const bad: [string, RegExp][] = [
      ['frobnicate 1', /unknown parameter 'frobnicate' \(known: xbzrle-cache-size, max-bandwidth, downtime-limit, cache-ways/],
      ['cache-ways 0', /cache-ways' expects a whole number from 1 to 64, got 0/],
      ['cache-ways two', /invalid cache-ways 'two': expected a whole number/],
      ['delta-codec gzip', /delta-codec' expects xbzrle or xbrle, got gzip/],
      ['stall-policy wait', /stall-policy' expects force or cancel, got wait/],
      ['downtime-limit 1.5', /invalid downtime-limit '1.5': expected a whole number/],
      ['xbzrle-cache-size 5000', /power of two/],
      ['max-bandwidth 3x', /invalid max-bandwidth '3x'/],
      ['max-time', /usage: migrate_set_parameter name value/],
      ['cpu-throttle-initial 0', /cpu_throttle_initial' expects an integer in the range of 1 to 99/],
    ];
    for (const [args, re] of bad) await error(p, `migrate_set_parameter ${args}`, re);
    assert.equal((await params()).get('cache-ways'), '1', 'failed commands changed nothing');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('stop, cont and info status', async () => {
    const p = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    await silent(p, '');
    assert.deepEqual(p.out.at(-1), 'VM status: running');
    await silent(p, 'stop');
    assert.deepEqual(p.out.at(-1), 'VM status: paused');
    await silent(p, 'stop'); // stopping a paused guest is harmless
    await silent(p, 'cont');
    assert.deepEqual(p.out.at(-1), 'VM status: running');
    await silent(p, 'c');
    await error(p, 'stop now', /stop takes no arguments/);
    await error(p, 'cont 1', /cont takes no arguments/);
    p.send('q');
    assert.equal(await p.exited, 0);
  });

  test('migrate "exec:cat > FILE" (quoted), then info migrate with the digest, postmigrate, bad URIs and flags', async () => {
    const file = join(dir, 'guest ram.mig'); // a space: the quotes must keep it
    const p = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    await silent(p, 'migrate_cancel'); // idle: harmless, as in QEMU
    assert.deepEqual(await p.ask(`migrate -x "exec:cat > '${file}'"`), ['Migration status: completed']);
    assert.ok(statSync(file).size > 0);
    const info = parseInfo(await p.ask('info migrate'));
    assert.equal(info.get('Migration status'), 'completed');
    assert.match(info.get('total time') ?? '', /^\d+ ms$/);
    assert.match(info.get('downtime') ?? '', /^\d+ ms$/);
    assert.match(info.get('transferred ram') ?? '', /^\d+ kbytes$/);
    assert.match(info.get('ram digest (page128)') ?? '', /^[0-9a-f]{32}$/);
    assert.ok(info.has('xbzrle pages') && info.has('cache-miss ram-xbrle'), '-x turned delta compression on');
    assert.equal(p.out.at(-1), 'VM status: paused (postmigrate)');
    await silent(p, 'migrate_cancel'); // after the end: harmless
    await silent(p, 'cont');
    assert.equal(p.out.at(-1), 'VM status: running');

    await error(p, 'migrate', /usage: migrate \[-d\] \[-x\] uri/);
    await error(p, 'migrate a b', /usage: migrate/);
    await error(p, 'migrate -z tcp:127.0.0.1:1', /migrate: unknown option '-z' \(options: -d, -x\)/);
    await error(p, 'migrate -b tcp:127.0.0.1:1', /-b .* is not supported by livemig/);
    await error(p, 'migrate ftp://host/x', /Parameter 'uri' expects a valid migration protocol/);
    await error(p, 'migrate tcp:127.0.0.1:99999', /port must be a whole number/);
    assert.equal(parseInfo(await p.ask('info migrate')).get('Migration status'), 'completed', 'a refused URI starts no migration');
    await error(p, 'migrate unix:/nonexistent/livemig.sock', /^Error: migration failed: /);
    assert.match(parseInfo(await p.ask('info migrate')).get('Migration status') ?? '', /^failed \(.+\)$/);
    assert.equal(p.out.at(-1), 'VM status: running', 'a failed migration leaves the guest running');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('migrate -d, then migrate again, set a capability, change cache-ways, cancel: errors and the cancelled line', async () => {
    const p = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    await silent(p, 'migrate_set_speed 64k'); // 4 MiB of stride pages take a minute at 64 KiB/s
    await silent(p, 'migrate -d "exec:cat > /dev/null"');
    assert.match(parseInfo(await p.ask('info migrate')).get('Migration status') ?? '', /^(setup|active)$/, 'the detached migration runs');
    await error(p, 'migrate -d "exec:cat > /dev/null"', /^Error: There's a migration process in progress$/);
    await error(p, 'migrate_set_capability xbzrle on', /^Error: There's a migration process in progress$/);
    await error(p, 'migrate_set_cachesize 1m 1m', /usage/);
    await error(p, 'migrate_set_parameter cache-ways 1', /'cache-ways' cannot change while a migration is running/);
    await silent(p, 'migrate_set_speed 128k'); // bandwidth may change during a migration
    await silent(p, 'migrate_set_downtime 0.1');
    const from = p.out.length;
    p.send('migrate_cancel'); // prints nothing itself; the detached migration's outcome line follows
    await p.waitLine(/^Migration status: cancelled$/, 'out', from);
    assert.deepEqual(p.out.slice(from), ['Migration status: cancelled']);
    assert.equal(parseInfo(await p.ask('info migrate')).get('Migration status'), 'cancelled');
    assert.equal(p.out.at(-1), 'VM status: running');
    await silent(p, 'migrate_cancel');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('end of input waits for a detached migration, prints its outcome, exits 0', async () => {
    const p = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    p.send('migrate_set_speed 1m');
    p.send('migrate_set_parameter max-time 1000'); // converged or, at the latest, forced after 1 s: it completes either way
    p.send('migrate -d "exec:cat > /dev/null"');
    p.proc.stdin.end();
    assert.equal(await p.exited, 0);
    assert.deepEqual(p.out, ['Migration status: completed']);
  });

  test('end of input with nothing running exits at once; quit during a migration cancels it and exits 0', async () => {
    const a = livemig(['run', '--ram', '4M']);
    a.proc.stdin.end('info status\n');
    assert.equal(await a.exited, 0);
    assert.deepEqual(a.out, ['VM status: running']);
    const b = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    await silent(b, 'migrate_set_speed 64k');
    await silent(b, 'migrate -d "exec:cat > /dev/null"');
    b.send('quit');
    assert.equal(await b.exited, 0);
  });

  test('on a terminal: the banner and a "(livemig) " prompt before each command (through script(1))', requires.script(), async () => {
    const proc = spawn('script', ['-qec', `'${process.execPath}' '${CLI}' run --ram 4M`, '/dev/null'], { stdio: 'pipe' });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    // type after the prompt is up: the terminal echoes what it is given
    for (let i = 0; i < 400 && !out.includes('(livemig) '); i++) await new Promise((r) => setTimeout(r, 25));
    proc.stdin.write('info status\n');
    for (let i = 0; i < 400 && !/VM status: running\r?\n\(livemig\) $/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    proc.stdin.write('quit\n');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') proc.kill('SIGKILL');
    assert.equal(code, 0, out);
    const text = out.replace(/\r\n/g, '\n');
    assert.match(text, /^livemig \S+ monitor - type 'help' for more information\n\(livemig\) info status\nVM status: running\n\(livemig\) quit\n/);
  });

  test('a command line over 64 KiB is refused and the monitor goes on', async () => {
    const p = livemig(['run', '--ram', '4M']);
    await error(p, `migrate_set_cachesize ${'9'.repeat(200 * 1024)}`, /^Error: command line longer than 65536 bytes \(ignored\)$/);
    await silent(p, 'migrate_set_cachesize 8m');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('bad command-line options are errors naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['run', '--monitor', 'tty'], /^livemig: --monitor: invalid address 'tty': unknown kind; expected stdio, none, unix:PATH, tcp:HOST:PORT$/],
      [['run', '--qmp', 'stdio'], /^livemig: --qmp: invalid address 'stdio': stdio is not possible here/],
      [['run', '--qmp', 'unix:/tmp/x,telnet'], /^livemig: --qmp: invalid address 'unix:\/tmp\/x,telnet': unknown option 'telnet'/],
      [['run', '--ram', '3x'], /--ram/],
      [['incoming', 'tcp:127.0.0.1:0', '--monitor', 'tcp:nohost'], /^livemig: --monitor: invalid address 'tcp:nohost'/],
      [['run', '--monitor', 'none', '--qmp', `unix:${dir}`], new RegExp(`^livemig: --qmp unix:${dir}: ${dir} exists and is not a socket; not replacing it$`)],
    ];
    await Promise.all(cases.map(async ([args, re]) => {
      const p = livemig(args);
      const code = await p.exited;
      assert.notEqual(code, 0, args.join(' '));
      assert.ok(p.err.some((l) => re.test(l)), `${args.join(' ')}: ${p.err.join('\n')}`);
    }));
  });
});

describe('HMP through a pipe (livemig incoming)', { timeout: 60_000 }, () => {
  test('a waiting destination: status, refused source commands, quit exits at once', async () => {
    const p = livemig(['incoming', 'tcp:127.0.0.1:0', '--monitor', 'stdio']);
    await p.waitLine(/waiting for a migration on tcp:127\.0\.0\.1:\d+/, 'err');
    assert.deepEqual(await p.ask('info migrate'), ['Migration status: none (waiting for an incoming migration)']);
    assert.equal(p.out.at(-1), 'VM status: paused (inmigrate)');
    await error(p, 'migrate tcp:127.0.0.1:1', /this is a destination/);
    await error(p, 'migrate_set_capability xbzrle on', /this is a destination/);
    await error(p, 'migrate_set_parameter max-bandwidth 1', /this is a destination/);
    await error(p, 'info migrate_parameters', /this is a destination/);
    await error(p, 'stop', /no guest is running here yet/);
    await error(p, 'cont', /no guest is running here yet/);
    await silent(p, 'migrate_cancel');
    p.send('quit');
    assert.equal(await p.exited, 0);
  });

  test('after a migration: the incoming status, received pages, the digest; the guest runs', async () => {
    const file = join(dir, 'for-incoming.mig');
    const src = livemig(['run', '--ram', '4M', '--workload', 'stride']);
    assert.deepEqual(await src.ask(`migrate "exec:cat > ${file}"`), ['Migration status: completed']);
    const digest = parseInfo(await src.ask('info migrate')).get('ram digest (page128)');
    src.send('quit');
    const p = livemig(['incoming', `file:${file}`, '--monitor', 'stdio']);
    await p.waitLine(/^ram digest \(page128\): /, 'err'); // printed when the load completed
    const info = parseInfo(await p.ask('info migrate'));
    assert.equal(info.get('Migration status'), 'completed');
    assert.equal(info.get('ram digest (page128)'), digest);
    assert.equal(info.get('source ram digest (page128)'), digest);
    assert.match(info.get('received pages') ?? '', /^normal \d+, zero \d+, xbzrle 0, xbrle 0$/);
    assert.match(info.get('stride check') ?? '', /^ok \(/);
    assert.equal(p.out.at(-1), 'VM status: running');
    await silent(p, 'stop');
    assert.equal(p.out.at(-1), 'VM status: paused');
    p.proc.stdin.end();
    assert.equal(await p.exited, 0);
    assert.ok(existsSync(file));
  });
});
