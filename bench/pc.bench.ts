/**
 * A real machine migrated: an x86 PC (v86) in this process, a `livemig incoming` process as
 * its destination, over loopback tcp with no rate limit, with XBZRLE and without. Guests:
 * livemig's stride boot-sector guest (byte 0 of every page of its RAM above 1 MiB
 * incremented, page after page: every page re-dirtied by one byte a pass), and the Linux
 * guest of `scripts/linux-guest.sh` when it has been built.
 *
 * For each run: total time, downtime (all of it: pause to the destination's confirmation)
 * and its net part (pause + sending what was left, QEMU's downtime), bytes on the wire, the
 * wire bytes of one re-dirtied page sent as a delta, and the guest's speed (v86 instructions
 * per second) during pre-copy against its speed alone, measured just before in the same run.
 *
 *   npm run build && node dist/bench/pc.bench.js [--ram 128M] [--cache 64M] [--runs 3] [--linux DIR]
 *     [--guest stride|linux] [--xbzrle on|off] [--guest-share 0.75]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PASS_MARKER, PcMachine, floppyImage, resolvePcOptions } from '../src/guest/index.js';
import { SourceManager, warmUpEngine } from '../src/migration/index.js';
import type { MigrationInfo } from '../src/migration/index.js';
import { parseSize } from '../src/monitor/index.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RAM = parseSize(arg('--ram') ?? '128M', '--ram');
const RUNS = Number(arg('--runs') ?? '3');
/** The XBZRLE cache (QEMU's default 64 MiB; a cache as large as what the guest rewrites keeps every page a delta). */
const CACHE = parseSize(arg('--cache') ?? '64M', '--cache');
const LINUX_DIR = arg('--linux') ?? process.env['LIVEMIG_LINUX_GUEST_DIR'] ?? join(process.env['HOME'] ?? '/root', '.cache/livemig/linux-guest');
/** How long the guest's speed alone is measured before each migration. */
const ALONE_MS = 1000;
/** Pre-copy longer than this is forced to switch over (said in the row). */
const MAX_TIME_MS = 30_000;
/** `--guest-share X`: the PC's share of the thread beside the engine (PcMachineOptions.guestShare). */
const GUEST_SHARE = arg('--guest-share') === undefined ? undefined : Number(arg('--guest-share'));
/** `--xbzrle on|off`: only that mode (default both). */
const XBZRLE_MODES = arg('--xbzrle') === 'on' ? [true] : arg('--xbzrle') === 'off' ? [false] : [true, false];

interface Row {
  guest: string;
  xbzrle: boolean;
  totalMs: number;
  downtimeMs: number;
  netDowntimeMs: number;
  parts: Record<string, number>;
  wireBytes: number;
  deltaBytesPerPage: number | null;
  speedAlone: number;
  speedDuring: number;
  forced: boolean;
}

function destination(): Promise<{ uri: string; done: Promise<Record<string, unknown>> }> {
  const p = spawn(process.execPath, [CLI, 'incoming', 'tcp:127.0.0.1:0', '--json', '--exit', '--monitor', 'none'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: p.stdout });
  return new Promise((resolveListen) => {
    let onDone!: (e: Record<string, unknown>) => void;
    const done = new Promise<Record<string, unknown>>((r) => (onDone = r));
    rl.on('line', (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (e['event'] === 'listening') resolveListen({ uri: String(e['uri']), done });
      else if (e['event'] === 'completed' || e['event'] === 'failed') onDone(e);
    });
  });
}

/** Builds the guest and resolves once it has run a while (markers, or the Linux counter). */
async function startGuest(guest: string): Promise<PcMachine> {
  let serial = '';
  let ready!: () => void;
  const booted = new Promise<void>((r) => (ready = r));
  const onByte = (b: number): void => {
    serial += String.fromCharCode(b);
    if (guest === 'stride' ? serial.split(String.fromCharCode(PASS_MARKER)).length > 4 : /livemig-counter 2\b/.test(serial)) ready();
  };
  let options;
  if (guest === 'stride') {
    options = { ramBytes: RAM, bootImage: { name: 'stride', floppy: floppyImage('stride') } };
  } else {
    const m = JSON.parse(readFileSync(join(LINUX_DIR, 'manifest.json'), 'utf8')) as { cmdline?: string; append?: string };
    options = { ramBytes: RAM, kernel: join(LINUX_DIR, 'bzImage'), initrd: join(LINUX_DIR, 'initrd.img'), append: m.cmdline ?? m.append ?? 'console=ttyS0' };
  }
  const { config, media } = resolvePcOptions(options);
  const pc = await PcMachine.create(config, media, { serial: onByte, ...(GUEST_SHARE !== undefined ? { guestShare: GUEST_SHARE } : {}) });
  await booted;
  return pc;
}

async function speed(pc: PcMachine, ms: number): Promise<number> {
  const w0 = pc.workDone();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((pc.workDone() - w0) * 1000) / (performance.now() - t0);
}

async function once(guest: string, xbzrle: boolean): Promise<Row> {
  const dst = await destination();
  const pc = await startGuest(guest);
  const speedAlone = await speed(pc, ALONE_MS);
  const source = new SourceManager(pc);
  source.capabilities.xbzrle = xbzrle;
  source.setParameter('max-bandwidth', 0);
  source.setParameter('xbzrle-cache-size', CACHE);
  // a guard: a guest whose estimate never fits the downtime limit would iterate for ever
  source.setParameter('max-time', MAX_TIME_MS);
  const { migration, done } = source.migrate(dst.uri);
  const status = await done;
  const result = await dst.done;
  if (status !== 'completed' || result['event'] !== 'completed') throw new Error(`${guest}: ${status} ${migration.error?.message ?? ''} / ${String(result['error'] ?? '')}`);
  const info: MigrationInfo = migration.info();
  const lm = info.livemig!;
  const parts = (lm['downtime-parts'] ?? {}) as Record<string, number>;
  await pc.stop();
  source.close();
  return {
    guest,
    xbzrle,
    totalMs: info['total-time'] ?? 0,
    downtimeMs: info.downtime ?? 0,
    netDowntimeMs: (parts['pause-ms'] ?? 0) + (parts['send-ms'] ?? 0),
    parts,
    wireBytes: info.ram?.transferred ?? 0,
    deltaBytesPerPage: lm['delta-records'] ? lm['delta-record-bytes']! / lm['delta-records'] : null,
    speedAlone,
    speedDuring: lm['guest-work-rate'] ?? 0,
    forced: migration.forced,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await warmUpEngine();
const only = arg('--guest');
const haveLinux = existsSync(join(LINUX_DIR, 'bzImage'));
const guests = ['stride', ...(haveLinux ? ['linux'] : [])].filter((g) => only === undefined || g === only);
if (!haveLinux && only !== 'stride') console.log(`(no Linux guest at ${LINUX_DIR}: build it with scripts/linux-guest.sh)`);
console.log(`PC (v86) ${RAM >> 20} MiB, XBZRLE cache ${CACHE >> 20} MiB, loopback tcp, no rate limit, ${RUNS} runs each, alternating with and without XBZRLE\n`);
const rows: Row[] = [];
for (const guest of guests) {
  for (let r = 0; r < RUNS; r++) {
    for (const xbzrle of XBZRLE_MODES) {
      const row = await once(guest, xbzrle);
      rows.push(row);
      console.log(`${guest} ${xbzrle ? 'xbzrle' : 'none  '} total ${row.totalMs} ms, downtime ${row.downtimeMs} ms (net ${Math.round(row.netDowntimeMs)}; ${Object.entries(row.parts).map(([k, v]) => `${k} ${v}`).join(', ')}), wire ${(row.wireBytes / 1048576).toFixed(1)} MiB${row.deltaBytesPerPage !== null ? `, ${row.deltaBytesPerPage.toFixed(1)} B per delta page` : ''}, guest speed ${(row.speedDuring / 1e6).toFixed(1)} / ${(row.speedAlone / 1e6).toFixed(1)} M instr/s alone (${((100 * row.speedDuring) / row.speedAlone).toFixed(0)} %)${row.forced ? `, FORCED after ${MAX_TIME_MS} ms` : ''}`);
    }
  }
}
console.log('\n| guest | XBZRLE | total ms | downtime ms | net downtime ms | wire MiB | B per delta page | guest speed during pre-copy |');
console.log('|---|---|--:|--:|--:|--:|--:|--:|');
for (const guest of guests) {
  for (const xbzrle of XBZRLE_MODES) {
    const rs = rows.filter((r) => r.guest === guest && r.xbzrle === xbzrle);
    const m = (f: (r: Row) => number): number => median(rs.map(f));
    const dpp = rs[0]!.deltaBytesPerPage === null ? '-' : m((r) => r.deltaBytesPerPage ?? 0).toFixed(1);
    console.log(`| ${guest} | ${xbzrle ? 'on' : 'off'} | ${m((r) => r.totalMs)} | ${m((r) => r.downtimeMs)} | ${Math.round(m((r) => r.netDowntimeMs))} | ${(m((r) => r.wireBytes) / 1048576).toFixed(1)} | ${dpp} | ${Math.round(m((r) => (100 * r.speedDuring) / r.speedAlone))} % |`);
  }
}
for (const guest of guests) {
  const on = rows.filter((r) => r.xbzrle && r.guest === guest);
  const off = rows.filter((r) => !r.xbzrle && r.guest === guest);
  const ratio = (f: (r: Row) => number): string => (median(on.map(f)) / median(off.map(f))).toFixed(2);
  if (on.length > 0 && off.length > 0) {
    console.log(`${guest === guests[0] ? '\n' : ''}${guest}, XBZRLE against without (medians): downtime ${ratio((r) => r.downtimeMs)}x, net downtime ${ratio((r) => r.netDowntimeMs)}x, wire bytes ${ratio((r) => r.wireBytes)}x, total time ${ratio((r) => r.totalMs)}x, guest speed during pre-copy ${ratio((r) => r.speedDuring / r.speedAlone)}x`);
  }
}
process.exit(0);
