/**
 * Page copies between guest RAM (a SharedArrayBuffer) and a private stream buffer, at the
 * offsets stream records put them: page data 8-aligned in the buffer (CONTINUE records), and
 * shifted by 7 (after a named header or a ZERO record). Rows: `TypedArray.set` (the baseline)
 * and `copyBytes`, both ways (source: RAM into a chunk; destination: a receive buffer into RAM).
 *
 *   npm run build && node dist/bench/copy.bench.js [--mib 1024]
 */
import { copyBytes } from '../src/codec/index.js';

const PAGE = 4096;
const argMib = process.argv.indexOf('--mib');
const BYTES = (argMib > 0 ? Number(process.argv[argMib + 1]) : 1024) * 1024 * 1024;
const CHUNK = 256 * 1024;
const ram = new Uint8Array(new SharedArrayBuffer(BYTES));
for (let i = 0; i < BYTES; i += 4) ram[i] = i & 255; // resident, not all zero
const chunk = new Uint8Array(CHUNK + PAGE);

type Copy = (shift: number) => void;
const rows: Record<string, Copy> = {
  'RAM -> chunk, set': (shift) => {
    for (let at = 0, pos = shift; at < BYTES; at += PAGE, pos = pos + PAGE + 8 > CHUNK ? shift : pos + PAGE + 8) chunk.set(ram.subarray(at, at + PAGE), pos);
  },
  'RAM -> chunk, copyBytes': (shift) => {
    for (let at = 0, pos = shift; at < BYTES; at += PAGE, pos = pos + PAGE + 8 > CHUNK ? shift : pos + PAGE + 8) copyBytes(chunk, pos, ram, at, PAGE);
  },
  'chunk -> RAM, set': (shift) => {
    for (let at = 0, pos = shift; at < BYTES; at += PAGE, pos = pos + PAGE + 8 > CHUNK ? shift : pos + PAGE + 8) ram.set(chunk.subarray(pos, pos + PAGE), at);
  },
  'chunk -> RAM, copyBytes': (shift) => {
    for (let at = 0, pos = shift; at < BYTES; at += PAGE, pos = pos + PAGE + 8 > CHUNK ? shift : pos + PAGE + 8) copyBytes(ram, at, chunk, pos, PAGE);
  },
};

const REPS = 5;
const times = new Map<string, number[]>();
for (let r = 0; r < REPS + 1; r++) {
  for (const shift of [0, 7]) {
    for (const [name, f] of Object.entries(rows)) {
      const t0 = performance.now();
      f(shift);
      const ms = performance.now() - t0;
      if (r > 0) times.set(`${name}|${shift}`, [...(times.get(`${name}|${shift}`) ?? []), ms]); // round 0 warms up
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`# page copies, ${BYTES / 1024 / 1024} MiB of shared RAM, median of ${REPS} (node ${process.version})`);
console.log('| copy | page data aligned: GB/s | shifted by 7: GB/s | shifted ÷ aligned `set` |');
console.log('|---|--:|--:|--:|');
for (const name of Object.keys(rows)) {
  const a = median(times.get(`${name}|0`)!);
  const m = median(times.get(`${name}|7`)!);
  const base = median(times.get(`${name.split(',')[0]}, set|0`)!);
  console.log(`| ${name} | ${(BYTES / a / 1e6).toFixed(2)} | ${(BYTES / m / 1e6).toFixed(2)} | ${(base / m).toFixed(2)}× |`);
}
