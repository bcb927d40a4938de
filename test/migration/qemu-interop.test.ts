/**
 * livemig against a real QEMU 7.2 (TCG, a 16 MiB PC booting livemig's stride boot-sector guest
 * from a floppy), both ways:
 *
 * - QEMU `migrate tcp:` → `livemig incoming` live, with and without XBZRLE: the RAM livemig
 *   received (`--extract-ram`) is QEMU's own `pmemsave` of the paused source, byte for byte;
 * - the checkpoint (`--save`) loaded by a second QEMU (`-incoming defer`, `exec:cat`), which
 *   resumes: its COM1 markers go on, without a reboot, and the pattern holds;
 * - `livemig send` of the checkpoint to a QEMU waiting with `-incoming`: the same;
 * - a QEMU-shaped livemig stream (`machine-type`) loaded by QEMU: RAM equal;
 * - hostile and truncated streams from QEMU: livemig fails with the offset and what was wrong,
 *   within its bounds (--max-ram, --max-device-state), and a QEMU that sees the failure runs on.
 *
 * Everything waits for QMP events, COM1 bytes and livemig's JSON events, never for time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PASS_MARKER, START_MARKER, checkStridePattern } from '../../src/guest/pc/boot-images.js';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { SourceManager } from '../../src/migration/index.js';
import { CLI, startDestination, stopAll } from '../helpers/processes.js';
import type { Destination, Event } from '../helpers/processes.js';
import { requires } from '../helpers/requirements.js';
import { QEMU_MACHINE, Qemu, stopAllQemus } from '../helpers/qemu.js';

const RAM_MIB = 16;
const RAM_BYTES = RAM_MIB << 20;
const MIB = 1 << 20;

interface QemuBlock {
  idstr: string;
  'length-bytes': number;
  records: { zero: number; page: number; xbzrle: number };
  sha256?: string;
  file?: string;
}
interface QemuReceived {
  'machine-type': string;
  blocks: QemuBlock[];
  devices: { idstr: string; 'instance-id': number; 'version-id': number; 'length-bytes': number }[];
  'device-bytes': number;
  'vmdesc-bytes': number;
  checkpoint?: { file: string; bytes: number; 'zero-pages': number; 'normal-pages': number };
}

const incomingOf = (e: Event): { 'bytes-read': number; records: Record<string, number>; qemu: QemuReceived } =>
  e['incoming'] as { 'bytes-read': number; records: Record<string, number>; qemu: QemuReceived };

/**
 * QEMU's migration-test recipe: keep it from converging (1 ms downtime limit) until `passes`
 * dirty-log syncs (XBZRLE encodes from the third), then let it converge; resolves with
 * query-migrate once QEMU says completed (or failed), and whether it completed before
 * `passes` (a guest starved of CPU may dirty nothing between two syncs: QEMU then completes).
 */
async function qemuMigrate(src: Qemu, uri: string, o: { xbzrle?: boolean; passes?: number; expect?: 'completed' | 'failed' | 'ended' } = {}): Promise<Record<string, unknown> & { early?: boolean }> {
  await src.migrationCapabilities({ xbzrle: o.xbzrle === true });
  await src.qmp.ok('migrate-set-parameters', { 'max-bandwidth': 64 * MIB, 'downtime-limit': 1 });
  const from = src.qmp.messages.length;
  await src.qmp.ok('migrate', { uri });
  const end = src.qmp.waitFor((m) => m['event'] === 'MIGRATION' && ['completed', 'failed'].includes((m['data'] as { status: string }).status), 60_000, from);
  let early = false;
  if ((o.expect ?? 'completed') !== 'failed') {
    const wanted = o.passes ?? 2;
    const first = await src.qmp.waitFor((m) => (m['event'] === 'MIGRATION_PASS' && (m['data'] as { pass: number }).pass >= wanted) || (m['event'] === 'MIGRATION' && ['completed', 'failed'].includes((m['data'] as { status: string }).status)), 30_000, from);
    early = first['event'] === 'MIGRATION';
    if (!early) await src.qmp.ok('migrate-set-parameters', { 'max-bandwidth': 1024 * MIB, 'downtime-limit': 30_000 });
  }
  const status = ((await end)['data'] as { status: string }).status;
  // 'ended': either, as QEMU sees it (a destination that refuses near the end closes the
  // connection: QEMU says completed when it had written all before that, failed when not)
  if (o.expect === 'ended') assert.ok(status === 'completed' || status === 'failed', `QEMU's migration ${status}`);
  else assert.equal(status, o.expect ?? 'completed', `QEMU's migration ${status}; stderr: ${src.stderr.join('')}`);
  return { ...((await src.qmp.ok('query-migrate')) as Record<string, unknown>), early };
}

/** The 4 KiB pages at which two RAM images differ (the first 16, hex offsets, and how many), for a failure message. */
function differingPages(a: Buffer, b: Buffer): string {
  const out: string[] = [];
  let n = 0;
  for (let at = 0; at < Math.max(a.length, b.length); at += 4096) {
    if (a.subarray(at, at + 4096).equals(b.subarray(at, at + 4096))) continue;
    if (n++ < 16) out.push(`0x${at.toString(16)}`);
  }
  return `${n} (${out.join(' ')}); sizes ${a.length} and ${b.length}`;
}

/** A livemig destination on a free tcp port; resolves once it listens. */
async function livemigIncoming(args: string[]): Promise<{ dest: Destination; uri: string }> {
  const dest = startDestination('tcp:127.0.0.1:0', args);
  const listening = await dest.waitFor('listening');
  return { dest, uri: String(listening['uri']) };
}

/** The end of a destination (`--exit`): its completed or failed event and exit status. */
async function outcome(dest: Destination): Promise<{ event: Event; code: number | null }> {
  const code = await dest.exited;
  const event = dest.events.find((e) => e.event === 'completed' || e.event === 'failed');
  assert.ok(event, `no completed or failed event; stderr: ${dest.stderr.join('\n')}`);
  return { event, code };
}

describe('real QEMU 7.2 and livemig', requires.qemu(), () => {
  let dir = '';
  /** The XBZRLE run's checkpoint and the stride pattern's state in it. */
  let checkpoint = '';
  const figures: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'livemig-qemu-'));
  });
  after(() => {
    stopAll();
    stopAllQemus();
    if (figures.length > 0) console.log(`# figures\n${figures.map((f) => `#   ${f}`).join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  });

  test('hostile and truncated QEMU streams: livemig fails with the offset and what was wrong, within its bounds; QEMU runs on', async () => {
    const src = await Qemu.start({ dir, name: 'hostile', ramMiB: RAM_MIB, image: 'stride' });
    try {
      await src.waitMarkers(START_MARKER, 1);

      // RAM over --max-ram: refused at the block list, before anything is allocated
      let { dest, uri } = await livemigIncoming(['--max-ram', '8M']);
      await qemuMigrate(src, uri, { expect: 'failed' });
      let { event, code } = await outcome(dest);
      assert.equal(event.event, 'failed');
      assert.equal(code, 1);
      assert.match(String(event['error']), /^The stream advertises 17309696 bytes \(16\.5 MiB\) of RAM, over the limit of 8388608 bytes \(8 MiB\) \(--max-ram\) at stream offset 43$/);
      assert.equal((await src.qmp.ok('query-status') as { status: string }).status, 'running', 'QEMU saw the failure (a write error) and runs on');

      // cut short in the middle of RAM: a proxy passes 3 MiB of the stream, then ends it
      ({ dest, uri } = await livemigIncoming([]));
      const proxy = await cuttingProxy(uri, 3 * MIB);
      await qemuMigrate(src, proxy.uri, { expect: 'failed' });
      ({ event, code } = await outcome(dest));
      proxy.server.close();
      assert.equal(code, 1);
      const m = /^truncated (.+): need (\d+) bytes, the stream ends after (\d+) at stream offset (\d+)/.exec(String(event['error']));
      assert.ok(m, String(event['error']));
      assert.ok(Number(m[4]) <= 3 * MIB && Number(m[4]) + Number(m[3]) === 3 * MIB, `the offset names where the missing bytes start: ${String(event['error'])}`);
      assert.equal((await src.qmp.ok('query-status') as { status: string }).status, 'running');

      // device state over --max-device-state: the buffer stops at the bound, at the offset it names
      ({ dest, uri } = await livemigIncoming(['--max-device-state', '16K']));
      // QEMU 7.2 reads no reply: it says completed, or failed when the close came while it
      // still wrote (seen with two test suites on two cores)
      await qemuMigrate(src, uri, { passes: 1, expect: 'ended' });
      ({ event, code } = await outcome(dest));
      assert.equal(code, 1);
      const lim = /^device sections from stream offset (\d+) \(section \d+ 'timer'\) and the VM description after them are over the limit of 16384 bytes \(16 KiB\) buffered until the description arrives at stream offset (\d+)$/.exec(String(event['error']));
      assert.ok(lim, String(event['error']));
      assert.equal(Number(lim[2]), Number(lim[1]) + 16384);
      assert.ok(incomingOf(event)['bytes-read'] <= Number(lim[2]) + 1024 * 1024, 'read no further than one transport buffer past the bound');
      await src.qmp.ok('cont'); // out of postmigrate: the guest runs on
      const before = src.serial.length;
      await src.waitMarkers(PASS_MARKER, src.serial.filter((b) => b === PASS_MARKER).length + 3);
      assert.ok(src.serial.length > before);
    } finally {
      await src.quit();
    }
  });

  for (const xbzrle of [false, true]) {
    test(`QEMU → livemig incoming live over tcp${xbzrle ? ' with XBZRLE' : ''}: RAM equal to QEMU's pmemsave of the paused source, the VM kept as a checkpoint`, async () => {
      const name = xbzrle ? 'xbzrle' : 'plain';
      const save = join(dir, `${name}.ckpt`);
      const ramDir = join(dir, `${name}-ram`);
      const src = await Qemu.start({ dir, name, ramMiB: RAM_MIB, image: 'stride' });
      try {
        await src.waitMarkers(START_MARKER, 1);
        let dest: Destination;
        let qm: Record<string, unknown> & { early?: boolean };
        let t0: number;
        for (let attempt = 1; ; attempt++) {
          const d = await livemigIncoming(['--save', save, '--extract-ram', ramDir]);
          dest = d.dest;
          t0 = performance.now();
          qm = await qemuMigrate(src, d.uri, { xbzrle, passes: xbzrle ? 4 : 2 });
          // converged before XBZRLE had a pass to encode (the guest got no CPU between two syncs): again
          if (!(xbzrle && qm.early === true) || attempt === 3) break;
          await outcome(dest);
          await src.qmp.ok('cont');
        }
        const pmem = await src.pmemsave(RAM_BYTES, join(dir, `${name}.pmem`));
        const { event, code } = await outcome(dest);
        const receiveMs = performance.now() - t0;
        assert.equal(event.event, 'completed', String(event['error']));
        assert.equal(code, 0);
        const inc = incomingOf(event);
        const q = inc.qemu;
        const pcRam = q.blocks.find((b) => b.idstr === 'pc.ram')!;
        const received = Buffer.from(readFileSync(pcRam.file!));
        assert.ok(received.equals(pmem), `pc.ram as received is QEMU's pmemsave of the paused source; pages that differ: ${differingPages(received, pmem)} (${JSON.stringify(qm)})`);
        assert.ok(checkStridePattern(new Uint8Array(pmem), RAM_BYTES).ok);

        // what was received, as query-migrate / --json say it
        assert.equal(q['machine-type'], QEMU_MACHINE);
        assert.deepEqual(q.blocks.map((b) => b.idstr), ['pc.ram', '/rom@etc/acpi/tables', 'pc.bios', 'pc.rom', '/rom@etc/table-loader', '/rom@etc/acpi/rsdp']);
        const ram = qm['ram'] as { duplicate: number; normal: number; transferred: number };
        assert.equal(inc.records['zero'], ram.duplicate, 'zero pages: QEMU\'s duplicate');
        assert.equal(inc.records['page'], ram.normal, 'whole pages: QEMU\'s normal');
        if (xbzrle) {
          const x = qm['xbzrle-cache'] as { pages: number };
          assert.ok(inc.records['xbzrle']! > 0 && inc.records['xbzrle']! <= x.pages, `XBZRLE records ${inc.records['xbzrle']} (QEMU counts ${x.pages} hits, unchanged pages included)`);
        }
        assert.equal(q.devices.length, 31);
        assert.deepEqual(q.devices.slice(0, 3).map((d) => d.idstr), ['timer', 'cpu_common', 'cpu']);
        assert.equal(q['device-bytes'], q.devices.reduce((n, d) => n + d['length-bytes'], 0));
        assert.ok(q['vmdesc-bytes'] > 10_000);
        assert.ok(inc['bytes-read'] > ram.transferred, 'the stream: RAM, then device state and the description');

        // the checkpoint: every page once
        const pages = q.blocks.reduce((n, b) => n + b['length-bytes'] / 4096, 0);
        assert.equal(q.checkpoint!['zero-pages'] + q.checkpoint!['normal-pages'], pages);
        assert.equal(statSync(save).size, q.checkpoint!.bytes);
        assert.ok(q.checkpoint!.bytes < RAM_BYTES + 2 * MIB, `checkpoint of ${q.checkpoint!.bytes} bytes`);
        figures.push(`${xbzrle ? 'XBZRLE' : 'plain'}: stream ${inc['bytes-read']} bytes, checkpoint ${q.checkpoint!.bytes} bytes; migrate to completed+received ${Math.round(receiveMs)} ms`);
        if (xbzrle) checkpoint = save;
      } finally {
        await src.quit();
      }
    });
  }

  test('the checkpoint loaded by a second QEMU resumes: COM1 markers go on, no reboot, the pattern holds', async () => {
    assert.ok(checkpoint !== '', 'the XBZRLE run saved a checkpoint');
    const dst = await Qemu.start({ dir, name: 'load', ramMiB: RAM_MIB, image: 'stride', incoming: 'defer' });
    try {
      await dst.migrationCapabilities();
      const from = dst.qmp.messages.length;
      await dst.qmp.ok('migrate-incoming', { uri: `exec:cat ${checkpoint}` });
      await dst.migrationStatus('completed', 30_000, from);
      await dst.qmp.waitFor((m) => m['event'] === 'RESUME', 10_000, from);
      await dst.waitMarkers(PASS_MARKER, 20);
      assert.equal(dst.serial.filter((b) => b === START_MARKER).length, 0, 'no reboot: the guest never started over');
      await dst.qmp.ok('stop');
      const pmem = await dst.pmemsave(RAM_BYTES, join(dir, 'load.pmem'));
      const check = checkStridePattern(new Uint8Array(pmem), RAM_BYTES);
      assert.ok(check.ok, check.message);
    } finally {
      await dst.quit();
    }
  });

  test('livemig send of the checkpoint to a QEMU waiting with -incoming: it resumes the same way', async () => {
    assert.ok(checkpoint !== '');
    const sock = join(dir, 'send.sock');
    const dst = await Qemu.start({ dir, name: 'send', ramMiB: RAM_MIB, image: 'stride', incoming: 'defer' });
    try {
      await dst.migrationCapabilities();
      const from = dst.qmp.messages.length;
      await dst.qmp.ok('migrate-incoming', { uri: `unix:${sock}` });
      const t0 = performance.now();
      const sent = await runCli(['send', checkpoint, `unix:${sock}`, '--json']);
      assert.equal(sent.code, 0, sent.stderr);
      const done = sent.events.find((e) => e.event === 'completed')!;
      assert.equal((done['ram'] as { transferred: number }).transferred, statSync(checkpoint).size);
      assert.equal((done['send'] as { checked: string }).checked, 'whole');
      await dst.migrationStatus('completed', 30_000, from);
      figures.push(`send: ${statSync(checkpoint).size} bytes to QEMU completed in ${Math.round(performance.now() - t0)} ms (livemig send's process included)`);
      await dst.waitMarkers(PASS_MARKER, 20);
      assert.equal(dst.serial.filter((b) => b === START_MARKER).length, 0);
      await dst.qmp.ok('stop');
      const check = checkStridePattern(new Uint8Array(await dst.pmemsave(RAM_BYTES, join(dir, 'send.pmem'))), RAM_BYTES);
      assert.ok(check.ok, check.message);
    } finally {
      await dst.quit();
    }
  });

  test('a QEMU-shaped livemig stream (machine-type pc-i440fx-7.2) loads in QEMU: its RAM is the guest\'s', async () => {
    const sock = join(dir, 'envelope.sock');
    const dst = await Qemu.start({ dir, name: 'envelope', ramMiB: RAM_MIB, image: 'stride', incoming: 'defer', paused: true });
    const guest = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: RAM_BYTES }]), workload: 'stride' });
    const source = new SourceManager(guest);
    try {
      await dst.migrationCapabilities();
      const from = dst.qmp.messages.length;
      await dst.qmp.ok('migrate-incoming', { uri: `unix:${sock}` });
      source.setParameter('machine-type', QEMU_MACHINE);
      source.setCapability('xbzrle', true);
      const { migration, done } = source.migrate(`unix:${sock}`, { maxPasses: 3 });
      assert.equal(await done, 'completed', migration.error?.message);
      await dst.migrationStatus('completed', 30_000, from);
      const pmem = await dst.pmemsave(RAM_BYTES, join(dir, 'envelope.pmem'));
      const mine = guest.memory.block('pc.ram')!.bytes;
      // below the VGA hole and above the BIOS: guest-physical is pc.ram there (QEMU maps ROM and
      // VGA over 0xa0000..0xfffff until a BIOS shadows it)
      assert.ok(Buffer.from(pmem.subarray(0, 0xa0000)).equals(Buffer.from(mine.subarray(0, 0xa0000))));
      assert.ok(Buffer.from(pmem.subarray(0x100000)).equals(Buffer.from(mine.subarray(0x100000))));
    } finally {
      await guest.stop();
      await dst.quit();
    }
  });
});

/** Runs the livemig CLI to its end: exit status, JSON events, standard error. */
function runCli(args: string[]): Promise<{ code: number | null; events: Event[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Event[] = [];
    let stderr = '';
    createInterface({ input: p.stdout }).on('line', (l) => events.push(JSON.parse(l) as Event));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('close', (code) => resolve({ code, events, stderr }));
  });
}

/** A tcp proxy to `uri` that passes `limit` bytes of the first connection, then ends it (a stream cut short). */
async function cuttingProxy(uri: string, limit: number): Promise<{ server: Server; uri: string }> {
  const [, host, port] = /^tcp:(.+):(\d+)$/.exec(uri)!;
  const server = createServer((from: Socket) => {
    const to = connect(Number(port), host!);
    let passed = 0;
    from.on('data', (d: Buffer) => {
      if (passed >= limit) return;
      const part = d.subarray(0, limit - passed);
      passed += part.length;
      to.write(part);
      if (passed >= limit) {
        to.end(); // a clean end of stream, mid-record
        from.destroy(); // QEMU: a write error
      }
    });
    from.on('error', () => undefined);
    to.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as { port: number };
  return { server, uri: `tcp:127.0.0.1:${a.port}` };
}
