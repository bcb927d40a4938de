/**
 * Baseline for the pipeline bench: RAM to RAM between two Node processes over loopback tcp,
 * with no protocol and no engine. The sender copies its resident, random RAM into 256 KiB
 * chunks (a pool of 8, reused once the kernel took them) and writes them; the receiver reads
 * into one reused 1 MiB buffer (`onread`) and copies each read into its own resident RAM.
 * That is the data movement of a migration of incompressible RAM and nothing else: the most
 * a Node source and destination could reach here with this design.
 *
 *   node dist/bench/ram-copy-baseline.js <bytes>     prints GB/s (bytes over the receiver's
 *                                                    time from first byte to last)
 * It runs the receiver in this process and the sender in a child (`--send <port> <bytes>`).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { connect, createServer, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { copyBytes } from '../src/codec/index.js';

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
      s.end(resolve);
    };
    pump();
  });
}

/** The receiver here, the sender in a child process; resolves to GB/s. */
export async function ramCopyBaseline(bytes: number): Promise<number> {
  // Allocated once the sender is spawned: libuv spawns with fork(), after which every page of
  // private memory faults again on its first write (copy-on-write; 0.2 GB/s here).
  let ram: Uint8Array | undefined;
  const into = Buffer.alloc(1024 * 1024);
  let got = 0;
  let t0 = 0;
  const result = new Promise<number>((resolve, reject) => {
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      // onread is an option of sockets Node creates: take the accepted socket's handle over
      const handle = (accepted as unknown as { _handle: unknown })._handle;
      (accepted as unknown as { _handle: unknown })._handle = null;
      const c = new Socket({
        handle,
        onread: {
          buffer: into,
          callback: (n: number) => {
            if (t0 === 0) t0 = performance.now();
            const k = Math.min(n, bytes - got);
            copyBytes(ram!, got, into, 0, k);
            got += k;
            return true;
          },
        },
      } as ConstructorParameters<typeof Socket>[0]);
      c.on('end', () => {
        c.destroy();
        server.close();
        if (got !== bytes) reject(new Error(`ram copy baseline: received ${got} of ${bytes} bytes`));
        else resolve(bytes / ((performance.now() - t0) / 1000) / 1e9);
      });
      c.on('error', reject);
      c.resume();
    }).listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--send', String(port), String(bytes)], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.once('exit', (code) => {
        if (code !== 0) reject(new Error(`ram copy baseline: the sender exited with ${code}`));
      });
      ram = residentRam(bytes, false); // the sender fills its RAM meanwhile; accepting waits for this
    });
  });
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--send');
  if (i > 0) await send(Number(process.argv[i + 1]), Number(process.argv[i + 2]));
  else console.log(`${(await ramCopyBaseline(Number(process.argv[2] ?? 1 << 30))).toFixed(2)} GB/s`);
}
