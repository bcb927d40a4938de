/**
 * The RAM check must catch a page that is wrong on the destination. Here the destination's
 * loader "writes" page 37 wrong every time it lands (a fault injected after the write, before
 * the page is hashed): under before-resume the migration fails on both sides and the source
 * runs on; under after-resume the guest resumes, the migration completes, and both sides say
 * loudly that the check failed, the source naming that page. Both fail if the check is broken.
 */
import { randomFillSync } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, GuestMemory } from '../../src/guest/index.js';
import { IncomingMigration, OutgoingMigration } from '../../src/migration/index.js';
import type { VerificationResult } from '../../src/migration/index.js';
import { listenIncoming } from '../../src/transport/index.js';

const BAD_PAGE = 37;

async function migrate(verify: 'before-resume' | 'after-resume', corrupt: boolean) {
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: 4 << 20 }]);
  // RAM in use (no zero page): a ZERO record's page is hashed from its fill byte, not read back
  randomFillSync(memory.blocks[0]!.bytes);
  const guest = await Guest.start({ memory, workload: 'seed' });
  const listener = await listenIncoming('tcp:127.0.0.1:0');
  const incoming = new IncomingMigration({
    ...(corrupt
      ? {
          afterPageLanded: (m: GuestMemory, idstr: string, offset: number) => {
            if (offset === BAD_PAGE * 4096) m.block(idstr)!.bytes[offset + 100]! ^= 0x5a;
          },
        }
      : {}),
  });
  const destFailures: VerificationResult[] = [];
  incoming.on('verification-failed', (v) => destFailures.push(v));
  const received = listener.accept({ timeoutMs: 30_000 }).then((ch) => incoming.run(ch));
  const m = new OutgoingMigration({ guest, parameters: { verify } });
  const srcFailures: VerificationResult[] = [];
  m.on('verification-failed', (v) => srcFailures.push(v));
  const status = await m.run(listener.address);
  const destStatus = await received;
  await listener.close();
  return { guest, incoming, m, status, destStatus, srcFailures, destFailures };
}

async function stopAll(r: { guest: Guest; incoming: IncomingMigration }): Promise<void> {
  await r.guest.stop();
  await r.incoming.guest?.stop();
}

test('verify before-resume: a page wrong on the destination fails the migration, names the page, and the source runs on', async () => {
  const r = await migrate('before-resume', true);
  try {
    assert.equal(r.status, 'failed');
    assert.equal(r.destStatus, 'failed');
    assert.equal(r.incoming.guest, undefined, 'the destination never resumed');
    assert.match(r.m.error?.message ?? '', /RAM digest mismatch \(page128, before-resume\): 1 chunk\(s\)/);
    assert.match(r.m.error?.message ?? '', new RegExp(`pc\\.ram\\+0x${(BAD_PAGE * 4096).toString(16)} \\(page ${BAD_PAGE}\\)`));
    assert.equal(r.m.verification?.result, 'mismatch');
    assert.deepEqual(r.m.verification?.pages, [{ block: 'pc.ram', offset: BAD_PAGE * 4096, page: BAD_PAGE }]);
    assert.deepEqual(r.incoming.verification?.chunks, [0], 'the destination locates it to its chunk');
    assert.equal(r.guest.status, 'running', 'the source guest runs on');
  } finally {
    await stopAll(r);
  }
});

test('verify after-resume: the guest resumes at once, and a page wrong on the destination is reported loudly with that page', async () => {
  const r = await migrate('after-resume', true);
  try {
    assert.equal(r.status, 'completed', r.m.error?.message);
    assert.equal(r.destStatus, 'completed');
    assert.equal(r.incoming.guest?.status, 'running', 'the guest runs on the destination');
    assert.equal(r.srcFailures.length, 1, 'the source emitted verification-failed');
    assert.deepEqual(r.srcFailures[0]!.pages, [{ block: 'pc.ram', offset: BAD_PAGE * 4096, page: BAD_PAGE }]);
    assert.equal(r.destFailures.length, 1, 'the destination emitted verification-failed');
    assert.match(r.incoming.error?.message ?? '', /RAM digest mismatch \(page128, after-resume\)/);
    const v = r.m.info().livemig?.verification;
    assert.equal(v?.result, 'mismatch');
    assert.equal(v?.mode, 'after-resume');
    assert.deepEqual(v?.pages, [{ block: 'pc.ram', offset: BAD_PAGE * 4096, page: BAD_PAGE }]);
  } finally {
    await stopAll(r);
  }
});

for (const verify of ['before-resume', 'after-resume'] as const) {
  test(`verify ${verify}: without a fault the check matches and the RAM is the source's`, async () => {
    const r = await migrate(verify, false);
    try {
      assert.equal(r.status, 'completed', r.m.error?.message);
      assert.equal(r.destStatus, 'completed', r.incoming.error?.message);
      assert.equal(r.m.verification?.result, 'matched');
      assert.equal(r.incoming.verification?.result, 'matched');
      assert.equal(r.incoming.ramDigest, r.m.ramDigest);
      assert.equal(r.srcFailures.length + r.destFailures.length, 0);
      // the source is paused since the switchover: its RAM is what the destination resumed from
      const { page128Digest } = await import('../../src/codec/page-hash128.js');
      assert.equal(r.m.ramDigest, page128Digest(r.guest.memory.blocks.map((b) => b.bytes)));
    } finally {
      await stopAll(r);
    }
  });
}
