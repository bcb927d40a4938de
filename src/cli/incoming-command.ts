/**
 * `livemig incoming URI`: the destination. Listens (or reads), loads one migration,
 * verifies its RAM digest, resumes the guest and reports. With --json, events go to
 * standard output as JSON lines (listening, then completed or failed).
 */
import type { Guest } from '../guest/index.js';
import { checkStride } from '../guest/index.js';
import { IncomingMigration } from '../migration/index.js';
import { Hmp, formatInfoMigrate, runHmpSession } from '../monitor/index.js';
import { listenIncoming } from '../transport/index.js';

export interface IncomingCommandOptions {
  maxRam: number;
  monitor: string;
  json: boolean;
  /** Exit once the migration ended (0 completed, 1 failed); `exitAfter` ms of running first. */
  exit: boolean;
  exitAfter: number;
  dirtyLog: 'explicit' | 'scan';
}

export async function incomingCommand(uri: string, o: IncomingCommandOptions): Promise<number> {
  const say = (event: Record<string, unknown>) => {
    if (o.json) process.stdout.write(JSON.stringify(event) + '\n');
  };
  const listener = await listenIncoming(uri);
  say({ event: 'listening', uri: listener.address });
  if (!o.json) process.stderr.write(`livemig: waiting for a migration on ${listener.address}\n`);
  const incoming = new IncomingMigration({ maxRamBytes: o.maxRam, dirtyLog: o.dirtyLog });
  let guest: Guest | undefined;
  let quitting = false;
  const monitor =
    o.monitor === 'stdio'
      ? runHmpSession(
          new Hmp({ incoming: () => incoming, guest: () => guest, quit: () => { quitting = true; }, print: (l) => process.stdout.write(l + '\n') }),
          process.stdin,
          process.stdout,
          { prompt: process.stdin.isTTY === true, stopped: () => quitting },
        )
      : undefined;
  let status: string;
  try {
    const channel = await listener.accept({ timeoutMs: Infinity });
    status = await incoming.run(channel);
  } finally {
    await listener.close();
  }
  guest = incoming.guest;
  const info = incoming.info();
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  if (status === 'completed') {
    say({ event: 'completed', maxRssBytes, ...info });
    if (!o.json) process.stderr.write(formatInfoMigrate(info, 'destination') + '\n');
  } else {
    say({ event: 'failed', error: incoming.error?.message ?? 'unknown error', ...info });
    process.stderr.write(`livemig: incoming migration failed: ${incoming.error?.message ?? 'unknown error'}\n`);
  }
  if (o.exit) {
    if (guest && o.exitAfter > 0) {
      const before = guest.workDone();
      await new Promise((r) => setTimeout(r, o.exitAfter));
      await guest.pause();
      say({ event: 'ran', workDone: guest.workDone() - before, digest: guest.memory.digest(), strideCheck: checkStride(guest.memory) });
    }
    await guest?.stop();
    return status === 'completed' ? 0 : 1;
  }
  if (monitor) await monitor;
  else await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await guest?.stop();
  return status === 'completed' ? 0 : 1;
}
