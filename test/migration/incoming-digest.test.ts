/**
 * The destination hashes its RAM on a worker from the RAM section's END on; a RAM section
 * after that END (QEMU's loader accepts one) must make it hash again, or it would compare a
 * digest of RAM as it was before that section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { GuestMemory } from '../../src/guest/index.js';
import { IncomingMigration } from '../../src/migration/index.js';
import { ByteWriter, LivemigSectionId, MigrationStreamWriter } from '../../src/stream/index.js';
import { listenIncoming } from '../../src/transport/index.js';

const PAGE = 4096;

/** The stream, and where the first RAM END section ends (`mark()` called there). */
async function streamOf(build: (w: MigrationStreamWriter, mark: () => void) => void): Promise<{ bytes: Buffer; split: number }> {
  const chunks: Uint8Array[] = [];
  const out = new ByteWriter(async (c) => {
    chunks.push(c.slice());
  });
  let split = 0;
  build(new MigrationStreamWriter(out), () => (split = out.bytesWritten));
  await out.flush();
  return { bytes: Buffer.concat(chunks), split };
}

/** Loads the stream from a tcp peer that pauses after `split` bytes, long enough for the first hash to finish. */
async function load(bytes: Buffer, split: number): Promise<IncomingMigration> {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const port = Number(listener.address.split(':').pop());
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  const channel = await listener.accept();
  await listener.close();
  client.write(bytes.subarray(0, split));
  const rest = setTimeout(() => client.end(bytes.subarray(split)), 300);
  try {
    const incoming = new IncomingMigration({ resume: false });
    await incoming.run(channel);
    return incoming;
  } finally {
    clearTimeout(rest);
    client.destroy();
  }
}

for (const secondEnd of [false, true]) {
  test(`destination digest: ${secondEnd ? 'a second RAM END rewriting a page is hashed too' : 'one RAM END, hashed while the device sections arrive'}`, async () => {
    // the source's final RAM: page 1 holds 0x22 (written by the second END when there is one)
    const final = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * PAGE }]);
    final.blocks[0]!.bytes.fill(0x22, PAGE, 2 * PAGE);
    const { bytes, split } = await streamOf((w, mark) => {
      const id = LivemigSectionId.Ram;
      w.header();
      w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: 4 * PAGE }]);
      w.sectionEnd(id);
      w.ram.zero('pc.ram', PAGE, secondEnd ? 0x11 : 0x22);
      w.ram.eos();
      w.footer(id);
      mark();
      if (secondEnd) {
        w.sectionEnd(id);
        w.ram.zero('pc.ram', PAGE, 0x22);
        w.ram.eos();
        w.footer(id);
      }
      w.deviceState(LivemigSectionId.Device, new Uint8Array([1, 2, 3]));
      w.digest(LivemigSectionId.Digest, 'sha256', Buffer.from(final.digest(), 'hex'));
      w.eof();
    });
    const incoming = await load(bytes, split);
    assert.equal(incoming.error?.message, undefined);
    assert.equal(incoming.status, 'completed');
    assert.equal(incoming.ramDigest, final.digest());
  });
}
