/**
 * The source's RAM engine alone, without a transport: the first pass over a guest whose RAM is
 * all zero, and one full of random bytes, into a stream writer whose chunks are released at
 * once (as a socket that keeps up would). Reports GB/s of RAM scanned beside a same-run
 * baseline: a plain copy of the same RAM in 256 KiB pieces (what sending whole pages must at
 * least do).
 *
 *   npm run build && node dist/bench/sender.bench.js [--ram 256M]
 */
import { randomFillSync } from 'node:crypto';
import { ExplicitDirtyLog, GuestMemory } from '../src/guest/index.js';
import { RamSender } from '../src/migration/ram-sender.js';
import { MigrationCounters } from '../src/migration/stats.js';
import { ByteWriter, MigrationStreamWriter } from '../src/stream/index.js';
import { parseSize } from '../src/monitor/index.js';

const argRam = process.argv.indexOf('--ram');
const RAM = argRam > 0 ? parseSize(process.argv[argRam + 1]!, '--ram') : 256 * 1024 ** 2;
const ROUNDS = 5;

async function firstPass(memory: GuestMemory): Promise<number> {
  const sender = new RamSender(memory, new ExplicitDirtyLog(memory), { delta: null, cacheSizeBytes: 0, cacheWays: 2 }, new MigrationCounters());
  const bytes = new ByteWriter(async (_chunk, release) => release());
  const w = new MigrationStreamWriter(bytes);
  w.header();
  w.ramSetup(2, memory.blocks.map((b) => ({ idstr: b.idstr, lengthBytes: b.sizeBytes })));
  const t0 = performance.now();
  sender.setup();
  while (sender.remaining > 0) {
    w.sectionPart(2);
    sender.sendPages(w.ram, () => bytes.pendingBytes >= 1 << 20, false);
    w.ram.eos();
    w.footer(2);
    await bytes.flush();
  }
  const ms = performance.now() - t0;
  sender.dispose();
  return RAM / ms / 1e6;
}

function copyBaseline(memory: GuestMemory): number {
  const chunk = new Uint8Array(256 * 1024);
  const src = memory.blocks[0]!.bytes;
  const t0 = performance.now();
  for (let o = 0; o < src.length; o += chunk.length) chunk.set(src.subarray(o, o + chunk.length));
  return src.length / (performance.now() - t0) / 1e6;
}

const best = async (f: () => Promise<number> | number): Promise<number> => {
  let b = 0;
  for (let i = 0; i < ROUNDS; i++) b = Math.max(b, await f());
  return b;
};
const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: RAM }]);
memory.blocks[0]!.bytes.fill(0);
const zero = await best(() => firstPass(memory));
for (let o = 0; o < RAM; o += 1 << 26) randomFillSync(memory.blocks[0]!.bytes.subarray(o, Math.min(RAM, o + (1 << 26))));
const random = await best(() => firstPass(memory));
const copy = await best(() => copyBaseline(memory));
console.log(`# livemig RAM engine, first pass of a ${RAM / 1024 / 1024} MiB guest, no transport (best of ${ROUNDS}; node ${process.version})`);
console.log('| RAM | GB/s scanned | ÷ copy baseline |');
console.log('|---|---|---|');
console.log(`| all zero | ${zero.toFixed(2)} | ${(zero / copy).toFixed(2)}× |`);
console.log(`| random | ${random.toFixed(2)} | ${(random / copy).toFixed(2)}× |`);
console.log(`baseline in this run: copying the RAM in 256 KiB pieces ${copy.toFixed(2)} GB/s`);
