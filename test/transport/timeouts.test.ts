/**
 * A stalled peer: a destination that stops reading makes the sender's writes fail after
 * writeTimeoutMs (not hang, and not buffer: the writes wait on backpressure); a source that
 * stops sending makes readChunks fail after readTimeoutMs. Both errors say which timeout ran out.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { listenIncoming, openOutgoing, readChunks, DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS } from '../../src/transport/index.js';
import { assertNoLeaks, MiB } from './helpers.js';

describe('stall timeouts', { timeout: 30_000 }, () => {
  after(assertNoLeaks);

  it('a peer that stops reading fails write() after writeTimeoutMs; the sender holds only what backpressure allows', async () => {
    const held: Socket[] = [];
    const server = createServer((s) => {
      s.pause(); // accept, never read
      held.push(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const ch = await openOutgoing(`tcp:127.0.0.1:${port}`, { writeTimeoutMs: 400 });
    assert.equal(ch.writeTimeoutMs, 400);
    const chunk = new Uint8Array(MiB);
    const start = performance.now();
    let accepted = 0;
    const err = await (async () => {
      try {
        for (let i = 0; i < 256; i++) {
          await ch.write(chunk.slice());
          accepted += chunk.length;
        }
      } catch (e) {
        return e as Error & { code?: string; osCode?: string };
      }
      return undefined;
    })();
    const ms = performance.now() - start;
    assert.ok(err, `256 MiB went into a peer that never reads (${accepted} bytes accepted)`);
    assert.equal(err.code, 'TRANSPORT_CLOSED');
    assert.equal(err.osCode, 'ETIMEDOUT');
    assert.match(err.message, /the peer took no data for 400 ms \(writeTimeoutMs\)/);
    assert.ok(ms < 5000, `took ${ms} ms`);
    assert.ok(accepted < 64 * MiB, `accepted ${accepted} bytes before stalling: kernel buffers and one chunk, not the whole stream`);
    await assert.rejects(ch.write(chunk), { osCode: 'ETIMEDOUT' });
    ch.destroy();
    for (const s of held) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a peer that stops sending fails readChunks after readTimeoutMs', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { readTimeoutMs: 300 });
    const port = Number(listener.address.split(':').pop());
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    client.write(Buffer.alloc(1000, 7)); // then nothing, connection left open
    const ch = await listener.accept();
    await listener.close();
    assert.equal(ch.readTimeoutMs, 300);
    let got = 0;
    const start = performance.now();
    await assert.rejects(
      (async () => {
        for await (const c of readChunks(ch)) got += c.length;
      })(),
      (e: Error & { code?: string; osCode?: string }) => {
        assert.equal(e.code, 'TRANSPORT_CLOSED');
        assert.equal(e.osCode, 'ETIMEDOUT');
        assert.match(e.message, /no data from the peer for 300 ms \(readTimeoutMs\)/);
        return true;
      },
    );
    assert.equal(got, 1000);
    assert.ok(performance.now() - start < 3000);
    client.destroy();
    ch.destroy();
  });

  it('a timeout is named as the caller names it (timeoutNames: a flag, a monitor parameter)', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { readTimeoutMs: 200, timeoutNames: { read: '--read-timeout' } });
    const port = Number(listener.address.split(':').pop());
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    const ch = await listener.accept();
    await listener.close();
    assert.deepEqual(ch.timeoutNames, { read: '--read-timeout' });
    await assert.rejects(
      (async () => {
        for await (const c of readChunks(ch)) void c;
      })(),
      { osCode: 'ETIMEDOUT', message: /no data from the peer for 200 ms \(--read-timeout\)$/ },
    );
    // a timeout given to readChunks itself is its own option
    const listener2 = await listenIncoming('tcp:127.0.0.1:0', { timeoutNames: { read: '--read-timeout' } });
    const client2 = connect({ host: '127.0.0.1', port: Number(listener2.address.split(':').pop()) });
    client2.on('error', () => undefined);
    const ch2 = await listener2.accept();
    await listener2.close();
    await assert.rejects(
      (async () => {
        for await (const c of readChunks(ch2, { readTimeoutMs: 200 })) void c;
      })(),
      { osCode: 'ETIMEDOUT', message: /no data from the peer for 200 ms \(readTimeoutMs\)$/ },
    );
    for (const x of [client, client2, ch, ch2]) x.destroy();
  });

  it('the read timeout counts only time spent waiting for bytes: a peer that keeps sending and a slow consumer never trip it', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0', { readTimeoutMs: 250 });
    const port = Number(listener.address.split(':').pop());
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    const ch = await listener.accept();
    await listener.close();
    const input = ch.input!;
    // Each piece is already in the channel's input when the reader asks for it (so no wait for
    // bytes can be long, however loaded the machine), and between pieces the consumer is busy
    // for longer than the timeout: four pieces take over 1.2 s, nearly five timeouts in all.
    let sent = 0;
    const sendBuffered = async (): Promise<void> => {
      client.write(Buffer.alloc(100, 1));
      sent += 100;
      while (input.readableLength < 100 && !input.destroyed) await new Promise((r) => setTimeout(r, 1));
    };
    await sendBuffered();
    const start = performance.now();
    let got = 0;
    for await (const c of readChunks(ch)) {
      got += c.length;
      await new Promise((r) => setTimeout(r, 300)); // busy with the chunk for longer than the timeout
      if (got === 400) break;
      if (sent === got) await sendBuffered();
    }
    assert.equal(got, 400);
    assert.ok(performance.now() - start >= 4 * 300, 'the reads spanned several timeouts');
    client.destroy();
    ch.destroy();
  });

  it('readChunks takes its own timeout; exec/file/fd default to none, sockets to the defaults', async () => {
    assert.equal(DEFAULT_WRITE_TIMEOUT_MS, 30_000);
    assert.equal(DEFAULT_READ_TIMEOUT_MS, 60_000);
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const port = Number(listener.address.split(':').pop());
    const [ch, out] = await Promise.all([listener.accept(), openOutgoing(`tcp:127.0.0.1:${port}`)]);
    await listener.close();
    assert.equal(ch.readTimeoutMs, DEFAULT_READ_TIMEOUT_MS);
    assert.equal(out.writeTimeoutMs, DEFAULT_WRITE_TIMEOUT_MS);
    await assert.rejects(
      (async () => {
        for await (const _ of readChunks(ch, { readTimeoutMs: 100 })) void _;
      })(),
      /no data from the peer for 100 ms/,
    );
    out.destroy();
    ch.destroy();
    const file = await openOutgoing('file:/dev/null');
    assert.equal(file.writeTimeoutMs, Infinity);
    await file.end();
  });

  it('rejects bad timeouts before connecting', async () => {
    await assert.rejects(openOutgoing('tcp:127.0.0.1:1', { writeTimeoutMs: 0 }), { code: 'TRANSPORT_INVALID', message: /writeTimeoutMs must be a positive number/ });
    await assert.rejects(listenIncoming('tcp:127.0.0.1:0', { readTimeoutMs: Number.NaN }), { code: 'TRANSPORT_INVALID', message: /readTimeoutMs must be/ });
  });
});
