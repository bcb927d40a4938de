/**
 * `livemig send FILE URI`: migrates a saved stream (a checkpoint from `incoming --save`) to a
 * destination waiting for it, typically `qemu-system-x86_64 ... -incoming tcp:HOST:PORT`.
 * Prints QEMU's `info migrate` at the end (standard error), or JSON events with --json
 * (standard output). SIGINT/SIGTERM cancel. Status 0 once every byte was sent: a QEMU 7.2
 * destination has no return path, so whether it loaded the stream shows on its side only.
 */
import { StreamSender } from '../migration/index.js';
import { formatInfoMigrate, toSafeJson } from '../monitor/index.js';
import { loadTlsCreds } from './tls-creds.js';

export interface SendCommandOptions {
  /** Bytes per second; 0 = unlimited. */
  maxBandwidth: number;
  maxRam: number;
  tlsCreds?: string | undefined;
  json: boolean;
}

export async function sendCommand(file: string, uri: string, o: SendCommandOptions): Promise<number> {
  const sender = new StreamSender(file, {
    maxBandwidth: o.maxBandwidth,
    maxRamBytes: o.maxRam,
    ...(o.tlsCreds === undefined ? {} : { transport: { tls: loadTlsCreds(o.tlsCreds, 'client') } }),
  });
  const say = (event: Record<string, unknown>): void => {
    if (o.json) process.stdout.write(toSafeJson(event) + '\n');
  };
  sender.on('status', (status) => {
    if (status === 'active') say({ event: 'sending', file, uri, ...sender.info() });
  });
  const cancel = (): void => sender.cancel();
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const status = await sender.run(uri);
    const info = sender.info();
    say({ event: status, ...info });
    if (!o.json) process.stderr.write(`${formatInfoMigrate(info)}\n${formatSent(info.send ?? {})}\n`);
    if (status !== 'completed') process.stderr.write(`livemig: send failed: ${sender.error?.message ?? status}\n`);
    return status === 'completed' ? 0 : 1;
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
}

/** The file's lines under `info migrate`: what was sent, and how well it was checked first. */
function formatSent(s: Record<string, unknown>): string {
  const lines = [`sent: ${String(s['file'])}${s['stream-bytes'] !== undefined ? ` (${String(s['stream-bytes'])} bytes)` : ''}`];
  if (s['machine-type'] !== undefined) lines.push(`machine type: ${String(s['machine-type'])}`);
  const blocks = s['blocks'] as { idstr: string; 'length-bytes': number }[] | undefined;
  if (blocks) lines.push(`ram blocks: ${blocks.map((b) => `${b.idstr} ${b['length-bytes'] >> 10} kbytes`).join(', ')}`);
  if (s['checked'] !== undefined) {
    lines.push(s['checked'] === 'whole' ? `checked before sending: every record, ${String(s['device-sections'])} device sections walked with its VM description` : 'checked before sending: RAM only (no VM description to walk the device sections with)');
  }
  return lines.join('\n');
}
