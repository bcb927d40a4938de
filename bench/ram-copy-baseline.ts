/**
 * Baseline for the pipeline bench: RAM to RAM between two Node processes over loopback tcp,
 * with no protocol and no engine. The sender copies its resident, random RAM into 256 KiB
 * chunks (a pool of 8, reused once the kernel took them) and writes them; the receiver reads
 * into one reused 1 MiB buffer (`onread`) and copies each read into its own resident RAM.
 * That is the data movement of a migration of incompressible RAM and nothing else: the most
 * a Node source and destination could reach here with this design.
 *
 *   node dist/bench/ram-copy-baseline.js <bytes>     prints GB/s (bytes over the receiver's
 *                                                    time from first byte to last) and each
 *                                                    side's main-thread CPU per GiB
 * It runs the receiver in this process and the sender in a child (`--send <port> <bytes>`).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { connect, createServer, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { copyBytes } from '../src/codec/index.js';
import { threadCpuMs } from './thread-cpu.js';

const CHUNK = 256 * 1024;

function residentRam(bytes: number, random: boolean): Uint8Array {
  const ram = new Uint8Array(new SharedArrayBuffer(bytes));
  for (let off = 0; off < bytes; off += 1 << 26) {
    const part = ram.subarray(off, Math.min(bytes, off + (1 << 26)));
    if (random) randomFillSync(part);
    else part.fill(0);
  }
  return ram;
}

async function send(port: number, bytes: number): Promise<void> {
  const ram = residentRam(bytes, true);
  const free: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) free.push(new Uint8Array(CHUNK));
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  let at = 0;
  const cpu0 = threadCpuMs();
  let draining = false;
  let ended = false;
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    const pump = (): void => {
      if (draining || ended) return; // 'drain' pumps again
      while (at < bytes) {
        const chunk = free.pop();
        if (chunk === undefined) return; // a written chunk's callback pumps again
        const n = Math.min(CHUNK, bytes - at);
        copyBytes(chunk, 0, ram, at, n);
        at += n;
        if (!s.write(n === CHUNK ? chunk : chunk.subarray(0, n), () => (free.push(chunk), pump()))) {
          draining = true;
          s.once('drain', () => ((draining = false), pump()));
          return;
        }
      }
      ended = true;
      const cpu = threadCpuMs();
      // the receiver reads this line: the sender's main-thread CPU over the copy
      if (cpu !== undefined && cpu0 !== undefined) console.log(`sender-cpu-ms ${cpu - cpu0}`);
      s.end(resolve);
    };
    pump();
  });
}

/** What the copy measured: GB/s, and each side's main-thread CPU per GiB moved (absent where unreadable). */
export interface RamCopyResult {
  gbps: number;
  senderCpuMsPerGiB?: number;
  receiverCpuMsPerGiB?: number;
}

/** The receiver here, the sender in a child process. */
export async function ramCopyBaseline(bytes: number): Promise<RamCopyResult> {
  // Allocated once the sender is spawned: libuv spawns with fork(), after which every page of
  // private memory faults again on its first write (copy-on-write; 0.2 GB/s here).
  let ram: Uint8Array | undefined;
  let exited = false;
  let onExit: (() => void) | undefined;
  const into = Buffer.alloc(1024 * 1024);
  let got = 0;
  let t0 = 0;
  let cpu0: number | undefined;
  let senderCpuMs: number | undefined;
  const perGiB = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / (bytes / 2 ** 30));
  const result = new Promise<RamCopyResult>((resolve, reject) => {
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      // onread is an option of sockets Node creates: take the accepted socket's handle over
      const handle = (accepted as unknown as { _handle: unknown })._handle;
      (accepted as unknown as { _handle: unknown })._handle = null;
      const c = new Socket({
        handle,
        onread: {
          buffer: into,
          callback: (n: number) => {
            if (t0 === 0) {
              t0 = performance.now();
              cpu0 = threadCpuMs();
            }
            const k = Math.min(n, bytes - got);
            copyBytes(ram!, got, into, 0, k);
            got += k;
            return true;
          },
        },
      } as ConstructorParameters<typeof Socket>[0]);
      c.on('end', () => {
        const gbps = bytes / ((performance.now() - t0) / 1000) / 1e9;
        const cpu = threadCpuMs();
        c.destroy();
        server.close();
        if (got !== bytes) return reject(new Error(`ram copy baseline: received ${got} of ${bytes} bytes`));
        const receiverCpuMsPerGiB = perGiB(cpu === undefined || cpu0 === undefined ? undefined : cpu - cpu0);
        // the sender's line may come after the end of the stream: wait for its exit
        const done = (): void => {
          const senderCpuMsPerGiB = perGiB(senderCpuMs);
          resolve({ gbps, ...(senderCpuMsPerGiB !== undefined ? { senderCpuMsPerGiB } : {}), ...(receiverCpuMsPerGiB !== undefined ? { receiverCpuMsPerGiB } : {}) });
        };
        if (exited) done();
        else onExit = done;
      });
      c.on('error', reject);
      c.resume();
    }).listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--send', String(port), String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.once('close', (code) => {
        if (code !== 0) return reject(new Error(`ram copy baseline: the sender exited with ${code}`));
        const m = /sender-cpu-ms ([\d.]+)/.exec(out);
        if (m) senderCpuMs = Number(m[1]);
        exited = true;
        onExit?.();
      });
      ram = residentRam(bytes, false); // the sender fills its RAM meanwhile; accepting waits for this
    });
  });
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--send');
  if (i > 0) await send(Number(process.argv[i + 1]), Number(process.argv[i + 2]));
  else {
    const r = await ramCopyBaseline(Number(process.argv[2] ?? 1 << 30));
    const cpu = (ms: number | undefined): string => (ms === undefined ? '?' : ms.toFixed(0));
    console.log(`${r.gbps.toFixed(2)} GB/s; main-thread CPU per GiB: sender ${cpu(r.senderCpuMsPerGiB)} ms, receiver ${cpu(r.receiverCpuMsPerGiB)} ms`);
  }
}
