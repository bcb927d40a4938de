/**
 * A vCPU: the worker-thread entry point that runs one vCPU's workload on the shared RAM.
 *
 * Loop: read CMD; on STOP return; on PAUSE publish the position, acknowledge, and
 * `Atomics.wait` until CMD changes; otherwise write {@link BATCH_PAGES} pages, publish the work
 * counter, and, when throttled, sleep like QEMU's cpu-throttle: after each 10 ms slice of
 * running, sleep `p / (100 - p)` slices, so the vCPU runs `(100 - p)` % of the time. Sleeps
 * wait on CMD, so a pause, a stop or a throttle change wakes a sleeping vCPU at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CMD_PAUSE, CMD_STOP, ControlBlock } from './control-block.js';
import type { WorkerInit } from './control-block.js';
import { GuestMemory } from './guest-memory.js';
import { VcpuWorkload } from './vcpu-workload.js';

/** Pages between control checks: a pause waits at most this many page writes (microseconds). */
const BATCH_PAGES = 64;
/** QEMU's CPU_THROTTLE_TIMESLICE_NS: the running slice between throttle sleeps. */
const THROTTLE_SLICE_MS = 10;

function run(init: WorkerInit): void {
  const memory = GuestMemory.wrap(init.blocks.map((b) => ({ idstr: b.idstr, bytes: new Uint8Array(b.sab, b.byteOffset, b.sizeBytes) })));
  const control = new ControlBlock(init.control);
  const bitmap = init.dirtyBitmap === null ? null : new Int32Array(init.dirtyBitmap);
  const vcpu = init.plan.vcpu;
  const work = new VcpuWorkload(memory, bitmap, init.plan, init.start);
  const words = control.words;
  parentPort?.postMessage('ready');
  // Start of the current running slice; -1 while unthrottled (no clock reads on the fast path).
  let sliceStart = -1;
  for (;;) {
    const cmd = control.command();
    const state = cmd & 3;
    if (state === CMD_STOP) return;
    if (state === CMD_PAUSE) {
      control.acknowledge(vcpu, cmd, work.page, work.prng);
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd);
      sliceStart = -1;
      continue;
    }
    if (work.idle) {
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd);
      continue;
    }
    work.step(BATCH_PAGES);
    control.publishWork(vcpu, work.workDone);
    const percent = control.throttle;
    if (percent === 0) {
      sliceStart = -1;
      continue;
    }
    const now = performance.now();
    if (sliceStart < 0) {
      sliceStart = now;
    } else if (now - sliceStart >= THROTTLE_SLICE_MS) {
      // Sleep in proportion to the time actually run (a descheduled thread counts at most 2 slices).
      const ran = Math.min(now - sliceStart, 2 * THROTTLE_SLICE_MS);
      Atomics.wait(words, ControlBlock.CMD_INDEX, cmd, (ran * percent) / (100 - percent));
      sliceStart = performance.now();
    }
  }
}

run(workerData as WorkerInit);
