/** `livemig run`: start a guest and its monitor (the source side of a migration). */
import { Guest, GuestMemory } from '../guest/index.js';
import type { WorkloadName } from '../guest/index.js';
import { SourceManager } from '../migration/index.js';
import { Hmp, runHmpSession } from '../monitor/index.js';

export interface RunOptions {
  ram: number;
  workload: WorkloadName;
  vcpus: number;
  seed: number;
  dirtyLog: 'explicit' | 'scan';
  monitor: string;
  name?: string;
}

export async function runCommand(o: RunOptions): Promise<number> {
  if (o.monitor !== 'stdio') {
    process.stderr.write(`livemig run: --monitor ${o.monitor} is not supported yet; use --monitor stdio\n`);
    return 2;
  }
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: o.ram }]);
  const guest = await Guest.start({ memory, workload: o.workload, vcpus: o.vcpus, seed: o.seed, dirtyLog: o.dirtyLog });
  const source = new SourceManager(guest);
  let quitting = false;
  const hmp = new Hmp({
    source,
    guest: () => guest,
    quit: () => {
      quitting = true;
    },
    print: (line) => process.stdout.write(line + '\n'),
  });
  try {
    await runHmpSession(hmp, process.stdin, process.stdout, { prompt: process.stdin.isTTY === true, stopped: () => quitting });
    // end of input: wait for a detached migration before leaving
    while (!quitting && source.running) await new Promise((r) => setTimeout(r, 50));
  } finally {
    source.cancel();
    await guest.stop();
  }
  return 0;
}
