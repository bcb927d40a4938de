/**
 * 8 MiB of random bytes through every transport, compared by sha256 at the other end, plus the
 * return path of the two-way transports (the destination replies, the source reads it).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { listenIncoming, openOutgoing, readChunks, TransportError, type Channel, type IncomingListener } from '../../src/transport/index.js';
import { MiB, assertNoLeaks, payload, receiveAll, sendAll, sha256, tempDir } from './helpers.js';
import { requires } from '../helpers/requirements.js';

const data = payload(8 * MiB);
const digest = sha256(data);
const tmp = tempDir();
after(async () => {
  tmp.remove();
  await assertNoLeaks();
});

/** Listens on `uri`, connects the source to the reported address and moves `data` across. */
async function roundTrip(uri: string): Promise<IncomingListener> {
  const listener = await listenIncoming(uri);
  const channels: Channel[] = [];
  try {
    const [source, destination] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    channels.push(source, destination);
    const [, received] = await Promise.all([sendAll(source, data), receiveAll(destination)]);
    assert.equal(received.length, data.byteLength);
    assert.equal(received.sha256, digest);
    assert.equal(source.bytesWritten, data.byteLength);
    assert.equal(source.hasReturnPath, true);
    assert.equal(destination.hasReturnPath, true);
    return listener;
  } finally {
    for (const c of channels) c.destroy();
    await listener.close();
  }
}

/** The destination replies on the return path; the source reads the reply after sending. */
async function returnPath(uri: string): Promise<void> {
  const listener = await listenIncoming(uri);
  const [source, destination] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
  try {
    const small = payload(64 * 1024);
    const destinationSide = (async () => {
      const got = await receiveAll(destination);
      assert.equal(got.sha256, sha256(small));
      await destination.write(Buffer.from('ok from destination'));
      await destination.end();
    })();
    await sendAll(source, small);
    const reply: Uint8Array[] = [];
    for await (const chunk of readChunks(source)) reply.push(chunk);
    await destinationSide;
    assert.equal(Buffer.concat(reply).toString(), 'ok from destination');
  } finally {
    source.destroy();
    destination.destroy();
    await listener.close();
  }
}

describe('round trip of 8 MiB', () => {
  it('tcp over 127.0.0.1 with port 0', async () => {
    const listener = await roundTrip('tcp:127.0.0.1:0');
    assert.match(listener.address, /^tcp:127\.0\.0\.1:[1-9][0-9]*$/);
    assert.equal(listener.uri.kind, 'tcp');
    assert.notEqual(listener.uri.kind === 'tcp' ? listener.uri.port : 0, 0);
  });

  it('tcp over [::1] (skipped only when the host has no IPv6 loopback)', async (t) => {
    let listener: IncomingListener;
    try {
      listener = await listenIncoming('tcp:[::1]:0');
    } catch (err) {
      assert.ok(err instanceof TransportError);
      assert.equal(err.osCode, 'EADDRNOTAVAIL', `unexpected failure: ${err.message}`);
      t.skip(`no IPv6 loopback: ${err.message}`);
      return;
    }
    await listener.close();
    const used = await roundTrip('tcp:[::1]:0');
    assert.match(used.address, /^tcp:\[::1\]:[1-9][0-9]*$/);
  });

  it('tcp with a host name (localhost)', async () => {
    const listener = await roundTrip('tcp:localhost:0');
    assert.match(listener.address, /^tcp:(127\.0\.0\.1|\[::1\]):[0-9]+$/);
  });

  it('unix socket', async () => {
    const path = join(tmp.dir, 'rt.sock');
    const listener = await roundTrip(`unix:${path}`);
    assert.equal(listener.address, `unix:${path}`);
    assert.equal(existsSync(path), false, 'close() removes the socket file');
  });

  it('exec: outgoing into "cat > FILE", incoming from "cat FILE"', async () => {
    const file = join(tmp.dir, 'exec.bin');
    const source = await openOutgoing(`exec:cat > '${file}'`);
    assert.equal(source.input, null);
    assert.equal(source.hasReturnPath, false);
    await sendAll(source, data);
    assert.equal(sha256(readFileSync(file)), digest);

    const listener = await listenIncoming(`exec:cat '${file}'`);
    const destination = await listener.accept();
    assert.equal(destination.output, null);
    const got = await receiveAll(destination);
    assert.equal(got.sha256, digest);
    await listener.close();
  });

  it('file: write (truncating an existing file) and read back', async () => {
    const file = join(tmp.dir, 'stream.mig');
    writeFileSync(file, Buffer.alloc(9 * MiB, 7));
    const source = await openOutgoing({ kind: 'file', path: file });
    await sendAll(source, data);
    assert.equal(sha256(readFileSync(file)), digest, 'the old, longer content is gone');
    const listener = await listenIncoming(`file:${file}`);
    const got = await receiveAll(await listener.accept());
    assert.equal(got.sha256, digest);
    await listener.close();
  });

  it('fd: on a regular file opened by the test', async () => {
    const file = join(tmp.dir, 'fd.bin');
    const wfd = openSync(file, 'w');
    const source = await openOutgoing(`fd:${wfd}`);
    assert.match(source.description, /file/);
    await sendAll(source, data);
    assert.equal(sha256(readFileSync(file)), digest);
    const rfd = openSync(file, 'r');
    const listener = await listenIncoming(`fd:${rfd}`);
    const got = await receiveAll(await listener.accept());
    assert.equal(got.sha256, digest);
    await listener.close();
    // The channels own their descriptors and closed them.
    assert.throws(() => closeSync(wfd), /EBADF/);
    assert.throws(() => closeSync(rfd), /EBADF/);
  });

  it('fd: on a FIFO (both ends in this process)', requires.mkfifo(), async () => {
    const fifo = join(tmp.dir, 'fifo');
    const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
    assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY);
    const listener = await listenIncoming(`fd:${rfd}`);
    const destination = await listener.accept();
    const source = await openOutgoing(`fd:${wfd}`);
    assert.match(source.description, /pipe/);
    const [, got] = await Promise.all([sendAll(source, data), receiveAll(destination)]);
    assert.equal(got.sha256, digest);
    await listener.close();
  });

  it('fd: on an inherited socket (a child process with fd 3), with a return path', async () => {
    const transport = new URL('../../src/transport/index.js', import.meta.url).href;
    // The child sends 8 MiB of its own random bytes out of fd:3, prints their digest, then
    // prints what comes back on the return path.
    const script = `
      import { randomBytes, createHash } from 'node:crypto';
      import { openOutgoing, readChunks } from ${JSON.stringify(transport)};
      const ch = await openOutgoing('fd:3');
      const data = randomBytes(8 * 1024 * 1024);
      for (let off = 0; off < data.length; off += 65536) await ch.write(data.subarray(off, off + 65536));
      await ch.end();
      process.stdout.write(createHash('sha256').update(data).digest('hex') + ' ' + ch.hasReturnPath + '\\n');
      const reply = [];
      for await (const c of readChunks(ch)) reply.push(c);
      process.stdout.write(Buffer.concat(reply).toString() + '\\n');
      ch.destroy();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const sock = child.stdio[3] as unknown as Socket;
    // Our end of a stdio socket is not half-open capable: it ends when the child's stream
    // ends, so the reply is sent right away and the child reads it after sending.
    sock.write('reply over the return path');
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      sock.on('data', (c: Buffer) => received.push(c));
      sock.on('end', resolve);
      sock.on('error', reject);
    });
    assert.equal(await exited, 0);
    const [first, reply] = stdout.trim().split('\n');
    assert.equal(first, `${sha256(Buffer.concat(received))} true`);
    assert.equal(reply, 'reply over the return path');
  });
});

describe('return path', () => {
  it('tcp: the destination replies, the source reads it', () => returnPath('tcp:127.0.0.1:0'));
  it('unix: the destination replies, the source reads it', () => returnPath(`unix:${join(tmp.dir, 'rp.sock')}`));
});
