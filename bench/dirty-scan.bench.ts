/**
 * What a dirty log costs per sync, against a plain full copy of the same memory measured in the
 * same run: the scanning log (hash and compare methods) reads every clean page; the explicit
 * log reads one bit per page. Usage: `node dist/bench/dirty-scan.bench.js [MiB]` (default 256).
 */
import { randomFillSync } from 'node:crypto';
import { ExplicitDirtyLog, GuestMemory, PAGE_SIZE, ScanningDirtyLog, dirtyBitmapWords } from '../src/guest/index.js';
import type { DirtyLog } from '../src/guest/index.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const size = sizeMiB * MiB;
const ROUNDS = 5;

function best(f: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

const memory = new GuestMemory([{ idstr: 'pc.ram', sizeBytes: size }]);
const ram = memory.blocks[0]!.bytes;
for (let off = 0; off < size; off += 64 * MiB) randomFillSync(ram, off, Math.min(64 * MiB, size - off));
const copy = new Uint8Array(size);
copy.set(ram); // fault the pages in before timing
const copyMs = best(() => copy.set(ram));

const into = new Uint32Array(dirtyBitmapWords(memory.pageCount));
/** Every page noted as sent with its current content, so a sync must compare them all. */
function primed(log: DirtyLog): DirtyLog {
  for (let g = 0; g < memory.pageCount; g++) log.noteSent(g, ram.subarray(g * PAGE_SIZE, (g + 1) * PAGE_SIZE));
  into.fill(0);
  log.sync(into);
  return log;
}

const rows: [string, number][] = [['copy (Uint8Array.set)', copyMs]];
for (const method of ['hash', 'compare'] as const) {
  const log = primed(new ScanningDirtyLog(memory, { method }));
  rows.push([`scan log, ${method}, all clean`, best(() => (into.fill(0), log.sync(into)))]);
}
const explicit = primed(new ExplicitDirtyLog(memory));
rows.push(['explicit log, all clean', best(() => (into.fill(0), explicit.sync(into)))]);
rows.push([
  'explicit log, all dirty',
  best(() => {
    explicit.reset();
    into.fill(0);
    explicit.sync(into);
  }),
]);

const perGiB = (ms: number): string => ((ms * 1024 * MiB) / size).toFixed(1).padStart(8);
console.log(`dirty-log sync over ${sizeMiB} MiB (${memory.pageCount} pages), best of ${ROUNDS}, node ${process.version}`);
console.log(`${'what'.padEnd(28)} ${'ms/GiB'.padStart(8)}  ${'x copy'.padStart(7)}`);
for (const [name, ms] of rows) console.log(`${name.padEnd(28)} ${perGiB(ms)}  ${(ms / copyMs).toFixed(2).padStart(7)}`);
