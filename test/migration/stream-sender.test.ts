/**
 * `livemig send` (migration/stream-sender.ts) without QEMU: a saved stream checked whole, then
 * sent unchanged to whatever listens, under its rate limit, with query-migrate's shape; a
 * broken file fails before anything is connected, naming the offset.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { StreamSender } from '../../src/migration/index.js';

const VECTORS = fileURLToPath(new URL('../../../test/vectors/stream/', import.meta.url));
const PAUSED = gunzipSync(readFileSync(VECTORS + 'qemu-7.2-paused.mig.gz'));

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'livemig-send-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A tcp sink: every connection's bytes, once it ends. */
async function sink(): Promise<{ server: Server; uri: string; streams: Promise<Buffer>[] }> {
  const streams: Promise<Buffer>[] = [];
  const server = createServer((s: Socket) => {
    streams.push(new Promise((resolve) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => {
        resolve(Buffer.concat(parts));
        s.end();
      });
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, uri: `tcp:127.0.0.1:${(server.address() as { port: number }).port}`, streams };
}

test('send: a QEMU stream file checked whole, then sent byte for byte; query-migrate shape', async () => {
  const file = join(dir, 'paused.mig');
  writeFileSync(file, PAUSED);
  const { server, uri, streams } = await sink();
  try {
    const sender = new StreamSender(file);
    const states: string[] = [];
    sender.on('status', (s) => states.push(s));
    assert.equal(await sender.run(uri), 'completed', sender.error?.message);
    assert.deepEqual(states, ['setup', 'active', 'device', 'completed']);
    assert.ok((await streams[0]!).equals(PAUSED));
    const info = sender.info();
    assert.equal(info.status, 'completed');
    assert.equal(info.ram!.transferred, PAUSED.length);
    assert.equal(info.ram!.remaining, 0);
    assert.equal(info.ram!.total, 0x1000000 + 0x20000 + 0x40000 + 0x20000 + 0x1000 + 0x1000);
    assert.equal(info.ram!.duplicate, 4177); // the capture's query-migrate: duplicate 4177, normal 49
    assert.equal(info.ram!.normal, 49);
    assert.equal(info.send!['machine-type'], 'pc-i440fx-7.2');
    assert.equal(info.send!['checked'], 'whole');
    assert.equal(info.send!['device-sections'], 30);
  } finally {
    server.close();
  }
});

test('send: max-bandwidth paces the whole stream', async () => {
  const file = join(dir, 'paced.mig');
  writeFileSync(file, PAUSED);
  const { server, uri, streams } = await sink();
  try {
    const rate = 1024 * 1024;
    const sender = new StreamSender(file, { maxBandwidth: rate });
    assert.equal(await sender.run(uri), 'completed');
    assert.ok((await streams[0]!).equals(PAUSED));
    const info = sender.info();
    const sendingMs = info['total-time']! - info['setup-time']!;
    // the first chunk goes at once; the rest waits for the link
    assert.ok(sendingMs >= ((PAUSED.length - rate / 10) * 1000) / rate - 20, `sent ${PAUSED.length} bytes in ${sendingMs} ms at ${rate} B/s`);
  } finally {
    server.close();
  }
});

test('send: a broken file fails before anything is connected, with the offset and what is wrong', async () => {
  const { server, uri, streams } = await sink();
  try {
    const cut = join(dir, 'cut.mig');
    writeFileSync(cut, PAUSED.subarray(0, 100_000));
    const sender = new StreamSender(cut);
    assert.equal(await sender.run(uri), 'failed');
    assert.match(sender.error!.message, /^truncated .* at stream offset \d+/);
    assert.equal(sender.info()['error-desc'], sender.error!.message);
    const garbage = join(dir, 'garbage.mig');
    writeFileSync(garbage, Buffer.from('not a migration stream at all'));
    const g = new StreamSender(garbage);
    assert.equal(await g.run(uri), 'failed');
    assert.match(g.error!.message, /^Not a migration stream \(magic 0x6e6f7420, expected 0x5145564d "QEVM"\) at stream offset 0/);
    assert.equal(streams.length, 0, 'no connection was made');
  } finally {
    server.close();
  }
});
