/**
 * Failures: each one is a TransportError naming the URI and the cause, nothing hangs, and no
 * stray 'error' event crashes the process.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import diagnostics from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenIncoming, openOutgoing, readChunks, TransportError, type Channel } from '../../src/transport/index.js';
import { MiB, assertNoLeaks, eventually, groupAlive, payload, tempDir } from './helpers.js';

const tmp = tempDir();
after(async () => {
  tmp.remove();
  await assertNoLeaks();
});

/** Asserts `promise` rejects with a TransportError of `code` whose message matches every pattern. */
async function failsWith(promise: Promise<unknown>, code: 'TRANSPORT_CLOSED' | 'TRANSPORT_INVALID', ...patterns: RegExp[]): Promise<TransportError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TransportError, `expected a TransportError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Writes 256 KiB chunks until a write rejects; returns its error. */
async function writeUntilFailure(channel: Channel, limit = 512 * MiB): Promise<unknown> {
  const chunk = payload(256 * 1024);
  try {
    for (let sent = 0; sent < limit; sent += chunk.byteLength) await channel.write(chunk);
  } catch (err) {
    return err;
  }
  throw new Error('every write succeeded');
}

describe('opening failures', () => {
  it('connection refused names the URI and ECONNREFUSED', async () => {
    const port = await freePort();
    const err = await failsWith(openOutgoing(`tcp:127.0.0.1:${port}`), 'TRANSPORT_CLOSED', new RegExp(`^tcp:127\\.0\\.0\\.1:${port}: cannot connect: connection refused`), /ECONNREFUSED/);
    assert.equal(err.osCode, 'ECONNREFUSED');
    assert.equal(err.uri, `tcp:127.0.0.1:${port}`);
  });

  it('unix socket path that does not exist: ENOENT', async () => {
    const path = join(tmp.dir, 'nobody.sock');
    const err = await failsWith(openOutgoing(`unix:${path}`), 'TRANSPORT_CLOSED', new RegExp(`^unix:${path}: cannot connect: no such file or directory`));
    assert.equal(err.osCode, 'ENOENT');
  });

  it('connect times out (and aborts) against a listener whose accept queue is full', { timeout: 30_000 }, async (t) => {
    if (process.platform !== 'linux') {
      t.skip('relies on Linux dropping SYNs when the accept queue is full');
      return;
    }
    // A process that listens with a backlog of 1, says its port and stops itself (SIGSTOP, in
    // the same synchronous turn: it never accepts). The kernel queues connections until the
    // queue is full, then drops further SYNs: a connect just waits.
    const child = spawn(process.execPath, ['-e', `
      const s = require('net').createServer();
      s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        require('fs').writeSync(1, s.address().port + '\\n');
        process.kill(process.pid, 'SIGSTOP');
      });
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fillers: Channel[] = [];
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const uri = `tcp:127.0.0.1:${Number(line.toString())}`;
      // Each connect either completes (one more queued connection) or times out (the queue is
      // full): fill the queue until one times out. The kernel queues backlog + 1.
      let err: TransportError | undefined;
      let started = 0;
      while (err === undefined) {
        assert.ok(fillers.length < 16, `${fillers.length} connections queued and none timed out`);
        started = performance.now();
        try {
          fillers.push(await openOutgoing(uri, { timeoutMs: 200 }));
        } catch (e) {
          assert.ok(e instanceof TransportError, String(e));
          err = e;
        }
      }
      assert.ok(fillers.length >= 1, 'the queue took connections before it was full');
      assert.equal(err.code, 'TRANSPORT_CLOSED');
      assert.match(err.message, new RegExp(`^${uri}: connect timed out after 200 ms$`));
      assert.equal(err.osCode, 'ETIMEDOUT');
      assert.ok(performance.now() - started >= 199, 'not before its timeout');
      // Abort a connect in progress: once its socket exists (and connects, in the same turn).
      const ac = new AbortController();
      const abortOnSocket = (): void => void setImmediate(() => ac.abort());
      diagnostics.subscribe('net.client.socket', abortOnSocket);
      try {
        await failsWith(openOutgoing(uri, { signal: ac.signal }), 'TRANSPORT_CLOSED', /connect aborted/);
      } finally {
        diagnostics.unsubscribe('net.client.socket', abortOnSocket);
      }
    } finally {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'close');
    }
  });

  it('outgoing to port 0 or an empty host is invalid, before connecting', async () => {
    await failsWith(openOutgoing('tcp:127.0.0.1:0'), 'TRANSPORT_INVALID', /port 0 is only for listening/);
    await failsWith(openOutgoing('tcp::4444'), 'TRANSPORT_INVALID', /needs a host/);
  });

  it('bad URIs and options are rejected before anything is opened', async () => {
    await failsWith(openOutgoing('udp:1.2.3.4:5'), 'TRANSPORT_INVALID', /expects a valid migration protocol/);
    await failsWith(listenIncoming('tcp:127.0.0.1:99999'), 'TRANSPORT_INVALID', /port must be/);
    await failsWith(openOutgoing('tcp:127.0.0.1:1', { timeoutMs: 0 }), 'TRANSPORT_INVALID', /timeoutMs must be a positive number/);
    await failsWith(openOutgoing('tcp:127.0.0.1:1', { timeoutMs: Number.NaN }), 'TRANSPORT_INVALID', /timeoutMs/);
    await failsWith(openOutgoing('tcp:127.0.0.1:1', { timeoutMs: 2 ** 40 }), 'TRANSPORT_INVALID', /timeoutMs/);
  });

  it('an already aborted signal fails at once', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    try {
      await failsWith(openOutgoing(listener.address, { signal: AbortSignal.abort() }), 'TRANSPORT_CLOSED', /connect aborted/);
      await failsWith(listener.accept({ signal: AbortSignal.abort() }), 'TRANSPORT_CLOSED', /aborted/);
    } finally {
      await listener.close();
    }
  });

  it('listening on a port in use: EADDRINUSE', async () => {
    const first = await listenIncoming('tcp:127.0.0.1:0');
    try {
      const err = await failsWith(listenIncoming(first.address), 'TRANSPORT_CLOSED', /cannot listen: address already in use/);
      assert.equal(err.osCode, 'EADDRINUSE');
    } finally {
      await first.close();
    }
  });

  it('file: missing, a directory, or in a missing directory', async () => {
    const missing = join(tmp.dir, 'missing.mig');
    const l1 = await listenIncoming(`file:${missing}`);
    const e1 = await failsWith(l1.accept(), 'TRANSPORT_CLOSED', new RegExp(`^file:${missing}: cannot open the file for reading: no such file or directory`));
    assert.equal(e1.osCode, 'ENOENT');
    const dir = join(tmp.dir, 'a-directory');
    mkdirSync(dir);
    const l2 = await listenIncoming(`file:${dir}`);
    const e2 = await failsWith(l2.accept(), 'TRANSPORT_CLOSED', /is a directory/);
    assert.equal(e2.osCode, 'EISDIR');
    await failsWith(openOutgoing(`file:${join(tmp.dir, 'no', 'such', 'dir', 'x')}`), 'TRANSPORT_CLOSED', /cannot open the file for writing: no such file or directory/);
  });

  it('fd: a descriptor that is not open: EBADF, at listen and at open', async () => {
    const e1 = await failsWith(listenIncoming('fd:987654'), 'TRANSPORT_CLOSED', /^fd:987654: descriptor 987654 is not usable: bad file descriptor/);
    assert.equal(e1.osCode, 'EBADF');
    await failsWith(openOutgoing('fd:987654'), 'TRANSPORT_CLOSED', /EBADF/);
  });
});

describe('listener behaviour', () => {
  it('accept times out with ETIMEDOUT, naming the address', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    try {
      const started = Date.now();
      const err = await failsWith(listener.accept({ timeoutMs: 60 }), 'TRANSPORT_CLOSED', new RegExp(`^${listener.address}: waiting for the source to connect timed out after 60 ms$`));
      assert.equal(err.osCode, 'ETIMEDOUT');
      assert.ok(Date.now() - started < 2000);
      // The listener still works after a timed-out accept.
      const [src, dst] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
      src.destroy();
      dst.destroy();
    } finally {
      await listener.close();
    }
  });

  it('accept aborted by a signal while waiting', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    try {
      const ac = new AbortController();
      const pending = listener.accept({ signal: ac.signal });
      setTimeout(() => ac.abort(new Error('operator cancelled')), 20);
      await failsWith(pending, 'TRANSPORT_CLOSED', /aborted: operator cancelled/);
    } finally {
      await listener.close();
    }
  });

  it('a connection made before accept() is kept for it', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const src = await openOutgoing(listener.address);
    await sleep(20);
    const dst = await listener.accept({ timeoutMs: 1000 });
    await src.write(Buffer.from('early'));
    await src.end();
    const got: Uint8Array[] = [];
    for await (const c of readChunks(dst)) got.push(c);
    assert.equal(Buffer.concat(got).toString(), 'early');
    src.destroy();
    dst.destroy();
    await listener.close();
  });

  it('close() fails pending accepts, later accepts, and is idempotent', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const pending = listener.accept();
    await listener.close();
    await listener.close();
    await failsWith(pending, 'TRANSPORT_CLOSED', /closed before a source connected/);
    await failsWith(listener.accept(), 'TRANSPORT_CLOSED', /the listener is closed/);
    await failsWith(openOutgoing(listener.address), 'TRANSPORT_CLOSED', /ECONNREFUSED/);
  });

  it('exec/file/fd listeners accept exactly one migration', async () => {
    const file = join(tmp.dir, 'once.mig');
    writeFileSync(file, 'x');
    const listener = await listenIncoming(`file:${file}`);
    const ch = await listener.accept();
    await failsWith(listener.accept(), 'TRANSPORT_INVALID', /carries one migration and it was already accepted/);
    ch.destroy();
    await listener.close();
  });

  it('unix: a stale socket file is replaced, a regular file is not, a live socket is not', async () => {
    // A stale socket: its listener was SIGKILLed and could not remove it.
    const stale = join(tmp.dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    child.kill('SIGKILL');
    await once(child, 'close');
    assert.ok(statSync(stale).isSocket());
    const l1 = await listenIncoming(`unix:${stale}`);
    await l1.close();

    const regular = join(tmp.dir, 'regular.sock');
    writeFileSync(regular, 'precious');
    await failsWith(listenIncoming(`unix:${regular}`), 'TRANSPORT_CLOSED', /exists and is not a socket/);
    assert.equal(readFileSync(regular, 'utf8'), 'precious');

    const live = join(tmp.dir, 'live.sock');
    const l2 = await listenIncoming(`unix:${live}`);
    const err = await failsWith(listenIncoming(`unix:${live}`), 'TRANSPORT_CLOSED', /another process is listening/);
    assert.equal(err.osCode, 'EADDRINUSE');
    await l2.close();
  });
});

describe('failures mid-stream', () => {
  it('peer killed mid-stream: a pending or next write rejects with TRANSPORT_CLOSED', async () => {
    // The destination is another process that accepts and never reads, then is SIGKILLed.
    const child = spawn(process.execPath, ['-e', `
      const s = require('net').createServer((c) => c.pause());
      s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const uri = `tcp:127.0.0.1:${Number(line.toString())}`;
    const channel = await openOutgoing(uri);
    try {
      const failure = writeUntilFailure(channel);
      await sleep(50);
      child.kill('SIGKILL');
      await failsWith(failure.then((e) => Promise.reject(e)), 'TRANSPORT_CLOSED', new RegExp(`^${uri}: `), /reset|broken pipe|closed/);
      await failsWith(channel.write(Buffer.alloc(1)), 'TRANSPORT_CLOSED');
      await failsWith(channel.end(), 'TRANSPORT_CLOSED');
    } finally {
      channel.destroy();
      if (child.exitCode === null && child.signalCode === null) await once(child, 'close');
    }
  });

  it('peer reset (RST) mid-stream, in both directions', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const [src, dst] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    await listener.close();
    // The source resets: the destination's reader gets a TransportError, not a clean end.
    const reading = (async () => {
      for await (const c of readChunks(dst)) void c;
    })();
    await src.write(payload(1024));
    await sleep(20);
    (src.output as Socket).resetAndDestroy();
    await failsWith(reading, 'TRANSPORT_CLOSED', /^tcp:127\.0\.0\.1:[0-9]+: reading tcp .* failed: connection reset by peer/);
    await failsWith(dst.write(Buffer.alloc(1)), 'TRANSPORT_CLOSED');
    dst.destroy();
    src.destroy();
  });

  it('destroy(reason) fails pending writes and readers with the reason; destroy is idempotent', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const [src, dst] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    await listener.close();
    const failure = writeUntilFailure(src);
    const reading = (async () => {
      for await (const c of readChunks(src)) void c;
    })();
    await sleep(30);
    src.destroy(new Error('migration cancelled'));
    src.destroy();
    const err = (await failure) as TransportError;
    assert.ok(err instanceof TransportError);
    assert.match(err.message, /was destroyed: migration cancelled/);
    await failsWith(reading, 'TRANSPORT_CLOSED', /migration cancelled/);
    await failsWith(src.end(), 'TRANSPORT_CLOSED', /destroyed/);
    dst.destroy();
  });

  it('write() after end() is a misuse; end() is idempotent', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const [src, dst] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    await listener.close();
    await src.end();
    await src.end();
    await failsWith(src.write(Buffer.alloc(1)), 'TRANSPORT_INVALID', /write\(\) after end\(\)/);
    src.destroy();
    dst.destroy();
  });
});

describe('exec failures', () => {
  it('end() rejects naming a non-zero exit status and the command\'s stderr', async () => {
    const ch = await openOutgoing('exec:cat > /dev/null; echo "disk full" >&2; exit 3');
    await ch.write(Buffer.from('some stream bytes'));
    await failsWith(ch.end(), 'TRANSPORT_CLOSED', /^exec:cat > \/dev\/null; echo "disk full" >&2; exit 3: the command exited with status 3; stderr: disk full$/);
  });

  it('a command that exits early makes writes reject with its status', async () => {
    const ch = await openOutgoing('exec:echo "no such host" >&2; exit 7');
    const err = await writeUntilFailure(ch, 64 * MiB);
    assert.ok(err instanceof TransportError);
    assert.equal(err.code, 'TRANSPORT_CLOSED');
    assert.match(err.message, /the command exited with status 7/);
    assert.match(err.message, /stderr: no such host/);
    ch.destroy();
  });

  it('a command that is not found reports status 127', async () => {
    const ch = await openOutgoing('exec:livemig-no-such-command-xyz');
    await failsWith(ch.end(), 'TRANSPORT_CLOSED', /exited with status 127/, /not found/);
  });

  it('incoming: a failing command ends the input with an error, not a clean EOF', async () => {
    const missing = join(tmp.dir, 'nope.mig');
    const listener = await listenIncoming(`exec:cat '${missing}'`);
    const ch = await listener.accept();
    const reading = (async () => {
      for await (const c of readChunks(ch)) void c;
    })();
    await failsWith(reading, 'TRANSPORT_CLOSED', /the command exited with status 1; stderr: .*No such file/);
    await listener.close();
  });

  it('destroy() kills the command and whatever it started', async () => {
    const out = await openOutgoing('exec:sleep 30; cat > /dev/null');
    const inc = await (await listenIncoming('exec:sleep 30; echo never')).accept();
    const pids = [out, inc].map((ch) => Number(/pid ([0-9]+)/.exec(ch.description)?.[1]));
    assert.ok(pids.every((p) => p > 0));
    assert.ok(pids.every((p) => groupAlive(p)));
    out.destroy();
    inc.destroy();
    assert.ok(await eventually(() => pids.every((p) => !groupAlive(p))), 'process groups are gone');
  });
});
