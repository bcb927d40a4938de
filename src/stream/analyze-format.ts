/**
 * The human-readable text of `livemig analyze` (the `--json` form is the summary object itself).
 */
import type { AnalysisSummary, DeltaStats } from './analyze.js';
import type { SectionSummary } from './loader.js';
import { addCounts, emptyCounts } from './ram-loader.js';
import type { RecordCounts } from './ram-loader.js';

/** Renders an analysis summary as aligned text, one section per line (long runs of PARTs summarized). */
export function formatAnalysis(s: AnalysisSummary): string {
  const out: string[] = [];
  out.push(`Machine: ${s.machineName === '' ? '(empty)' : s.machineName}`);
  const ended = s.endedAt === 'eof' ? 'ended at EOF'
    : s.endedAt === 'error' ? `failed${s.error?.offset !== undefined ? ` at stream offset ${s.error.offset}` : ''} (what follows was read before the error)`
    : 'stopped early';
  out.push(`Stream: ${s.bytesRead} bytes read, ${ended}`);
  if (s.stoppedAt !== undefined) out.push(`  ${s.stoppedAt.reason} (${s.stoppedAt.type} section ${s.stoppedAt.id}, instance ${s.stoppedAt.instanceId}, at offset ${s.stoppedAt.offset})`);
  out.push('');

  out.push(`Sections (${s.sections.length}):`);
  const rows: string[][] = [['offset', 'type', 'id', 'idstr', 'inst', 'ver', 'bytes', 'records']];
  const secs = s.sections;
  for (let i = 0; i < secs.length; i++) {
    // A long run of PARTs of one section (one per rate-limited chunk) shows as first, summary, last.
    let j = i;
    while (j + 1 < secs.length && secs[j + 1]!.type === 'part' && secs[i]!.type === 'part' && secs[j + 1]!.id === secs[i]!.id) j++;
    if (j - i + 1 > MAX_PART_ROWS) {
      rows.push(sectionRow(secs[i]!));
      const middle = secs.slice(i + 1, j);
      const sum = emptyCounts();
      for (const m of middle) addCounts(sum, m.records);
      const bytes = middle.reduce((n, m) => n + m.lengthBytes, 0);
      rows.push(['...', `${middle.length} x PART`, String(secs[i]!.id), secs[i]!.idstr, '', '', String(bytes), countsText(sum)]);
      rows.push(sectionRow(secs[j]!));
      i = j;
    } else {
      rows.push(sectionRow(secs[i]!));
    }
  }
  out.push(...table(rows, '  '));
  out.push('');

  out.push(`RAM records: ${countsText(s.totals)}`);
  out.push(`XBZRLE pages: ${deltaText(s.xbzrle)}`);
  if (s.xbzrle.records > 0) out.push(`  delta length histogram: ${histogramText(s.xbzrle)}`);
  out.push(`XBRLE pages (livemig): ${deltaText(s.xbrle)}`);
  if (s.xbrle.records > 0) out.push(`  delta length histogram: ${histogramText(s.xbrle)}`);
  out.push('');

  out.push(`RAM blocks (${s.blocks.length}):`);
  const brows: string[][] = [['idstr', 'length', 'sha256', 'file']];
  for (const b of s.blocks) brows.push([b.idstr, `0x${b.lengthBytes.toString(16)}`, b.sha256, b.file ?? '']);
  out.push(...table(brows, '  '));
  out.push(`RAM digest: ${digestText(s)}`);
  out.push('');

  out.push('Devices:');
  if (s.devices.machine !== undefined) out.push(`  livemig-machine: kind ${s.devices.machine.kind}, configuration ${JSON.stringify(s.devices.machine.config)}`);
  if (s.devices.livemigDeviceBytes !== undefined) out.push(`  livemig-device: ${s.devices.livemigDeviceBytes} bytes of device state`);
  if (s.devices.digest !== undefined) out.push(`  livemig-digest: ${s.devices.digest.algorithm} ${s.devices.digest.hex}`);
  for (const d of s.devices.described) out.push(`  ${d.idstr} (instance ${d.instanceId}, version ${d.versionId}): ${d.lengthBytes} bytes, skipped with the VM description`);
  if (s.devices.machine === undefined && s.devices.livemigDeviceBytes === undefined && s.devices.digest === undefined && s.devices.described.length === 0) out.push('  (none read)');
  const where = s.vmdesc.inStream ? 'in the stream' : s.vmdesc.given ? 'given' : 'none';
  out.push(`VM description: ${where}${s.vmdesc.inStream || s.vmdesc.given ? ` (${s.vmdesc.devices} devices)` : ''}`);
  if (s.commands.length > 0) out.push(`Commands: ${s.commands.join(', ')}`);
  for (const w of s.warnings) out.push(`Warning: ${w}`);
  return out.join('\n') + '\n';
}

function digestText(s: AnalysisSummary): string {
  const d = s.devices.digest;
  if (d === undefined) return 'none in the stream (no livemig-digest section)';
  const what = `the stream's livemig-digest (${d.algorithm})`;
  if (d.matches === true) return `matches ${what}`;
  if (d.matches === false) return `DOES NOT MATCH ${what}: the RAM read gives ${d.computed}`;
  return `not checked against ${what}: ${d.unchecked ?? 'unknown reason'}`;
}

/** Longest run of PART sections printed row by row. */
const MAX_PART_ROWS = 8;

function sectionRow(sec: SectionSummary): string[] {
  return [
    String(sec.offset),
    sec.type.toUpperCase(),
    String(sec.id),
    sec.idstr,
    String(sec.instanceId),
    String(sec.versionId),
    String(sec.lengthBytes),
    sec.handling === 'ram' ? countsText(sec.records) : sec.handling === 'described' ? 'skipped (described)' : sec.handling,
  ];
}

function countsText(c: RecordCounts): string {
  return `mem_size ${c.memSize}, zero ${c.zero}, page ${c.page}, xbzrle ${c.xbzrle}, xbrle ${c.xbrle}, eos ${c.eos}`;
}

function deltaText(d: DeltaStats): string {
  if (d.records === 0) return 'none';
  return `${d.records} records, ${d.payloadBytes} payload bytes, delta length min ${d.minBytes} / avg ${d.averageBytes} / max ${d.maxBytes}`;
}

function histogramText(d: DeltaStats): string {
  let lo = 0;
  return d.histogram
    .map((b) => {
      const label = b.maxBytes === lo ? `${b.maxBytes}` : `${lo}-${b.maxBytes}`;
      lo = b.maxBytes + 1;
      return `${label}: ${b.count}`;
    })
    .join(', ');
}

function table(rows: string[][], indent: string): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}
