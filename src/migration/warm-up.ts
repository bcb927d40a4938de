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
 * times. Then its first pass goes six times through a loopback tcp connection, opened and
 * read as a migration's is, so that the per-chunk paths (Node's socket writes, the channel, the
 * pooled reader) are compiled too. Its objects are kept for the life of the process (a few MiB:
 * see `retained`), so that V8 keeps the code compiled for them. The RAM loaded back must equal
 * the RAM sent, each time (a self-check of the codecs and stream on this machine's kernel, wasm or TS).
 */
import { randomFillSync } from 'node:crypto';
import { LivemigError } from '../errors.js';
import { ExplicitDirtyLog, GuestMemory, LandedPageHashes } from '../guest/index.js';
import { page128Digest } from '../codec/page-hash128.js';
import { ByteSource, ByteWriter, LivemigSectionId, loadMigrationStream, MigrationStreamWriter } from '../stream/index.js';
import type { LoadTarget } from '../stream/index.js';
import { listenIncoming, openOutgoing, readChunks, TransportError } from '../transport/index.js';
import type { Channel } from '../transport/index.js';
import { IO_AREA_BYTES, hashSlotOf, ioAreaOf } from './io-area.js';
import { OutgoingStream, RAM_SECTION_ID } from './outgoing-stream.js';
import { RamSender } from './ram-sender.js';
import { MigrationCounters } from './stats.js';

const WARM_RAM_BYTES = 4 << 20;
const PASSES = 4;
/** First passes (no delta, pages sent from guest RAM in place) run until V8 compiles that loop. */
const FIRST_PASSES = 40;
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
  /** Stream bytes produced and loaded. */
  streamBytes: number;
  /** Stream bytes that went through a loopback tcp connection and were loaded back (0: none could be made). */
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
 * Runs first passes (no delta: zero pages tested in place, others sent straight from guest
 * RAM) until the page loop is compiled for them: the passes above are mostly delta passes, and
 * the first real migration's pass 1 ran its first ~100 ms uncompiled (`--trace-opt`). Their
 * stream is dropped. Returns the objects to keep alive.
 */
async function compileFirstPass(memory: GuestMemory, log: ExplicitDirtyLog): Promise<unknown[]> {
  const sender = new RamSender(memory, log, { delta: null, cacheSizeBytes: 0, cacheWays: 2 }, generalizedCounters());
  const bytes = new ByteWriter(async (_chunk, release) => release());
  const w = new MigrationStreamWriter(bytes);
  const id = LivemigSectionId.Ram;
  w.header('livemig');
  w.ramSetup(id, [{ idstr: 'pc.ram', lengthBytes: WARM_RAM_BYTES }]);
  try {
    for (let pass = 0; pass < FIRST_PASSES; pass++) {
      sender.setup();
      ramPart(w, sender);
      await bytes.flush();
    }
  } finally {
    sender.dispose();
  }
  return [sender, bytes, w];
}

/** Passes sent through the loopback socket... */
const SOCKET_PASSES = 6;
/**
 * ...a page a batch, each flushed to the socket as the source's batches are: some 6000 writes
 * and reads, which V8 needs to compile the per-chunk paths (with 16 pages a batch it compiled
 * none of them; `--trace-opt`).
 */
const SOCKET_BATCH_PAGES = 1;
/** A loopback connection that takes longer than this (a firewalled lo?) is given up, and the warm-up with it. */
const SOCKET_GIVE_UP_MS = 5000;
const SOCKET_GAVE_UP = new Error('the loopback warm-up took too long');

/**
 * The first pass again, a page a batch, through a real loopback tcp connection opened as a migration's is
 * (`openOutgoing`, a pooled-read listener), read back by `readChunks` into the loader, batch
 * by batch as the source sends: Node's socket write path, the transport's channel and the
 * destination's reader run per chunk, a few hundred times a migration's first 100 ms, and were
 * compiled then (both processes' compiler threads took a third of the cores in those 100 ms,
 * and the first batches moved RAM at half speed). Returns the bytes loaded back and the objects
 * to keep alive, or none where no loopback connection can be made or it stalls (the warm-up is
 * then shorter, not failed). @internal exported for tests.
 * @throws LivemigError when what was loaded back differs from the RAM (the self-check), or
 *   the stream does not load (StreamError): the engine is broken, not the connection.
 */
export async function warmUpSocket(memory: GuestMemory, log: ExplicitDirtyLog): Promise<{ bytes: number; keep: unknown[] }> {
  let listener;
  try {
    listener = await listenIncoming('tcp:127.0.0.1:0', { pooledReads: true });
  } catch {
    return { bytes: 0, keep: [] };
  }
  let incoming: Channel | undefined;
  let outgoing: Channel | undefined;
  let timer: NodeJS.Timeout | undefined;
  const sender = new RamSender(memory, log, { delta: null, cacheSizeBytes: 0, cacheWays: 2 }, generalizedCounters());
  const block = memory.blocks[0]!;
  // loaded as a destination does: into RAM of its own, each landed page hashed (page128)
  const into = new GuestMemory([{ idstr: block.idstr, sizeBytes: block.sizeBytes }], { ioBytes: IO_AREA_BYTES });
  const loaded = into.blocks[0]!.bytes;
  const landed = new LandedPageHashes(into, true, hashSlotOf(into));
  try {
    const gaveUp = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(SOCKET_GAVE_UP), SOCKET_GIVE_UP_MS);
      timer.unref();
    });
    gaveUp.catch(() => undefined);
    [outgoing, incoming] = await Promise.race([Promise.all([openOutgoing(listener.address), listener.accept()]), gaveUp]);
    const channel = outgoing;
    const out = new OutgoingStream((chunk, release) => channel.write(chunk, release), undefined, memory);
    const area = ioAreaOf(into, 'read');
    if (area !== undefined) incoming.pooled?.useBuffers(area.bytes);
    const load = loadMigrationStream(new ByteSource(readChunks(incoming, { reuseBuffers: true })), {
      ramStartsZero: true,
      setupRam: () => new Map([[block.idstr, loaded]]),
      inPlaceCopy: () => area?.copy,
      onPageLanded: (idstr, offset, fill) => landed.landed(idstr, offset, fill),
    }, { maxRamBytes: block.sizeBytes });
    // a load that fails ends the warm-up at once: the sender would wait for a reader that stopped
    const loadFailed = load.then(() => new Promise<never>(() => undefined));
    loadFailed.catch(() => undefined);
    const send = async (): Promise<void> => {
      out.header();
      out.ramSetup(memory);
      for (let pass = 0; pass < SOCKET_PASSES; pass++) {
        sender.setup();
        while (sender.remaining > 0) {
          out.sectionPart(RAM_SECTION_ID);
          sender.sendPages(out.ram, () => false, false, SOCKET_BATCH_PAGES * PAGE);
          out.ramEos();
          out.footer(RAM_SECTION_ID);
          await out.flush();
        }
      }
      out.eof();
      await out.flush();
      await channel.end();
    };
    await Promise.race([send(), loadFailed, gaveUp]);
    const result = await Promise.race([load, gaveUp]);
    checkLoaded(loaded, block.bytes, 'over a loopback socket');
    if (landed.root() !== page128Digest([block.bytes])) {
      throw new LivemigError('GUEST_STATE', 'engine self-check failed: the page hashes of the RAM loaded over a loopback socket are not the RAM\'s');
    }
    return { bytes: result.bytesRead, keep: [out, sender, into, landed] };
  } catch (e) {
    // a connection that fails or stalls costs the warm-up; anything else is the engine's fault
    if (e instanceof TransportError || e === SOCKET_GAVE_UP) return { bytes: 0, keep: [] };
    throw e;
  } finally {
    clearTimeout(timer);
    sender.dispose();
    outgoing?.destroy();
    incoming?.destroy();
    await listener.close();
  }
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
  const ram = memory.blocks[0]!.bytes;
  randomFillSync(ram.subarray(0, WARM_RAM_BYTES / 2)); // the first half random, the rest zero
  const log = new ExplicitDirtyLog(memory);
  // a cache of half the RAM (the random half): smaller than RAM, so pass 2 takes the cache's
  // miss path (whole pages, inserted) before later passes send deltas
  const sender = new RamSender(memory, log, { delta: 'xbzrle', cacheSizeBytes: WARM_RAM_BYTES / 2, cacheWays: 2 }, generalizedCounters());
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
  checkLoaded(loaded, ram, 'in memory');
  const first = await compileFirstPass(memory, log);
  const socket = await warmUpSocket(memory, log);
  retained = [memory, log, sender, bytes, w, target, loaded, ...first, ...socket.keep];
  return { ms: performance.now() - t0, streamBytes: result.bytesRead, socketBytes: socket.bytes };
}
