/**
 * Resource bounds against a hostile or stalled peer, in-process with real sockets:
 * - a destination that accepts and never reads: the source's memory stays flat (backpressure)
 *   and the write-stall timeout fails the migration with its reason; the guest runs on;
 * - a source that stops sending mid-stream: the destination's read timeout fails the load;
 * - a stream that advertises more RAM than the destination allows: refused before any allocation.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { IncomingMigration, OutgoingMigration } from '../../src/migration/index.js';
import { ByteWriter, LivemigSectionId, MigrationStreamWriter } from '../../src/stream/index.js';
import { listenIncoming } from '../../src/transport/index.js';

const MiB = 1024 * 1024;
const guests: Guest[] = [];
after(async () => {
  for (const g of guests) await g.stop();
});

async function streamBytes(build: (w: MigrationStreamWriter) => void): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const out = new ByteWriter(async (c) => {
    chunks.push(c.slice());
  });
  build(new MigrationStreamWriter(out));
  await out.flush();
  return Buffer.concat(chunks);
}

/** A listener whose connections are accepted and never read; and a client that sends `bytes` then stays silent. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const held: Socket[] = [];
  const server = createServer((s) => {
    s.pause();
    s.on('error', () => undefined);
    held.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('resource bounds', { timeout: 60_000 }, () => {
  it('a destination that never reads: the source buffers nothing more, fails after writeTimeoutMs, and runs on', async () => {
    const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 64 * MiB }]);
    for (const b of memory.blocks) for (let o = 0; o < b.bytes.length; o += 65536) randomFillSync(b.bytes, o, 65536); // incompressible
    const guest = await Guest.start({ memory, workload: 'idle' });
    guests.push(guest);
    const peer = await silentServer();
    const m = new OutgoingMigration({ guest, parameters: { 'max-bandwidth': 0 }, transport: { writeTimeoutMs: 1500 } });
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakBuffers = base.arrayBuffers;
    const sampler = setInterval(() => {
      const u = process.memoryUsage();
      peakRss = Math.max(peakRss, u.rss);
      peakBuffers = Math.max(peakBuffers, u.arrayBuffers);
    }, 50);
    const start = performance.now();
    const status = await m.run(`tcp:127.0.0.1:${peer.port}`);
    const ms = performance.now() - start;
    clearInterval(sampler);
    await peer.close();
    assert.equal(status, 'failed');
    assert.match(m.error?.message ?? '', /the peer took no data for 1500 ms \(writeTimeoutMs\)/);
    assert.ok(ms < 10_000, `the stall ended the migration after ${Math.round(ms)} ms`);
    const sent = m.info().ram?.transferred ?? 0;
    assert.ok(sent < 32 * MiB, `only what the socket took was produced (${sent} bytes of a 64 MiB guest)`);
    const growth = (peakBuffers - base.arrayBuffers) / MiB;
    assert.ok(growth < 32, `buffers grew by ${growth.toFixed(1)} MiB while the peer was stalled`);
    assert.equal(guest.status, 'running');
    process.stdout.write(`stalled destination: failed after ${Math.round(ms)} ms, ${(sent / MiB).toFixed(1)} MiB produced, buffers +${growth.toFixed(1)} MiB, RSS +${((peakRss - base.rss) / MiB).toFixed(1)} MiB (64 MiB guest)\n`);
  });

  it('a source that stops sending mid-stream: the destination fails after readTimeoutMs', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { readTimeoutMs: 800 });
    const port = Number(listener.address.split(':').pop());
    const prefix = await streamBytes((w) => {
      w.header();
      w.ramSetup(LivemigSectionId.Ram, [{ idstr: 'pc.ram', lengthBytes: 4 * MiB }]);
      w.sectionPart(LivemigSectionId.Ram);
      for (let p = 0; p < 16; p++) w.ram.page('pc.ram', p * 4096, new Uint8Array(4096).fill(p + 1));
    });
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    client.write(prefix); // ... and nothing more, connection open
    const channel = await listener.accept();
    await listener.close();
    const incoming = new IncomingMigration({ maxRamBytes: 64 * MiB, resume: false });
    const start = performance.now();
    const status = await incoming.run(channel);
    const ms = performance.now() - start;
    client.destroy();
    assert.equal(status, 'failed');
    assert.match(incoming.error?.message ?? '', /no data from the peer for 800 ms \(readTimeoutMs\)/);
    assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
    assert.equal(incoming.guest, undefined, 'nothing resumed');
  });

  it('a stream that asks for more RAM than allowed is refused before any allocation', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const port = Number(listener.address.split(':').pop());
    const bytes = await streamBytes((w) => {
      w.header();
      w.ramSetup(LivemigSectionId.Ram, [{ idstr: 'pc.ram', lengthBytes: 1024 * 1024 * MiB }]); // 1 TiB
    });
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    client.write(bytes);
    const channel = await listener.accept();
    await listener.close();
    const rss = process.memoryUsage().rss;
    const incoming = new IncomingMigration({ maxRamBytes: 64 * MiB, resume: false });
    assert.equal(await incoming.run(channel), 'failed');
    client.destroy();
    const err = incoming.error as Error & { code?: string; offset?: number };
    assert.equal(err.code, 'STREAM_LIMIT');
    assert.match(err.message, /advertises 1099511627776 bytes \(1 TiB\) of RAM, over the limit of 67108864 bytes \(64 MiB\) \(--max-ram\) at stream offset \d+/);
    assert.equal(incoming.memory, undefined, 'no RAM was allocated');
    assert.ok(process.memoryUsage().rss - rss < 32 * MiB);
  });
});
