/**
 * Backpressure: against a peer that reads slowly (or not at all for a while), write() must wait
 * for 'drain', so the writer's buffered bytes stay under the stream's high-water mark plus one
 * chunk and the sender stops instead of queueing the whole stream in memory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenIncoming, openOutgoing, type Channel } from '../../src/transport/index.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { MiB, assertNoLeaks, payload, sha256, tempDir } from './helpers.js';

const tmp = tempDir();
after(async () => {
  tmp.remove();
  await assertNoLeaks();
});

const TOTAL = 32 * MiB;
const CHUNK = 256 * 1024;
const STALL_MS = 300;

/**
 * Sends TOTAL bytes from `source` while `destination` reads nothing for STALL_MS, then reads in
 * bursts with pauses; asserts the bytes arrive intact, the writer's buffer never held more than
 * the mark plus one chunk, and the source stopped while the peer was stalled.
 */
async function slowPeer(source: Channel, destination: Channel): Promise<void> {
  const output = source.output;
  const input = destination.input;
  assert.ok(output !== null && input !== null);
  const data = payload(TOTAL);
  const received = createHash('sha256');
  let receivedBytes = 0;

  // The reader: nothing for STALL_MS, then 1 MiB bursts separated by 2 ms pauses.
  input.pause();
  const reading = (async () => {
    await sleep(STALL_MS);
    let sinceBreak = 0;
    for await (const chunk of input.iterator({ destroyOnReturn: false })) {
      received.update(chunk as Buffer);
      receivedBytes += (chunk as Buffer).byteLength;
      sinceBreak += (chunk as Buffer).byteLength;
      if (sinceBreak >= MiB) {
        sinceBreak = 0;
        await sleep(2);
      }
    }
  })();

  let maxBuffered = 0;
  let waitedForDrain = 0;
  let writtenDuringStall = -1;
  const stallEnds = sleep(STALL_MS - 50).then(() => {
    writtenDuringStall = source.bytesWritten;
  });
  for (let off = 0; off < TOTAL; off += CHUNK) {
    const pending = source.write(data.subarray(off, off + CHUNK));
    // Sampled right after the chunk was handed over: the most the writer ever holds.
    maxBuffered = Math.max(maxBuffered, output.writableLength);
    if (output.writableNeedDrain) waitedForDrain++;
    await pending;
    assert.ok(output.writableLength < output.writableHighWaterMark, 'write() resolved with the buffer still over the mark');
  }
  await source.end();
  await stallEnds;
  await reading;

  assert.equal(receivedBytes, TOTAL);
  assert.equal(received.digest('hex'), sha256(data));
  assert.ok(maxBuffered <= output.writableHighWaterMark + CHUNK, `writer buffered ${maxBuffered} bytes (mark ${output.writableHighWaterMark}, chunk ${CHUNK})`);
  assert.ok(waitedForDrain > 0, 'write() never had to wait for drain');
  // While the peer read nothing, only what the kernel's socket buffers hold could go out.
  assert.ok(writtenDuringStall >= 0 && writtenDuringStall < TOTAL / 2, `source handed over ${writtenDuringStall} bytes while the peer was not reading`);
}

describe('backpressure', () => {
  it('tcp: the writer stays bounded against a slow reader', async () => {
    const listener = await listenIncoming('tcp:127.0.0.1:0');
    const [source, destination] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    try {
      await slowPeer(source, destination);
    } finally {
      source.destroy();
      destination.destroy();
      await listener.close();
    }
  });

  it('unix: the writer stays bounded against a slow reader', async () => {
    const listener = await listenIncoming(`unix:${join(tmp.dir, 'bp.sock')}`);
    const [source, destination] = await Promise.all([openOutgoing(listener.address), listener.accept()]);
    try {
      await slowPeer(source, destination);
    } finally {
      source.destroy();
      destination.destroy();
      await listener.close();
    }
  });
});
