/**
 * The source side of one benchmark run, in its own process (so its CPU time is its own, and
 * with --netns it runs in the source's network namespace):
 *
 *   node source-child.js '<RunSpec JSON>' <destination URI>
 *
 * Starts the guest on prefilled RAM, lets it run `warmupMs`, measures its work rate for
 * `measureMs`, migrates it with the run's parameters, and prints one JSON line
 * `{ "event": "result", ... }` on standard output: the final query-migrate snapshot, the pass
 * records, the guest's work rates, its last write time, CPU times and the time one RAM digest
 * takes (livemig verifies RAM on both sides during the downtime).
 */
import { Guest, GuestMemory } from '../../guest/index.js';
import { IO_AREA_BYTES, SourceManager, warmUpEngine } from '../../migration/index.js';
import type { RunSpec } from './matrix.js';
import { cacheBytesFor } from './matrix.js';

/** Fills RAM with seeded bytes (xorshift32, a word at a time): a guest whose memory is in use. */
function prefill(memory: GuestMemory, seed: number): void {
  for (const b of memory.blocks) {
    const words = new Int32Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length >>> 2);
    let x = (seed * 0x9e3779b1) | 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as RunSpec;
  const uri = process.argv[3]!;
  // the engine's hot paths compiled before the guest starts, as `livemig run` does
  await warmUpEngine();
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: spec.ramBytes }], { ioBytes: IO_AREA_BYTES });
  if (spec.prefill) prefill(memory, spec.seed);
  else for (const b of memory.blocks) b.bytes.fill(0); // fault the pages in: first touches are slow on some hosts
  const region = { offsetBytes: 0, sizeBytes: Math.max(4096, Math.floor((spec.ramBytes * spec.regionPercent) / 100 / 4096) * 4096) };
  const guest = await Guest.start({ memory, workload: spec.workload, vcpus: spec.vcpus, seed: spec.seed, region, workloadOptions: spec.workloadOptions });
  try {
    await sleep(spec.warmupMs);
    const w0 = guest.workDone();
    const t0 = performance.now();
    await sleep(spec.measureMs);
    const workRateBefore = ((guest.workDone() - w0) * 1000) / (performance.now() - t0);

    const src = new SourceManager(guest);
    src.setParameters({
      'max-bandwidth': 0,
      'link-bandwidth': spec.linkBitsPerSecond > 0 && !process.env.LIVEMIG_BENCH_NETNS ? Math.round(spec.linkBitsPerSecond / 8) : 0,
      'downtime-limit': spec.downtimeLimitMs,
      'max-time': spec.maxTimeMs,
      'stall-policy': 'force',
      'xbzrle-cache-size': cacheBytesFor(spec.ramBytes, spec.cachePercent),
      'cache-ways': spec.cacheWays,
      'delta-codec': spec.codec === 'xbrle' ? 'xbrle' : 'xbzrle',
    });
    if (Object.keys(spec.parameters).length > 0) src.setParameters(spec.parameters);
    src.setCapability('xbzrle', spec.codec !== 'none');
    src.setCapability('auto-converge', spec.autoConverge);
    src.setCapability('auto-xbzrle', spec.autoXbzrle);
    const cpu0 = process.cpuUsage();
    const vcpu0 = guest.vcpuCpuTimeMs();
    const { migration, done } = src.migrate(uri);
    const status = await done;
    const cpu = process.cpuUsage(cpu0);
    const vcpuCpuMs = guest.vcpuCpuTimeMs() - vcpu0;
    const processCpuMs = (cpu.user + cpu.system) / 1000;
    let verifyMs = 0;
    if (guest.status === 'paused') {
      const t = performance.now();
      memory.digest();
      verifyMs = performance.now() - t;
    }
    const result = {
      event: 'result',
      status,
      error: migration.error?.message,
      forced: migration.forced,
      info: migration.info(),
      passes: migration.passes,
      workRateBefore,
      guestLastStepWallMs: migration.guestLastStepWallMs,
      cacheBytes: cacheBytesFor(spec.ramBytes, spec.cachePercent),
      processCpuMs,
      vcpuCpuMs,
      senderCpuMs: Math.max(0, processCpuMs - vcpuCpuMs),
      verifyMs,
      deltaDisabledAtPass: migration.deltaDisabledAtPass,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await guest.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stdout.write(JSON.stringify({ event: 'error', error: e instanceof Error ? e.message : String(e) }) + '\n');
    process.exit(1);
  },
);
