#!/usr/bin/env node
// One fuzz target for a given time: a coverage-guided mutation fuzzer (AFL-style havoc and
// splicing over a corpus of inputs that found new edges), driving livemig's built code as
// instrumented by fuzz/instrument-hooks.mjs (Jazzer.js's coverage plugin). Started by
// fuzz/run.mjs; can be run alone:
//
//   node fuzz/engine.mjs --target stream --seconds 30 [--build dist] [--corpus DIR]
//        [--findings DIR] [--seed N] [--max-len BYTES] [--timeout-ms MS] [--no-coverage]
//
// Prints progress on stderr and, at the end, one line "FUZZ-RESULT {json}" on stdout.
// A finding (see test/trust/fuzz-targets.ts for what counts) is saved as
// <findings>/<target>/<kind>-<hash>.bin with the message beside it (.txt); fuzzing goes on.
// A hang (an input not finished within --timeout-ms) is caught by a watchdog thread, which
// saves the input as hang-<hash>.bin and kills the process (exit by SIGKILL, reported by run.mjs).
import { register } from 'node:module';
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  strict: true,
  options: {
    target: { type: 'string' },
    seconds: { type: 'string', default: '30' },
    build: { type: 'string', default: 'dist' },
    corpus: { type: 'string' },
    findings: { type: 'string', default: 'fuzz/findings' },
    seed: { type: 'string' },
    'max-len': { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    'no-coverage': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const target = opt.target;
if (!['stream', 'xbzrle', 'xbrle'].includes(target)) {
  console.error('engine: --target must be stream, xbzrle or xbrle');
  process.exit(2);
}
const seconds = Number(opt.seconds);
const build = resolve(opt.build);
const maxLen = Number(opt['max-len'] ?? (target === 'stream' ? 32768 : 4200));
const timeoutMs = Number(opt['timeout-ms']);
const findingsDir = resolve(opt.findings, target);
const corpusDir = opt.corpus ? resolve(opt.corpus) : undefined;
const coverageOn = !opt['no-coverage'];
const selfTestHang = process.env.LIVEMIG_FUZZ_SELFTEST === 'hang';
let rngState = (Number(opt.seed ?? Date.now()) >>> 0) || 1;

// ---- instrumentation: counters per module, comparison operands as a dictionary ----
const modules = []; // { name, counters: Uint8Array, virgin: Uint8Array }
const cmpValues = new Map(); // value key -> bytes, newest last (bounded)
const CMP_MAX = 1024;
function noteCmp(a, b) {
  for (const v of [a, b]) {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff && v > 1) addToken(intToken(v));
    else if (typeof v === 'string' && v.length > 0 && v.length <= 64) addToken(Buffer.from(v, 'utf8'));
  }
}
function intToken(v) {
  if (v <= 0xff) return Uint8Array.of(v);
  if (v <= 0xffff) return Uint8Array.of(v >>> 8, v & 0xff);
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
function addToken(bytes) {
  const key = Buffer.from(bytes).toString('latin1');
  if (cmpValues.has(key)) return;
  cmpValues.set(key, bytes);
  if (cmpValues.size > CMP_MAX) cmpValues.delete(cmpValues.keys().next().value);
}
function cmp(op, a, b) {
  switch (op) {
    case '==': return a == b; // eslint-disable-line eqeqeq
    case '===': return a === b;
    case '!=': return a != b; // eslint-disable-line eqeqeq
    case '!==': return a !== b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '<': return a < b;
    case '<=': return a <= b;
    default: throw new Error(`unexpected comparison operator ${op}`);
  }
}
globalThis.Fuzzer = {
  coverageTracker: {
    createModuleCounters(size, name) {
      const counters = new Uint8Array(size);
      modules.push({ name, counters, virgin: new Uint8Array(size) });
      return counters;
    },
    incrementCounter() {},
  },
  tracer: {
    traceNumberCmp(a, b, op) {
      if (a !== b) noteCmp(a, b);
      return cmp(op, a, b);
    },
    traceStrCmp(a, b, op) {
      if (a !== b) noteCmp(a, b);
      return cmp(op, a, b);
    },
    traceAndReturn(current, t) {
      if (current !== t) noteCmp(current, t);
      return t;
    },
  },
};
if (coverageOn) {
  register(new URL('./instrument-hooks.mjs', import.meta.url), { data: { includes: [join(build, 'src')] } });
}
const { runTarget, FuzzFinding, messageTemplate } = await import(pathToFileURL(join(build, 'test/trust/fuzz-targets.js')).href);
const { seedsFor } = await import(pathToFileURL(join(build, 'test/trust/fuzz-seeds.js')).href);

// AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+ as one bit each.
const BUCKET = new Uint8Array(256);
for (let i = 1; i < 256; i++) BUCKET[i] = i === 1 ? 1 : i === 2 ? 2 : i === 3 ? 4 : i < 8 ? 8 : i < 16 ? 16 : i < 32 ? 32 : i < 128 ? 64 : 128;
/** Folds this run's counters into the virgin maps; returns how many new (edge, bucket) features. */
function collectCoverage() {
  let fresh = 0;
  for (const m of modules) {
    const c = m.counters;
    const v = m.virgin;
    for (let i = 0; i < c.length; i++) {
      const n = c[i];
      if (n === 0) continue;
      const b = BUCKET[n];
      if ((v[i] & b) === 0) {
        v[i] |= b;
        fresh++;
      }
      c[i] = 0;
    }
  }
  return fresh;
}
function edgesCovered() {
  let e = 0;
  let total = 0;
  for (const m of modules) {
    total += m.virgin.length;
    for (const x of m.virgin) if (x !== 0) e++;
  }
  return { edges: e, total };
}

// ---- watchdog: the current input lives in shared memory so a hang can be saved ----
const shared = new SharedArrayBuffer(16 + maxLen);
const head = new Int32Array(shared, 0, 4); // [execs, len, busy, unused]
const body = new Uint8Array(shared, 16);
mkdirSync(findingsDir, { recursive: true });
const watchdog = new Worker(`
  const { workerData } = require('node:worker_threads');
  const { writeFileSync, writeSync } = require('node:fs');
  const { createHash } = require('node:crypto');
  const head = new Int32Array(workerData.shared, 0, 4);
  const body = new Uint8Array(workerData.shared, 16);
  let last = -1, since = Date.now();
  setInterval(() => {
    const n = Atomics.load(head, 0);
    if (n !== last || Atomics.load(head, 2) === 0) { last = n; since = Date.now(); return; }
    if (Date.now() - since < workerData.timeoutMs) return;
    const input = Buffer.from(body.subarray(0, Atomics.load(head, 1)));
    const name = 'hang-' + createHash('sha256').update(input).digest('hex').slice(0, 16);
    writeFileSync(workerData.dir + '/' + name + '.bin', input);
    writeFileSync(workerData.dir + '/' + name + '.txt', 'hang: the input did not finish within ' + workerData.timeoutMs + ' ms\\n');
    writeSync(2, 'FUZZ-HANG ' + workerData.dir + '/' + name + '.bin\\n');
    process.kill(process.pid, 'SIGKILL');
  }, 100);
`, { eval: true, workerData: { shared, timeoutMs, dir: findingsDir } });
watchdog.unref();

// ---- mutations ----
function rand(n) {
  rngState ^= rngState << 13;
  rngState >>>= 0;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  rngState >>>= 0;
  return n <= 1 ? 0 : rngState % n;
}
const INTERESTING8 = [0, 1, 2, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x10, 0x20, 0x40];
const INTERESTING32 = [0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1000, 0xfff, 0x1001, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x100000, 0x10000];
const STATIC_TOKENS = {
  stream: ['QEVM', 'ram', 'pc.ram', 'livemig-device', 'livemig-digest', 'sha256', '\u0000\u0000\u0000\u0003', '\u0007', '\u007e', '\u0001', '\u0002', '\u0003', '\u0004', '\u0006', '\u0008', '\u0000\u000b\u0000\u0000'].map((s) => Buffer.from(s, 'latin1')),
  xbzrle: [Uint8Array.of(0x80, 0x20), Uint8Array.of(0xff, 0x1f), Uint8Array.of(0x80, 0x80), Uint8Array.of(0x00, 0x01)],
  xbrle: [Uint8Array.of(0xff, 0x00), Uint8Array.of(0x01, 0xff), Uint8Array.of(0x00, 0x00)],
}[target];
function token() {
  const pool = cmpValues.size > 0 && rand(2) === 0 ? [...cmpValues.values()] : STATIC_TOKENS;
  return pool[rand(pool.length)];
}
function mutate(input, other) {
  let d = Buffer.from(input);
  const rounds = 1 << rand(5); // 1..16 stacked
  for (let r = 0; r < rounds; r++) {
    const len = d.length;
    switch (rand(len === 0 ? 2 : 15)) {
      case 0: { // insert random bytes
        const at = rand(len + 1);
        const n = 1 + rand(rand(2) ? 4 : 64);
        const ins = Buffer.alloc(n);
        for (let i = 0; i < n; i++) ins[i] = rand(256);
        d = Buffer.concat([d.subarray(0, at), ins, d.subarray(at)]);
        break;
      }
      case 1: { // insert a token
        const at = rand(len + 1);
        d = Buffer.concat([d.subarray(0, at), token(), d.subarray(at)]);
        break;
      }
      case 2: d[rand(len)] ^= 1 << rand(8); break;
      case 3: d[rand(len)] = rand(256); break;
      case 4: d[rand(len)] = INTERESTING8[rand(INTERESTING8.length)]; break;
      case 5: { const at = rand(len); d[at] = (d[at] + 1 + rand(35) * (rand(2) ? 1 : -1)) & 0xff; break; }
      case 6: { // be16 / be32 field: interesting value or arithmetic
        const w = rand(2) ? 4 : 2;
        if (len < w) break;
        const at = rand(len - w + 1);
        const v = rand(2) ? INTERESTING32[rand(INTERESTING32.length)] : (w === 4 ? d.readUInt32BE(at) : d.readUInt16BE(at)) + rand(64) - 32;
        if (w === 4) d.writeUInt32BE(v >>> 0, at);
        else d.writeUInt16BE(v & 0xffff, at);
        break;
      }
      case 7: { // overwrite with a token
        const t = token();
        if (len < t.length) break;
        Buffer.from(t).copy(d, rand(len - t.length + 1));
        break;
      }
      case 8: { // delete a range
        const at = rand(len);
        const n = 1 + rand(Math.min(len - at, rand(2) ? 8 : 512));
        d = Buffer.concat([d.subarray(0, at), d.subarray(at + n)]);
        break;
      }
      case 9: { // duplicate a range
        const at = rand(len);
        const n = 1 + rand(Math.min(len - at, 256));
        const to = rand(len + 1);
        d = Buffer.concat([d.subarray(0, to), Buffer.from(d.subarray(at, at + n)), d.subarray(to)]);
        break;
      }
      case 10: { // copy a range over another place
        const at = rand(len);
        const n = 1 + rand(Math.min(len - at, 256));
        Buffer.from(d.subarray(at, at + n)).copy(d, rand(len));
        break;
      }
      case 11: d = d.subarray(0, rand(len + 1)); break; // truncate
      case 12: { // splice with another corpus entry
        if (!other || other.length === 0) break;
        const cut = rand(len + 1);
        const from = rand(other.length);
        d = Buffer.concat([d.subarray(0, cut), Buffer.from(other.subarray(from, from + rand(other.length - from + 1)))]);
        break;
      }
      case 13: { // fill a run with one byte
        const at = rand(len);
        const n = 1 + rand(Math.min(len - at, 64));
        d.fill(rand(2) ? 0 : rand(256), at, at + n);
        break;
      }
      default: { // be64 with the low 12 bits as RAM flags (stream) or a small ULEB (deltas)
        if (len < 8) break;
        const at = rand(len - 7);
        d.writeUInt32BE(rand(4) === 0 ? rand(16) : 0, at);
        d.writeUInt32BE(((rand(256) << 12) | [0x02, 0x04, 0x08, 0x10, 0x20, 0x22, 0x28, 0x40, 0x60, 0x400, 0x800, 0x200, 0x80][rand(13)]) >>> 0, at + 4);
      }
    }
  }
  if (d.length > maxLen) d = d.subarray(0, maxLen);
  return new Uint8Array(d);
}

// ---- the loop ----
const queue = []; // { data, picks }
const findings = new Map(); // signature -> file
const outcomes = new Map(); // rejection template -> count
let execs = 0;
let accepted = 0;
function hash(d) {
  return createHash('sha256').update(d).digest('hex').slice(0, 16);
}
async function execOne(data) {
  body.set(data.subarray(0, maxLen));
  Atomics.store(head, 1, Math.min(data.length, maxLen));
  Atomics.store(head, 2, 1);
  Atomics.add(head, 0, 1);
  execs++;
  if (selfTestHang && execs === 1000) for (;;); // LIVEMIG_FUZZ_SELFTEST=hang: prove the watchdog works
  let fresh = 0;
  try {
    const r = await runTarget(target, data);
    if (r.outcome === 'accepted') accepted++;
    else {
      const t = `${r.name} ${messageTemplate(r.message)}`;
      outcomes.set(t, (outcomes.get(t) ?? 0) + 1);
    }
  } catch (e) {
    const kind = e instanceof FuzzFinding ? e.kind : 'unexpected-error';
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const sig = `${kind} ${messageTemplate(msg)}`;
    if (!findings.has(sig)) {
      const name = `${kind}-${hash(data)}`;
      writeFileSync(join(findingsDir, `${name}.bin`), data);
      writeFileSync(join(findingsDir, `${name}.txt`), `${msg}\n${e instanceof Error ? e.stack : ''}\n`);
      findings.set(sig, join(findingsDir, `${name}.bin`));
      if (!opt.quiet) process.stderr.write(`[${target}] FINDING ${kind}: ${msg.slice(0, 300)}\n  saved ${join(findingsDir, `${name}.bin`)}\n`);
    }
  } finally {
    Atomics.store(head, 2, 0);
    fresh = coverageOn ? collectCoverage() : 0;
  }
  return fresh;
}
function keep(data) {
  queue.push({ data, picks: 0 });
  if (corpusDir) writeFileSync(join(corpusDir, hash(data)), data);
}

if (corpusDir) mkdirSync(corpusDir, { recursive: true });
const initial = [...(await seedsFor(target))];
if (corpusDir) for (const f of readdirSync(corpusDir)) initial.push(new Uint8Array(readFileSync(join(corpusDir, f))));
for (const s of initial) {
  const fresh = await execOne(s);
  if (fresh > 0 || !coverageOn) queue.push({ data: s, picks: 0 });
}
if (queue.length === 0) queue.push({ data: initial[0], picks: 0 });
const start = performance.now();
const deadline = start + seconds * 1000;
let lastReport = start;
while (performance.now() < deadline) {
  for (let batch = 0; batch < 64; batch++) {
    const recent = rand(3) === 0 && queue.length > 16;
    const entry = queue[recent ? queue.length - 1 - rand(16) : rand(queue.length)];
    entry.picks++;
    const other = queue[rand(queue.length)].data;
    const child = mutate(entry.data, other);
    const fresh = await execOne(child);
    if (fresh > 0) keep(child);
  }
  const now = performance.now();
  if (!opt.quiet && now - lastReport > 5000) {
    lastReport = now;
    const { edges, total } = edgesCovered();
    process.stderr.write(`[${target}] ${Math.round((now - start) / 1000)}s: ${execs} inputs (${Math.round(execs / ((now - start) / 1000))}/s), corpus ${queue.length}, edges ${edges}/${total}, rejections ${outcomes.size} kinds, findings ${findings.size}\n`);
  }
}
const elapsed = (performance.now() - start) / 1000;
const { edges, total } = edgesCovered();
const result = {
  target,
  seconds: Math.round(elapsed * 10) / 10,
  inputs: execs,
  perSecond: Math.round(execs / elapsed),
  accepted,
  corpus: queue.length,
  coverage: coverageOn ? { edges, instrumented: total, modules: modules.length } : null,
  cmpTokens: cmpValues.size,
  rejectionKinds: outcomes.size,
  findings: [...findings.entries()].map(([signature, file]) => ({ signature, file })),
};
writeSync(1, `FUZZ-RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
