/**
 * The destination side of one benchmark run, in its own process (with --netns, in the
 * destination's network namespace):
 *
 *   node destination-child.js <listen URI> <RAM bytes> <warm-up ms> <measure ms>
 *
 * Prepares the guest's RAM first, as `livemig incoming --ram` (and a QEMU destination started
 * with `-m`) has it: zero, every page touched (first touches cost ~14 µs a page on some virtual
 * machines, which would be counted as migration time otherwise), and known to be zero, so that
 * a ZERO record for a page nothing wrote costs nothing. The loader's hot paths are compiled
 * before the stream arrives, as the command does. Prints `{ "event": "listening", "uri" }`, receives one
 * migration, waits for the resumed guest's first write, lets it run `warm-up ms` (its worker's
 * code is compiled afresh, as on the source before its measurement) and measures its work rate for `measure ms`,
 * and prints `{ "event": "done", ... }`: status, the receiver's CPU time, the guest's first
 * write time and the downtime it saw, its work rate, the RAM digest.
 */
import { Guest, GuestMemory } from '../../guest/index.js';
import { IO_AREA_BYTES, IncomingMigration, warmUpEngine } from '../../migration/index.js';
import { listenIncoming } from '../../transport/index.js';

const FIRST_STEP_TIMEOUT_MS = 3000;

async function main(): Promise<void> {
  const [listen, ramText, warmupText, measureText, vcpusText] = process.argv.slice(2);
  const vcpus = Number(vcpusText ?? 1);
  const ramBytes = Number(ramText);
  const warmupMs = Number(warmupText);
  const afterMs = Number(measureText);
  // as `livemig incoming --ram` allocates it (with the I/O area its reader's buffers live in)
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: ramBytes }], { ioBytes: IO_AREA_BYTES });
  for (const b of memory.blocks) b.bytes.fill(0);
  const incoming = new IncomingMigration({ memory, memoryIsZero: true, maxRamBytes: ramBytes });
  // as `livemig incoming`: compiled, and the vCPU thread up, before it listens
  await Promise.all([warmUpEngine(), incoming.startEarly()]);
  const resumeMs = await vcpuStartMs(vcpus);
  const listener = await listenIncoming(listen!, { pooledReads: true }); // as `livemig incoming` reads
  say({ event: 'listening', uri: listener.address });
  let status: string;
  let cpuMs: number;
  try {
    const channel = await listener.accept({ timeoutMs: 60_000 });
    const cpu0 = process.cpuUsage();
    status = await incoming.run(channel);
    const cpu = process.cpuUsage(cpu0);
    cpuMs = (cpu.user + cpu.system) / 1000;
  } finally {
    await listener.close();
  }
  const guest = incoming.guest as Guest | undefined;
  const out: Record<string, unknown> = { event: 'done', status, error: incoming.error?.message, receiverCpuMs: cpuMs, resumeMs, digest: incoming.ramDigest, info: incoming.info() };
  if (guest) {
    const t0 = performance.now();
    while (guest.firstStepWallMs() === 0 && performance.now() - t0 < FIRST_STEP_TIMEOUT_MS && guest.workload !== 'idle') await sleep(1);
    out.firstStepWallMs = guest.firstStepWallMs();
    out.sourceLastStepWallMs = guest.sourceLastStepWallMs;
    out.guestDowntimeMs = guest.guestDowntimeMs();
    await sleep(warmupMs);
    const w0 = guest.workDone();
    const t1 = performance.now();
    await sleep(afterMs);
    out.workRateAfter = ((guest.workDone() - w0) * 1000) / (performance.now() - t1);
    await guest.stop();
  }
  say(out);
}

/**
 * How long starting `vcpus` vCPU worker threads takes here, to their first write: the
 * destination resumes the guest (and only then confirms) inside the downtime, so this is a
 * part of it that QEMU, whose vCPU threads exist before the migration, does not pay.
 */
async function vcpuStartMs(vcpus: number): Promise<number> {
  const t0 = performance.now();
  const g = await Guest.start({ memory: new GuestMemory([{ idstr: 'probe', sizeBytes: vcpus * 4096 }]), workload: 'seed', vcpus });
  while (g.firstStepWallMs() === 0 && performance.now() - t0 < FIRST_STEP_TIMEOUT_MS) await sleep(1);
  const ms = g.firstStepWallMs() - (performance.timeOrigin + t0);
  await g.stop();
  return Math.max(0, ms);
}

function say(e: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(e) + '\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    say({ event: 'error', error: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  },
);
