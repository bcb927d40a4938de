#!/usr/bin/env node
// Turns a fuzz corpus (or findings) into small CI vectors:
//
//   node fuzz/minimize.mjs --target stream --from <dir> [--to test/vectors/corpus/stream]
//        [--build dist] [--max 80] [--update]
//
// Every input in <dir> is run; inputs are grouped by what the target did (accepted, or the kind
// of rejection: the message before "at ... offset", numbers and names blanked); the smallest
// of each group is shrunk (chunks removed, then bytes, while the group stays the same) and
// written to <to>/<group>-<hash>.bin, with its exact outcome (class, code, offset, message) in
// <to>/expected.json, which test/trust/corpus.test.ts replays in CI. Existing vectors are kept
// (their outcome is re-recorded with --update, else checked). A finding (bug) is minimised the
// same way and written as finding-<kind>-<hash>.bin, expected to be fixed (the test then fails).
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    target: { type: 'string' },
    from: { type: 'string', multiple: true, default: [] },
    to: { type: 'string' },
    build: { type: 'string', default: 'dist' },
    max: { type: 'string', default: '80' },
    update: { type: 'boolean', default: false },
  },
});
const target = opt.target;
const build = resolve(opt.build);
const to = resolve(opt.to ?? `test/vectors/corpus/${target}`);
const { runTarget, FuzzFinding, messageTemplate } = await import(pathToFileURL(join(build, 'test/trust/fuzz-targets.js')).href);
const { seedsFor } = await import(pathToFileURL(join(build, 'test/trust/fuzz-seeds.js')).href);

/** What the target did, and the group it belongs to. */
async function classify(data) {
  try {
    const r = await runTarget(target, data);
    if (r.outcome === 'accepted') return { group: 'accepted', outcome: r };
    const head = r.message.split(/ at (?:stream|payload) offset /)[0];
    const group = messageTemplate(head).replace(/record \S+/g, 'record …').replace(/section # '…'/g, 'section');
    return { group, outcome: r };
  } catch (e) {
    const kind = e instanceof FuzzFinding ? e.kind : 'unexpected-error';
    return { group: `finding ${kind} ${messageTemplate(String(e.message)).slice(0, 120)}`, finding: true, outcome: { outcome: 'finding', message: String(e.message) } };
  }
}

/** Stream offsets where sections and records start (the parser's view of a stream input). */
async function boundaries(data) {
  const { ByteSource, loadMigrationStream } = await import(pathToFileURL(join(build, 'src/stream/index.js')).href);
  const src = new ByteSource([data]);
  const cuts = new Set([0]);
  const t = {
    setupRam: (blocks) => new Map(blocks.map((b) => [b.idstr, new Uint8Array(b.lengthBytes)])),
    onSection: (info) => cuts.add(info.offset),
    onRecord: () => cuts.add(src.offset),
  };
  await loadMigrationStream(src, t, { maxRamBytes: 1 << 20 }).catch(() => undefined);
  cuts.add(src.offset);
  return [...cuts].filter((c) => c <= data.length).sort((a, b) => a - b);
}

async function shrink(data, group) {
  let best = data;
  // whole sections and records first (streams): cheap and large
  for (let changed = target === 'stream'; changed; ) {
    changed = false;
    const cuts = await boundaries(best);
    const spans = [];
    for (let i = 0; i + 1 < cuts.length; i++) spans.push([cuts[i], cuts[i + 1]]);
    spans.sort((a, b) => b[1] - b[0] - (a[1] - a[0]));
    for (const [from, until] of spans) {
      if (until <= from) continue;
      const cand = new Uint8Array(best.length - (until - from));
      cand.set(best.subarray(0, from));
      cand.set(best.subarray(until), from);
      if (cand.length > 0 && (await classify(cand)).group === group) {
        best = cand;
        changed = true;
        break;
      }
    }
  }
  for (let size = Math.max(1, best.length >> 1); size >= 1; size >>= 1) {
    for (let at = 0; at < best.length; ) {
      const cand = new Uint8Array(best.length - Math.min(size, best.length - at));
      cand.set(best.subarray(0, at));
      cand.set(best.subarray(at + size), at);
      if (cand.length > 0 && (await classify(cand)).group === group) best = cand;
      else at += size;
    }
  }
  // then make bytes plainer (0) where the group allows, for readable vectors
  for (let i = 0; i < best.length; i++) {
    if (best[i] === 0) continue;
    const cand = best.slice();
    cand[i] = 0;
    if ((await classify(cand)).group === group) best = cand;
  }
  return best;
}

const inputs = [];
for (const dir of opt.from) for (const f of readdirSync(dir)) inputs.push(new Uint8Array(readFileSync(join(dir, f))));
for (const s of await seedsFor(target)) inputs.push(s);
const groups = new Map();
for (const data of inputs) {
  const c = await classify(data);
  const prev = groups.get(c.group);
  if (!prev || data.length < prev.data.length) groups.set(c.group, { data, ...c });
}
mkdirSync(to, { recursive: true });
const manifestPath = join(to, 'expected.json');
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};
const known = new Set();
for (const [file] of Object.entries(manifest)) {
  const c = await classify(new Uint8Array(readFileSync(join(to, file))));
  known.add(c.group);
}
let added = 0;
const max = Number(opt.max);
const ordered = [...groups.values()].sort((a, b) => Number(b.finding ?? false) - Number(a.finding ?? false) || a.data.length - b.data.length);
for (const g of ordered) {
  if (known.has(g.group)) continue;
  if (Object.keys(manifest).length >= max && !g.finding) break;
  const small = await shrink(g.data, g.group);
  const c = await classify(small);
  const slug = (g.finding ? 'finding-' : '') + g.group.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
  const { createHash } = await import('node:crypto');
  const file = `${slug}-${createHash('sha256').update(small).digest('hex').slice(0, 8)}.bin`;
  writeFileSync(join(to, file), small);
  manifest[file] = c.outcome;
  known.add(g.group);
  added++;
  console.log(`${file}: ${small.length} bytes, ${c.outcome.outcome}${c.outcome.message ? `: ${c.outcome.message}` : ''}`);
}
if (opt.update) {
  for (const file of Object.keys(manifest)) manifest[file] = (await classify(new Uint8Array(readFileSync(join(to, file))))).outcome;
}
const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(manifestPath, JSON.stringify(sorted, null, 1) + '\n');
console.log(`${target}: ${groups.size} kinds of outcome in ${inputs.length} inputs; ${added} vectors added, ${Object.keys(sorted).length} in ${to}`);
