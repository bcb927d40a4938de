/**
 * TLS cost: migration-channel throughput over tls: (mutual TLS, Node's `tls`) against plain tcp:,
 * measured side by side on loopback: the same bytes (incompressible) through `openOutgoing` into
 * a destination process that reads them with `readChunks`, runs alternating tcp/tls so load from
 * other processes falls on both alike. Sender and receiver are separate processes, as in a real
 * migration (each side's encryption or decryption has its own core). Prints MB/s per run, the
 * medians and the ratio tls/tcp; results also go to bench/out/tls.json.
 *
 *   node dist/bench/tls.bench.js [--mib 256] [--reps 3]
 *
 * Needs `openssl` (throwaway certificates are made for the run, as in the tests).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listenIncoming, openOutgoing, readChunks } from '../src/transport/index.js';
import { loadTlsCreds } from '../src/cli/tls-creds.js';
import { makePki } from '../test/transport/pki.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
    receiver: { type: 'string' },
    creds: { type: 'string' },
  },
});

/** Receiver mode: listen, print the address, read one stream to its end, print bytes and ms. */
async function receiver(kind: 'tcp' | 'tls', credsDir: string | undefined): Promise<void> {
  const listener = await listenIncoming(`${kind}:127.0.0.1:0`, kind === 'tls' ? { tls: loadTlsCreds(credsDir!, 'server') } : {});
  process.stdout.write(JSON.stringify({ uri: listener.address }) + '\n');
  const ch = await listener.accept({ timeoutMs: 30_000 });
  await listener.close();
  let bytes = 0;
  let first = 0;
  for await (const c of readChunks(ch)) {
    if (bytes === 0) first = performance.now();
    bytes += c.length;
  }
  const ms = performance.now() - first;
  await ch.write(Buffer.from('ok\n'));
  await ch.end();
  process.stdout.write(JSON.stringify({ bytes, ms, cipher: ch.tls?.cipher ?? null, protocol: ch.tls?.protocol ?? null }) + '\n');
}

async function oneRun(kind: 'tcp' | 'tls', totalBytes: number, data: Buffer, dir: string): Promise<{ mbps: number; cipher: string | null }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--receiver', kind, '--creds', `${dir}/dst`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { uri } = JSON.parse(String((await lines.next()).value)) as { uri: string };
  const ch = await openOutgoing(uri, kind === 'tls' ? { tls: loadTlsCreds(`${dir}/src`, 'client') } : {});
  const start = performance.now();
  for (let sent = 0; sent < totalBytes; sent += data.length) await ch.write(data.subarray(0, Math.min(data.length, totalBytes - sent)));
  await ch.end();
  const done = JSON.parse(String((await lines.next()).value)) as { bytes: number; ms: number; cipher: string | null };
  const ms = performance.now() - start;
  ch.destroy();
  if (done.bytes !== totalBytes) throw new Error(`${kind}: received ${done.bytes} of ${totalBytes} bytes`);
  return { mbps: totalBytes / 1e6 / (ms / 1000), cipher: done.cipher };
}

async function main(): Promise<void> {
  if (values.receiver !== undefined) return receiver(values.receiver as 'tcp' | 'tls', values.creds);
  const mib = Number(values.mib);
  const reps = Number(values.reps);
  const totalBytes = mib * 1024 * 1024;
  const pki = makePki();
  pki.writeDir('dst', pki.destination);
  pki.writeDir('src', pki.source);
  // 1 MiB writes, like the source's flushes; a fresh copy per write (the channel keeps the chunk)
  const data = randomFillSync(Buffer.alloc(1024 * 1024));
  const runs: Record<'tcp' | 'tls', number[]> = { tcp: [], tls: [] };
  let cipher: string | null = null;
  try {
    await oneRun('tcp', 32 * 1024 * 1024, data, pki.dir); // warm-up
    await oneRun('tls', 32 * 1024 * 1024, data, pki.dir);
    for (let r = 0; r < reps; r++) {
      for (const kind of ['tcp', 'tls'] as const) {
        const res = await oneRun(kind, totalBytes, data, pki.dir);
        runs[kind].push(res.mbps);
        if (kind === 'tls') cipher = res.cipher;
        process.stdout.write(`${kind} run ${r + 1}: ${mib} MiB at ${res.mbps.toFixed(0)} MB/s\n`);
      }
    }
  } finally {
    pki.remove();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const tcp = median(runs.tcp);
  const tls = median(runs.tls);
  const summary = { mib, reps, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, cipher, tcpMBps: Math.round(tcp), tlsMBps: Math.round(tls), ratio: Math.round((tls / tcp) * 100) / 100, runs };
  process.stdout.write(`\nmedian of ${reps}: tcp ${tcp.toFixed(0)} MB/s, tls ${tls.toFixed(0)} MB/s (${cipher ?? '?'}), tls/tcp = ${(tls / tcp).toFixed(2)}\n`);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/tls.json', JSON.stringify(summary, null, 2) + '\n');
}

await main();
