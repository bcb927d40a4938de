/**
 * The destination hashes its RAM on a worker from the RAM section's END on; a RAM section
 * after that END (QEMU's loader accepts one) must make it hash again, or it would compare a
 * digest of RAM as it was before that section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Guest, GuestMemory } from '../../src/guest/index.js';
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
async function load(bytes: Buffer, split: number, incoming = new IncomingMigration({ resume: false })): Promise<IncomingMigration> {
  let rest: NodeJS.Timeout | undefined;
  try {
    await loadAfter(bytes, split, incoming, new Promise((r) => (rest = setTimeout(r, 300))));
    return incoming;
  } finally {
    clearTimeout(rest);
  }
}

/**
 * Writes `bytes` up to `split`, waits for `first` (an event of the destination), then the rest:
 * the destination gets what follows `split` only once that event happened.
 */
async function loadAfter(bytes: Buffer, split: number, incoming: IncomingMigration, first: Promise<unknown>): Promise<void> {
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const port = Number(listener.address.split(':').pop());
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  const channel = await listener.accept();
  await listener.close();
  client.write(bytes.subarray(0, split));
  const running = incoming.run(channel);
  try {
    // a destination that ends early (failed) must not leave the test waiting for the event
    await Promise.race([first, running]);
    client.end(bytes.subarray(split));
    await running;
  } finally {
    client.destroy();
  }
}

/** The device state of a paused 4-page seed guest. */
async function seedGuestState(): Promise<Uint8Array> {
  const g = await Guest.start({ memory: new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * PAGE }]), workload: 'seed' });
  await g.pause();
  const state = g.deviceState();
  await g.stop();
  return state;
}

/** The stream's start: its header and the RAM setup of a 4-page guest. */
function ramSetup(w: MigrationStreamWriter): void {
  w.header();
  w.ramSetup(LivemigSectionId.Ram, [{ idstr: 'pc.ram', lengthBytes: 4 * PAGE }]);
}

/** A RAM END section that writes page 1 full of `fill` (without one, an empty END). */
function ramEnd(w: MigrationStreamWriter, fill?: number): void {
  w.sectionEnd(LivemigSectionId.Ram);
  if (fill !== undefined) w.ram.zero('pc.ram', PAGE, fill);
  w.ram.eos();
  w.footer(LivemigSectionId.Ram);
}

/** The RAM these streams leave: page 1 holds 0x22. */
function finalRam(): GuestMemory {
  const final = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 * PAGE }]);
  final.blocks[0]!.bytes.fill(0x22, PAGE, 2 * PAGE);
  return final;
}

for (const secondEnd of [false, true]) {
  test(`destination digest: ${secondEnd ? 'a second RAM END rewriting a page is hashed too' : 'one RAM END, hashed while the device sections arrive'}`, async () => {
    // page 1 holds 0x22 at the end (written by the second END when there is one)
    const final = finalRam();
    const { bytes, split } = await streamOf((w, mark) => {
      ramSetup(w);
      ramEnd(w, secondEnd ? 0x11 : 0x22);
      mark();
      if (secondEnd) ramEnd(w, 0x22);
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

test('destination: vCPUs started paused when the device state arrives are stopped when the digest does not match', async (t) => {
  const state = await seedGuestState();
  const { bytes, split } = await streamOf((w, mark) => {
    ramSetup(w);
    ramEnd(w);
    mark();
    w.deviceState(LivemigSectionId.Device, state);
    w.digest(LivemigSectionId.Digest, 'sha256', Buffer.alloc(32, 0xab)); // not the RAM's
    w.eof();
  });
  const starts = t.mock.method(Guest, 'resumeFrom');
  const stops = t.mock.method(Guest.prototype, 'stop');
  const incoming = await load(bytes, split, new IncomingMigration());
  assert.equal(incoming.status, 'failed');
  assert.match(incoming.error?.message ?? '', /RAM digest mismatch/);
  assert.equal(incoming.guest, undefined);
  assert.equal(starts.mock.callCount(), 1, 'the vCPUs were started once, early');
  assert.equal((starts.mock.calls[0]!.arguments[2] as { paused?: boolean }).paused, true);
  for (let i = 0; i < 200 && stops.mock.callCount() === 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(stops.mock.callCount(), 1, 'the paused vCPUs were not stopped');
});

for (const secondEnd of [false, true]) {
  test(`destination checks: ${secondEnd ? 'run early on the first END, again after a later RAM END' : 'run once, while the digest is still on its way'}`, { timeout: 30_000 }, async () => {
    const state = await seedGuestState();
    // page 1 holds 0x22 at the end (0x11 before a second END rewrites it)
    const final = finalRam();
    const { bytes, split } = await streamOf((w, mark) => {
      ramSetup(w);
      ramEnd(w, secondEnd ? 0x11 : 0x22);
      w.deviceState(LivemigSectionId.Device, state);
      mark();
      if (secondEnd) ramEnd(w, 0x22);
      w.digest(LivemigSectionId.Digest, 'sha256', Buffer.from(final.digest(), 'hex'));
      w.eof();
    });
    const seen: number[] = [];
    let firstCheck!: () => void;
    const checked = new Promise<void>((r) => (firstCheck = r));
    const incoming = new IncomingMigration({
      checks: (memory, vm) => {
        seen.push(memory.blocks[0]!.bytes[PAGE]!);
        assert.equal(vm?.status, 'paused', 'checks run before the guest resumes');
        firstCheck();
        return { 'page-1': memory.blocks[0]!.bytes[PAGE] };
      },
    });
    // the rest of the stream (the digest, and the second END) is sent only once the checks ran
    await loadAfter(bytes, split, incoming, checked);
    assert.equal(incoming.error?.message, undefined);
    assert.equal(incoming.status, 'completed');
    assert.deepEqual(seen, secondEnd ? [0x11, 0x22] : [0x22]);
    assert.deepEqual(incoming.checks, { 'page-1': 0x22 });
    await incoming.guest?.stop();
  });
}
