/**
 * JIT warm-up of the RAM engine, run at start-up by `livemig run` (the source) and `livemig
 * incoming` (before it says it is listening), off the migration's clock.
 *
 * Why: the first ~150 ms of a migration ran in V8's interpreter and baseline code, with both
 * processes' compiler threads competing with their main threads for a 2-core machine's cores.
 * The first batches of an idle 1 GiB guest moved 5–15 k pages per 50 ms against 60–100 k once
 * compiled (`node dist/bench/migrate.bench.js --cold` shows the difference). A running source
 * has long been warm when a migration starts; this makes a fresh process so too.
 *
 * How: a small guest (zero, random and lightly changed pages) is sent for a few passes, with
 * XBZRLE, through the real sender, record writer and byte writer, and the stream is loaded by
 * the real loader into RAM that starts zero: every hot path of both sides runs some thousand
 * times. Then a small machine is migrated a few times through the real engine over a loopback
 * tcp connection, a page a batch (warm-up-migration.ts), so that the per-batch paths
 * (migrations' own objects, Node's socket writes, the channel, the pooled reader, the landed
 * pages' hashes) are compiled for the objects a real migration makes. The last objects are kept
 * for the life of the process (some MiB: see `retained`), so that V8 keeps the code compiled
 * for them. The RAM loaded back must equal the RAM sent, each time (a self-check of the codecs,
 * the stream and the RAM check on this machine's kernel, wasm or TS).
 */
import { randomFillSync } from 'node:crypto';
import { LivemigError } from '../errors.js';
import { ExplicitDirtyLog, GuestMemory } from '../guest/index.js';
import { ByteWriter, LivemigSectionId, loadMigrationStream, MigrationStreamWriter } from '../stream/index.js';
import type { LoadTarget } from '../stream/index.js';
import { IO_AREA_BYTES } from './io-area.js';
import { RamSender } from './ram-sender.js';
import type { DeltaCodec } from './parameters.js';
import { MigrationCounters } from './stats.js';
import { warmUpMigrations } from './warm-up-migration.js';

const WARM_RAM_BYTES = 4 << 20;
const PASSES = 4;
const PAGE = 4096;

/**
 * The warm-up's objects, kept for the life of the process. V8's compiled code depends weakly on
 * the objects and maps it was compiled for: once the warm-up's objects were collected, the
 * first GC threw that code away ("weak objects"), and the first migration started cold, its
 * objects taking new maps whose fields were generalized mid-pass ("maps became deprecated",
 * which aborted the compile of the page loop; `--trace-deopt`, `--trace-generalization`).
 */
let retained: readonly unknown[] = [];

/** @internal How many objects the warm-up keeps alive (for tests). */
export function warmUpRetained(): number {
  return retained.length;
}

export interface WarmUpResult {
  /** Wall-clock milliseconds spent. */
  ms: number;
  /** Stream bytes produced and loaded in memory (an XBZRLE and an XBRLE round). */
  streamBytes: number;
  /** Stream bytes of the warm-up's migrations over loopback tcp (0: no connection could be made). */
  socketBytes: number;
}

/** One RAM PART section holding every page the sender has left. */
function ramPart(w: MigrationStreamWriter, sender: RamSender): void {
  const id = LivemigSectionId.Ram;
  w.sectionPart(id);
  while (sender.remaining > 0) sender.sendPages(w.ram, () => false, false);
  w.ram.eos();
  w.footer(id);
}

/**
 * Counters whose fields V8 already stores as doubles. A migration's counters take fractions
 * (estimates: the bandwidth, the bytes per dirty page) and pass the small-integer range (2^30
 * bytes); the first such store changes the field's representation, which deprecates the
 * counters' map and throws away the code compiled for it, mid-pass (the page loop's compile
 * was aborted in the first migration). The warm-up makes that change here, once: later
 * counters are built with double fields.
 */
function generalizedCounters(): MigrationCounters {
  const c = new MigrationCounters();
  const fields = c as unknown as Record<string, number>;
  for (const k of Object.keys(fields)) fields[k] = 2 ** 40 + 0.5;
  return new MigrationCounters();
}

/**
 * Sends the guest for a few passes with `codec`, then a stop-and-copy, into memory, and loads
 * the stream back into RAM that starts zero. Returns the stream's size and the objects to keep.
 */
async function inMemoryRound(memory: GuestMemory, log: ExplicitDirtyLog, codec: DeltaCodec): Promise<{ bytes: number; keep: unknown[] }> {
  const ram = memory.blocks[0]!.bytes;
  // a cache of half the RAM (the random half): smaller than RAM, so pass 2 takes the cache's
  // miss path (whole pages, inserted) before later passes send deltas
  const sender = new RamSender(memory, log, { delta: codec, cacheSizeBytes: WARM_RAM_BYTES / 2, cacheWays: 2 }, generalizedCounters());
  const chunks: Uint8Array[] = [];
  const bytes = new ByteWriter(async (chunk, release) => {
    // a copy is kept for the loader below; the chunk goes back to the writer, as a socket's
    // does, so that its reuse path is compiled too (left cold, it deoptimized the real
    // migration's byte writer once chunks came back)
    chunks.push(chunk.slice());
    release();
  });
  const w = new MigrationStreamWriter(bytes);
  const id = LivemigSectionId.Ram;
  w.header('livemig');
  sender.setup();
  w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: WARM_RAM_BYTES }]);
  try {
    // the passes, then a stop-and-copy's: its pages in the END section, sent as the last stage
    // (the first migration's stop-and-copy ran that path uncompiled)
    for (let pass = 0; pass <= PASSES; pass++) {
      if (pass > 0) {
        // change one word in each page of the random half, and make a few pages zero
        for (let p = 0; p < WARM_RAM_BYTES / 2 / PAGE; p++) log.write(p * PAGE + ((p * 8 + pass * 4) & (PAGE - 1)), ram.subarray(p * PAGE + 64, p * PAGE + 68));
        log.write(pass * PAGE, new Uint8Array(PAGE));
        sender.sync();
      }
      if (pass < PASSES) ramPart(w, sender);
    }
    w.sectionEnd(id);
    while (sender.remaining > 0) sender.sendPages(w.ram, () => false, true);
    w.ram.eos();
    w.footer(id);
    w.eof();
    await bytes.flush();
  } finally {
    sender.dispose();
  }
  const loaded = new Uint8Array(new SharedArrayBuffer(WARM_RAM_BYTES));
  const target: LoadTarget = {
    ramStartsZero: true,
    setupRam: () => new Map([['pc.ram', loaded]]),
  };
  const result = await loadMigrationStream(
    (async function* () {
      yield* chunks;
    })(),
    target,
    { maxRamBytes: WARM_RAM_BYTES },
  );
  // a start-up self-check for free: what was loaded is what was sent
  checkLoaded(loaded, ram, `in memory, ${codec}`);
  return { bytes: result.bytesRead, keep: [sender, bytes, w, target, loaded] };
}

/** The start-up self-check: what was loaded is what was sent. */
function checkLoaded(loaded: Uint8Array, sent: Uint8Array, how: string): void {
  if (Buffer.compare(Buffer.from(loaded.buffer, loaded.byteOffset, loaded.length), Buffer.from(sent.buffer, sent.byteOffset, sent.length)) !== 0) {
    throw new LivemigError('GUEST_STATE', `engine self-check failed: the warm-up stream loaded back to different RAM (${how})`);
  }
}

/** Runs the engine's hot paths until V8 compiles them; resolves once the stream was loaded back. */
export async function warmUpEngine(): Promise<WarmUpResult> {
  const t0 = performance.now();
  // with an I/O area, as `livemig run` and `livemig incoming` allocate RAM: its paths compile too
  const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: WARM_RAM_BYTES }], { ioBytes: IO_AREA_BYTES });
  randomFillSync(memory.blocks[0]!.bytes.subarray(0, WARM_RAM_BYTES / 2)); // the first half random, the rest zero
  const log = new ExplicitDirtyLog(memory);
  // both delta codecs: a matrix's XBRLE cells decoded their last stage uncompiled, in the downtime
  const xbzrle = await inMemoryRound(memory, log, 'xbzrle');
  const xbrle = await inMemoryRound(memory, log, 'xbrle');
  const migrations = await warmUpMigrations();
  retained = [memory, log, ...xbzrle.keep, ...xbrle.keep, ...migrations.keep];
  return { ms: performance.now() - t0, streamBytes: xbzrle.bytes + xbrle.bytes, socketBytes: migrations.bytes };
}
