/**
 * The stop-and-copy of a guest that rewrote every page by one byte (the PC's stride guest):
 * the RAM engine's last stage alone, without a transport, over RAM that is not shared memory
 * (as a v86 PC's is), with the scanning dirty log and a cache holding every page. Reports
 * microseconds per page beside a same-run baseline: copying each page once.
 *
 *   npm run build && node dist/bench/last-stage.bench.js [--ram 128M]
 */
import { GuestMemory, ScanningDirtyLog } from '../src/guest/index.js';
import { RamSender } from '../src/migration/ram-sender.js';
import { MigrationCounters } from '../src/migration/stats.js';
import { ByteWriter, MigrationStreamWriter } from '../src/stream/index.js';
import { parseSize } from '../src/monitor/index.js';

const argRam = process.argv.indexOf('--ram');
const RAM = argRam > 0 ? parseSize(process.argv[argRam + 1]!, '--ram') : 128 * 1024 ** 2;
const PAGES = RAM / 4096;
const wasm = new WebAssembly.Memory({ initial: RAM / 65536 + 16 });
const ram = new Uint8Array(wasm.buffer, 65536 * 8, RAM);
const memory = GuestMemory.wrap([{ idstr: 'pc.ram', bytes: ram }]);
const log = new ScanningDirtyLog(memory, { method: 'compare' });
const sender = new RamSender(memory, log, { delta: 'xbzrle', cacheSizeBytes: 2 * RAM, cacheWays: 2 }, new MigrationCounters());
const bytes = new ByteWriter(async (_chunk, release) => release());
const w = new MigrationStreamWriter(bytes);
w.header();
w.ramSetup(2, [{ idstr: 'pc.ram', lengthBytes: RAM }]);
const stride = (): void => {
  for (let p = 0; p < PAGES; p++) ram[p * 4096]!++;
};
async function pass(lastStage: boolean): Promise<number> {
  stride();
  const t0 = performance.now();
  sender.sync();
  const t1 = performance.now();
  while (sender.remaining > 0) {
    w.sectionPart(2);
    sender.sendPages(w.ram, () => bytes.pendingBytes >= 1 << 20, lastStage);
    w.ram.eos();
    w.footer(2);
    await bytes.flush();
  }
  const t2 = performance.now();
  console.log(`  sync ${(t1 - t0).toFixed(1)} ms, pages ${(t2 - t1).toFixed(1)} ms: ${(((t2 - t1) * 1000) / PAGES).toFixed(2)} us/page`);
  return t2 - t0;
}
sender.setup();
for (let i = 0; i < 4; i++) await pass(false); // first pass, then cached deltas
console.log('last stage:');
for (let i = 0; i < 3; i++) await pass(true);
const page = new Uint8Array(4096);
const t0 = performance.now();
for (let p = 0; p < PAGES; p++) page.set(ram.subarray(p * 4096, p * 4096 + 4096));
console.log(`baseline, one copy of each page: ${(((performance.now() - t0) * 1000) / PAGES).toFixed(2)} us/page`);
