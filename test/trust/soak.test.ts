/**
 * Ping-pong soak: a guest under load (stride, 16 MiB, XBZRLE on) migrated back and forth over
 * tcp between two long-lived processes (fixtures/peer.ts) LIVEMIG_SOAK_ROUNDS times (default 10;
 * 100 for the full run). Every migration completes, the source's and the destination's RAM
 * digests are equal, the stride pattern checks out, and the resident memory of both processes
 * stays flat: measured after each round (after a GC), the last is at most 1.5 × the first
 * (after a warm-up round) + 50 MiB. The figures are printed.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('./fixtures/peer.js', import.meta.url));
const ROUNDS = Number(process.env['LIVEMIG_SOAK_ROUNDS'] ?? 10);
const RAM_BYTES = 16 * 1024 * 1024;
const MiB = 1024 * 1024;

type Msg = Record<string, unknown> & { event: string };

class Peer {
  readonly proc: ChildProcessWithoutNullStreams;
  private readonly queue: Msg[] = [];
  private waiters: { event: string; resolve: (m: Msg) => void }[] = [];
  readonly stderr: string[] = [];
  constructor(readonly name: string) {
    this.proc = spawn(process.execPath, ['--expose-gc', PEER], { stdio: 'pipe' });
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      const m = JSON.parse(l) as Msg;
      const w = this.waiters.find((x) => x.event === m.event || m.event === 'error');
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      } else this.queue.push(m);
    });
    createInterface({ input: this.proc.stderr }).on('line', (l) => this.stderr.push(l));
  }
  send(m: Record<string, unknown>): void {
    this.proc.stdin.write(JSON.stringify(m) + '\n');
  }
  next(event: string, ms = 60_000): Promise<Msg> {
    const i = this.queue.findIndex((m) => m.event === event || m.event === 'error');
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no ${event} within ${ms} ms; stderr: ${this.stderr.join('\n')}`)), ms);
      this.waiters.push({ event, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }
  async ask(m: Record<string, unknown>, event: string): Promise<Msg> {
    this.send(m);
    const r = await this.next(event);
    if (r.event === 'error') throw new Error(`${this.name}: ${String(r['error'])}`);
    return r;
  }
}

const peers: Peer[] = [];
after(() => {
  for (const p of peers) p.proc.kill('SIGKILL');
});

describe(`ping-pong soak (${ROUNDS} migrations)`, { timeout: 60_000 + ROUNDS * 20_000 }, () => {
  it('every migration completes with equal digests; both processes stay flat in memory', async () => {
    const a = new Peer('A');
    const b = new Peer('B');
    peers.push(a, b);
    await a.ask({ cmd: 'start', ramBytes: RAM_BYTES, workload: 'stride' }, 'started');
    const rss: Record<string, number[]> = { A: [], B: [] };
    const heap: Record<string, number[]> = { A: [], B: [] };
    const buffers: Record<string, number[]> = { A: [], B: [] };
    const times: number[] = [];
    let from = a;
    let to = b;
    for (let round = 1; round <= ROUNDS; round++) {
      const start = performance.now();
      const { uri } = await to.ask({ cmd: 'listen' }, 'listening');
      const sent = await from.ask({ cmd: 'migrate', uri }, 'sent');
      const received = await to.next('received');
      assert.equal(sent['status'], 'completed', `round ${round}: ${String(sent['error'])}`);
      assert.equal(received['status'], 'completed', `round ${round}: ${String(received['error'])}`);
      assert.equal(received['digest'], sent['digest'], `round ${round}: digests`);
      assert.equal((received['strideCheck'] as { ok: boolean }).ok, true, `round ${round}: ${JSON.stringify(received['strideCheck'])}`);
      times.push(performance.now() - start);
      for (const p of [a, b]) {
        const u = await p.ask({ cmd: 'memory' }, 'memory');
        rss[p.name]!.push(Number(u['rss']));
        heap[p.name]!.push(Number(u['heapUsed']));
        buffers[p.name]!.push(Number(u['arrayBuffers']));
      }
      [from, to] = [to, from];
    }
    const mib = (n: number) => (n / MiB).toFixed(1);
    const lines = Object.entries(rss).map(([name, xs]) => `${name}: first ${mib(xs[0]!)} MiB, after warm-up ${mib(xs[Math.min(1, xs.length - 1)]!)} MiB, last ${mib(xs[xs.length - 1]!)} MiB, max ${mib(Math.max(...xs))} MiB`);
    const js = Object.keys(rss).map((name) => `${name}: JS heap ${mib(heap[name]![1] ?? 0)} -> ${mib(heap[name]!.at(-1)!)} MiB, array buffers ${mib(buffers[name]![1] ?? 0)} -> ${mib(buffers[name]!.at(-1)!)} MiB (after warm-up -> last)`);
    process.stdout.write(`\nsoak: ${ROUNDS} migrations of a ${RAM_BYTES / MiB} MiB stride guest, ${Math.round(times.reduce((s, t) => s + t, 0) / times.length)} ms each on average\n${lines.join('\n')}\n${js.join('\n')}\nRSS per round (MiB): A ${rss['A']!.map(mib).join(' ')}\n                     B ${rss['B']!.map(mib).join(' ')}\n`);
    for (const name of Object.keys(heap)) {
      const h = heap[name]!;
      assert.ok(h.at(-1)! <= h[Math.min(1, h.length - 1)]! * 1.5 + 16 * MiB, `${name}: JS heap grew from ${mib(h[1] ?? 0)} to ${mib(h.at(-1)!)} MiB`);
    }
    for (const [name, xs] of Object.entries(rss)) {
      const base = xs[Math.min(1, xs.length - 1)]!; // after one warm-up round (both have held the guest)
      const last = xs[xs.length - 1]!;
      assert.ok(last <= base * 1.5 + 50 * MiB, `${name}: RSS grew from ${mib(base)} to ${mib(last)} MiB`);
    }
    a.send({ cmd: 'quit' });
    b.send({ cmd: 'quit' });
  });
});
