/**
 * Pooled reads (listenIncoming's `pooledReads`): an accepted plain socket reads into a few reused
 * 1 MiB buffers. The bytes must arrive intact whatever the pace of either side, the buffers stay
 * few (a slow consumer stops the socket reading instead of queueing), and end, reset and the read
 * timeout behave as with ordinary reads. TLS channels read the usual way.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenIncoming, openOutgoing, readChunks, type Channel } from '../../src/transport/index.js';
import { MiB, assertNoLeaks, payload, sendAll, sha256, tempDir } from './helpers.js';

const tmp = tempDir();
after(async () => {
  tmp.remove();
  await assertNoLeaks();
});

async function pair(uri: string): Promise<{ source: Channel; destination: Channel }> {
  const listener = await listenIncoming(uri, { pooledReads: true });
  const [destination, source] = await Promise.all([listener.accept(), openOutgoing(listener.address)]);
  await listener.close();
  return { source, destination };
}

describe('pooled reads', () => {
  for (const kind of ['tcp', 'unix'] as const) {
    it(`${kind}: 24 MiB arrive intact through a consumer that stalls now and then, in a handful of buffers`, async () => {
      const { source, destination } = await pair(kind === 'tcp' ? 'tcp:127.0.0.1:0' : `unix:${join(tmp.dir, 'pooled.sock')}`);
      const reader = destination.pooled;
      assert.ok(reader !== undefined, 'the channel reads into pooled buffers');
      const data = payload(24 * MiB);
      const sending = sendAll(source, data);
      const hash = createHash('sha256');
      let got = 0;
      let seen = 0;
      for await (const chunk of readChunks(destination, { reuseBuffers: true })) {
        hash.update(chunk);
        got += chunk.byteLength;
        if (++seen % 7 === 0) await sleep(5); // the sender must wait, not the reader queue grow
      }
      await sending;
      assert.equal(got, data.byteLength);
      assert.equal(hash.digest('hex'), sha256(data));
      assert.ok(reader.buffersAllocated <= 6, `${reader.buffersAllocated} buffers for ${seen} reads`);
      destination.destroy();
      source.destroy();
    });
  }

  it('useBuffers: later reads go into the area given (a destination\'s, beside its RAM); the bytes arrive intact', async () => {
    const { source, destination } = await pair('tcp:127.0.0.1:0');
    const reader = destination.pooled!;
    const memory = new WebAssembly.Memory({ initial: 100, maximum: 100, shared: true }); // 6.25 MiB
    const area = new Uint8Array(memory.buffer, 64 * 1024, 6 * MiB);
    reader.useBuffers(new Uint8Array(MiB - 1)); // too small for one buffer: nothing changes
    const data = payload(24 * MiB);
    const sending = sendAll(source, data);
    const hash = createHash('sha256');
    let got = 0;
    let inArea = 0;
    let seen = 0;
    for await (const chunk of readChunks(destination, { reuseBuffers: true })) {
      hash.update(chunk);
      got += chunk.byteLength;
      if (chunk.buffer === memory.buffer) {
        inArea++;
        assert.ok(chunk.byteOffset >= area.byteOffset && chunk.byteOffset + chunk.byteLength <= area.byteOffset + area.length, 'a read outside the area');
      }
      if (++seen === 2) reader.useBuffers(area);
    }
    await sending;
    assert.equal(got, data.byteLength);
    assert.equal(hash.digest('hex'), sha256(data));
    assert.ok(inArea > seen / 2, `${inArea} of ${seen} reads in the area`);
    assert.ok(reader.buffersAllocated <= 12, `${reader.buffersAllocated} buffers allocated`);
    destination.destroy();
    source.destroy();
  });

  it('without reuseBuffers the chunks are copies the consumer may keep', async () => {
    const { source, destination } = await pair('tcp:127.0.0.1:0');
    const data = payload(3 * MiB);
    const sending = sendAll(source, data);
    const chunks: Uint8Array[] = [];
    // hold every chunk, check at the end: a reused buffer would have been overwritten by then
    for await (const chunk of readChunks(destination)) chunks.push(chunk);
    assert.ok(chunks.length > 2);
    await sending;
    assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
    destination.destroy();
    source.destroy();
  });

  it('a reset mid-stream is an error, not a clean end; a silent peer trips the read timeout', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { pooledReads: true, readTimeoutMs: 300 });
    const port = Number(listener.address.split(':').pop());
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    const destination = await listener.accept();
    client.write(Buffer.alloc(5000, 1));
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const c of readChunks(destination, { reuseBuffers: true })) {
          got += c.byteLength;
          if (got >= 5000) client.resetAndDestroy();
        }
      })(),
      (e: Error & { code?: string }) => e.code === 'TRANSPORT_CLOSED',
    );
    assert.equal(got, 5000);
    destination.destroy();

    const silent = connect({ host: '127.0.0.1', port });
    silent.on('error', () => undefined);
    const second = await listener.accept();
    await listener.close();
    const t0 = performance.now();
    await assert.rejects(
      (async () => {
        for await (const _ of readChunks(second, { reuseBuffers: true })) void _;
      })(),
      /no data from the peer for 300 ms \(readTimeoutMs\)/,
    );
    assert.ok(performance.now() - t0 < 3000);
    second.destroy();
    silent.destroy();
  });

  it('the reply still goes back on the same socket (the return path)', async () => {
    const { source, destination } = await pair('tcp:127.0.0.1:0');
    const reply = new Promise<string>((resolve) => source.input!.once('data', (b: Buffer) => resolve(b.toString())));
    await sendAll(source, Buffer.from('hello'));
    let text = '';
    for await (const c of readChunks(destination, { reuseBuffers: true })) text += Buffer.from(c).toString();
    assert.equal(text, 'hello');
    await destination.write(Buffer.from('ok'));
    assert.equal(await reply, 'ok');
    destination.destroy();
    source.destroy();
  });
});
