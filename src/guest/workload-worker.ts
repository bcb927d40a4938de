/**
 * A vCPU: the worker-thread entry point that runs one vCPU's workload on the shared RAM.
 *
 * Loop: read CMD; on STOP return; on PAUSE publish the position, acknowledge, and
 * `Atomics.wait` until CMD changes; otherwise write a batch of pages, publish the work counter
 * and the batch's end time, and:
 * - with a `rate`, wait until the batch's share of a second has passed (a slower CPU: no
 *   catching up on time lost to a throttle or the scheduler, beyond {@link PACE_SLACK_MS});
 * - when throttled, sleep like QEMU's cpu-throttle: after each 10 ms slice of running, sleep
 *   `p / (100 - p)` slices, so the vCPU runs `(100 - p)` % of the time (a paced vCPU's waits
 *   count as running, so its rate drops by the same share).
 * Sleeps wait on CMD, so a pause, a stop or a throttle change wakes a sleeping vCPU at once.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CMD_PAUSE, CMD_STOP, ControlBlock } from './control-block.js';
import type { WorkerInit } from './control-block.js';
import { GuestMemory } from './guest-memory.js';
import { VcpuWorkload } from './vcpu-workload.js';
import { PARKED } from './parked-vcpus.js';

/** Pages between control checks: a pause waits at most this many page writes (microseconds). */
const BATCH_PAGES = 64;
/** QEMU's CPU_THROTTLE_TIMESLICE_NS: the running slice between throttle sleeps. */
const THROTTLE_SLICE_MS = 10;
/** A paced vCPU makes a batch about this often (so a batch stays well inside a throttle slice). */
const PACE_BATCH_MS = 5;
/** How far behind its schedule a paced vCPU may fall and still catch up. */
const PACE_SLACK_MS = 2;

/** This thread's Linux thread id (for per-thread CPU time), or 0 where /proc has no thread-self. */
function threadId(): number {
  try {
    return Number.parseInt(readFileSync('/proc/thread-self/stat', 'latin1'), 10) || 0;
  } catch {
    return 0;
  }
}

function run(init: WorkerInit): void {
  const memory = GuestMemory.wrap(init.blocks.map((b) => ({ idstr: b.idstr, bytes: new Uint8Array(b.sab, b.byteOffset, b.sizeBytes) })));
  const control = new ControlBlock(init.control);
  const bitmap = init.dirtyBitmap === null ? null : new Int32Array(init.dirtyBitmap);
  const vcpu = init.plan.vcpu;
  const work = new VcpuWorkload(memory, bitmap, init.plan, init.start);
  const words = control.words;
  const origin = performance.timeOrigin;
  const rate = work.writesPerSecond;
  const batch = rate > 0 ? Math.max(1, Math.min(BATCH_PAGES, Math.round((rate * PACE_BATCH_MS) / 1000))) : BATCH_PAGES;
  const batchMs = rate > 0 ? (batch * 1000) / rate : 0;
  parentPort?.postMessage({ ready: true, tid: threadId() });
  // Start of the current running slice; -1 while unthrottled (no clock reads on the fast path).
  let sliceStart = -1;
  // When the next paced batch is due; -1 = start a new schedule now.
  let due = -1;
  let first = true;
  for (;;) {
    const cmd = control.command();
    const state = cmd & 3;
    if (state === CMD_STOP) return;
    if (state === CMD_PAUSE) {
      control.acknowledge(vcpu, cmd, work.page, work.prng);
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd);
      sliceStart = -1;
      due = -1;
      continue;
    }
    if (work.idle) {
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd);
      continue;
    }
    if (first) {
      control.publishFirstStep(vcpu, origin + performance.now());
      first = false;
    }
    work.step(batch);
    let now = performance.now();
    control.publishWork(vcpu, work.workDone, origin + now);
    if (rate > 0) {
      if (due < 0 || now - due > PACE_SLACK_MS) due = now;
      due += batchMs;
      if (due > now) {
        Atomics.wait(words, ControlBlock.CMD_INDEX, cmd, due - now);
        now = performance.now();
      }
    }
    const percent = control.throttle;
    if (percent === 0) {
      sliceStart = -1;
      continue;
    }
    if (sliceStart < 0) {
      sliceStart = now;
    } else if (now - sliceStart >= THROTTLE_SLICE_MS) {
      // Sleep in proportion to the time actually run (a descheduled thread counts at most 2 slices).
      const ran = Math.min(now - sliceStart, 2 * THROTTLE_SLICE_MS);
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd, (ran * percent) / (100 - percent));
      sliceStart = performance.now();
      due = -1;
    }
  }
}

// a parked vCPU (parked-vcpus.ts): loaded now, its workload comes in the first message
if (workerData === PARKED) {
  parentPort!.once('message', (init: WorkerInit) => run(init));
  parentPort!.postMessage({ parked: true });
} else run(workerData as WorkerInit);
