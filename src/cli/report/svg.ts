/**
 * Inline SVG plots drawn from numbers, for a report that needs no script, font or network:
 * a (stacked) bar chart, a line chart and a horizontal bar chart, each with axes, ticks,
 * axis titles and a legend. Every text that came from data goes through `esc`. Text is
 * styled by the page's CSS (`svg text`), so the plots take the page's font.
 *
 * Geometry: each chart is `width` × `height` user units with a plot area inset by `PAD`;
 * the page scales the SVG to its column (viewBox, width 100%). Inline SVG in HTML needs no
 * xmlns, so the page holds no URL at all.
 */

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface LegendItem {
  name: string;
  color: string;
  kind: 'box' | 'line' | 'dashed' | 'dot';
}

export interface BarSeries {
  name: string;
  color: string;
  /** One value per category; null = no value (nothing drawn). */
  values: readonly (number | null)[];
}

export interface BarChartSpec {
  width: number;
  height: number;
  /** Category labels under the bars (one per bar). */
  categories: readonly string[];
  /** Second label line per category (e.g. "stop"), or "". */
  subLabels?: readonly string[];
  /** Slots on the x axis, so charts side by side share bar widths (default categories.length). */
  slots?: number;
  /** Stacked from the first series up. */
  series: readonly BarSeries[];
  /** Drawn as dots joined by a line over the bars. */
  overlay?: BarSeries;
  yMax: number;
  /** Tick values from {@link niceTicks} are passed through this to label the y axis. */
  yTick: (v: number) => string;
  /** A label above each bar from the stack's total, or none. */
  barLabel?: (total: number, index: number) => string;
  /** Hover text per category (SVG <title>). */
  tooltip?: (index: number) => string;
  /** Categories drawn on a tinted background (the stop-and-copy pass). */
  shaded?: readonly number[];
  xTitle: string;
  yTitle: string;
}

export interface LineSeries {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  area?: boolean;
  dashed?: boolean;
}

export interface LineChartSpec {
  width: number;
  height: number;
  xMax: number;
  yMax: number;
  series: readonly LineSeries[];
  xTick: (v: number) => string;
  yTick: (v: number) => string;
  xTitle: string;
  yTitle: string;
  /** Dotted vertical lines with a small label at the top (pass boundaries). */
  marks?: readonly { x: number; label: string }[];
  /** Tinted x ranges with a label (the downtime). */
  bands?: readonly { x0: number; x1: number; label: string; color: string }[];
  /** Dashed horizontal reference lines (the link speed). */
  rules?: readonly { y: number; label: string; color: string }[];
}

export interface HBarRow {
  label: string;
  value: number;
  color: string;
  /** A tick drawn across the bar (e.g. the expected downtime), with its legend name. */
  marker?: number;
  valueLabel: string;
}

export interface HBarChartSpec {
  width: number;
  rows: readonly HBarRow[];
  xMax: number;
  xTick: (v: number) => string;
  xTitle: string;
  /** A dashed vertical line across all rows (the downtime limit). */
  limit?: { value: number; label: string };
  markerName?: string;
}

const PAD = { left: 70, right: 18, top: 40, bottom: 50 };
const AXIS = '#555';
const GRID = '#e4e4e4';

/** "Nice" tick values from 0 to at least `max` (about `count` of them): steps of 1, 2, 2.5 or 5 × 10^k. */
export function niceTicks(max: number, count = 5): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => round(i * step));
}

/** A chart of (stacked) bars per category, with an optional dot-and-line overlay. */
export function barChart(s: BarChartSpec): string {
  const { width, height } = s;
  const pw = width - PAD.left - PAD.right;
  const ph = height - PAD.top - PAD.bottom;
  const ticks = niceTicks(s.yMax);
  const top = ticks[ticks.length - 1]!;
  const y = (v: number) => PAD.top + ph - (v / top) * ph;
  const slots = Math.max(1, s.slots ?? s.categories.length, s.categories.length);
  const slotW = pw / slots;
  const barW = Math.max(2, Math.min(slotW * 0.7, 56));
  const cx = (i: number) => PAD.left + slotW * (i + 0.5);
  const out: string[] = [open(width, height, s.yTitle)];
  out.push(legend([...s.series.map((x) => ({ name: x.name, color: x.color, kind: 'box' as const })), ...(s.overlay ? [{ name: s.overlay.name, color: s.overlay.color, kind: 'dot' as const }] : [])], PAD.left, width));
  for (const i of s.shaded ?? []) {
    if (i < s.categories.length) out.push(`<rect class="shade" x="${f(cx(i) - slotW / 2)}" y="${PAD.top}" width="${f(slotW)}" height="${f(ph)}" fill="#f4ecd8"/>`);
  }
  out.push(yAxis(ticks, y, s.yTick, width, ph));
  for (let i = 0; i < s.categories.length; i++) {
    let base = 0;
    const parts: string[] = [];
    for (const ser of s.series) {
      const v = ser.values[i];
      if (v === null || v === undefined || !(v > 0)) continue;
      parts.push(`<rect x="${f(cx(i) - barW / 2)}" y="${f(y(base + v))}" width="${f(barW)}" height="${f(Math.max(0.5, y(base) - y(base + v)))}" fill="${ser.color}"/>`);
      base += v;
    }
    const tip = s.tooltip ? `<title>${esc(s.tooltip(i))}</title>` : '';
    // an invisible full-height target so the hover text works on short bars too
    parts.push(`<rect x="${f(cx(i) - slotW / 2)}" y="${PAD.top}" width="${f(slotW)}" height="${f(ph)}" fill="transparent"/>`);
    out.push(`<g class="bar">${tip}${parts.join('')}</g>`);
    if (s.barLabel) {
      const text = s.barLabel(base, i);
      // skipped where it would not fit its slot
      if (text && text.length * 6 <= slotW + 6) out.push(`<text x="${f(cx(i))}" y="${f(y(base) - 4)}" text-anchor="middle" class="val">${esc(text)}</text>`);
    }
  }
  if (s.overlay) out.push(dotsAndLine(s.overlay, cx, y));
  // x axis: a label per category, thinned out when they would collide
  out.push(`<line x1="${PAD.left}" y1="${f(PAD.top + ph)}" x2="${f(width - PAD.right)}" y2="${f(PAD.top + ph)}" stroke="${AXIS}"/>`);
  const every = Math.max(1, Math.ceil(22 / slotW));
  s.categories.forEach((c, i) => {
    if (i % every !== 0 && i !== s.categories.length - 1) return;
    const sub = s.subLabels?.[i];
    out.push(`<text x="${f(cx(i))}" y="${f(PAD.top + ph + 15)}" text-anchor="middle">${esc(c)}${sub ? `<tspan x="${f(cx(i))}" dy="13" class="sub">${esc(sub)}</tspan>` : ''}</text>`);
  });
  out.push(axisTitles(s.xTitle, s.yTitle, width, height, ph));
  out.push('</svg>');
  return out.join('');
}

/** A chart of lines (optionally filled) over a numeric x axis from 0 to xMax. */
export function lineChart(s: LineChartSpec): string {
  const { width, height } = s;
  const pw = width - PAD.left - PAD.right;
  const ph = height - PAD.top - PAD.bottom;
  const yt = niceTicks(s.yMax);
  const xt = niceTicks(s.xMax, Math.max(3, Math.round(pw / 90)));
  const yTop = yt[yt.length - 1]!;
  const xTop = xt[xt.length - 1]!;
  const x = (v: number) => PAD.left + (v / xTop) * pw;
  const y = (v: number) => PAD.top + ph - (Math.min(v, yTop) / yTop) * ph;
  const out: string[] = [open(width, height, s.yTitle)];
  const items: LegendItem[] = s.series.map((l) => ({ name: l.name, color: l.color, kind: l.dashed ? 'dashed' : l.area ? 'box' : 'line' }));
  for (const r of s.rules ?? []) items.push({ name: r.label, color: r.color, kind: 'dashed' });
  out.push(legend(items, PAD.left, width));
  for (const b of s.bands ?? []) {
    const x0 = x(Math.max(0, b.x0));
    const x1 = Math.max(x0 + 2, x(Math.min(b.x1, xTop)));
    out.push(`<rect class="band" x="${f(x0)}" y="${PAD.top}" width="${f(x1 - x0)}" height="${f(ph)}" fill="${b.color}"><title>${esc(b.label)}</title></rect>`);
    out.push(`<text x="${f(x0 - 4)}" y="${f(PAD.top + 12)}" text-anchor="end" class="band-label">${esc(b.label)}</text>`);
  }
  out.push(yAxis(yt, y, s.yTick, width, ph));
  // x grid and ticks
  for (const t of xt) {
    out.push(`<line x1="${f(x(t))}" y1="${f(PAD.top + ph)}" x2="${f(x(t))}" y2="${f(PAD.top + ph + 4)}" stroke="${AXIS}"/>`);
    out.push(`<text x="${f(x(t))}" y="${f(PAD.top + ph + 16)}" text-anchor="middle">${esc(s.xTick(t))}</text>`);
  }
  out.push(`<line x1="${PAD.left}" y1="${f(PAD.top + ph)}" x2="${f(width - PAD.right)}" y2="${f(PAD.top + ph)}" stroke="${AXIS}"/>`);
  let lastMarkX = -Infinity;
  for (const m of s.marks ?? []) {
    const mx = x(m.x);
    out.push(`<line x1="${f(mx)}" y1="${PAD.top}" x2="${f(mx)}" y2="${f(PAD.top + ph)}" stroke="#999" stroke-dasharray="2 3"/>`);
    if (mx - lastMarkX >= 16) {
      out.push(`<text x="${f(mx + 3)}" y="${f(PAD.top + ph - 4)}" class="mark">${esc(m.label)}</text>`);
      lastMarkX = mx;
    }
  }
  for (const l of s.series) {
    if (l.points.length === 0) continue;
    const d = l.points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${f(x(px))},${f(y(py))}`).join('');
    if (l.area) {
      const first = l.points[0]!;
      const last = l.points[l.points.length - 1]!;
      out.push(`<path d="${d}L${f(x(last[0]))},${f(y(0))}L${f(x(first[0]))},${f(y(0))}Z" fill="${l.color}" fill-opacity="0.18" stroke="none"/>`);
    }
    out.push(`<path class="line" d="${d}" fill="none" stroke="${l.color}" stroke-width="1.8"${l.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${esc(l.name)}</title></path>`);
  }
  for (const r of s.rules ?? []) {
    if (r.y > yTop) continue;
    out.push(`<line x1="${PAD.left}" y1="${f(y(r.y))}" x2="${f(width - PAD.right)}" y2="${f(y(r.y))}" stroke="${r.color}" stroke-width="1.2" stroke-dasharray="6 4"><title>${esc(r.label)}</title></line>`);
  }
  out.push(axisTitles(s.xTitle, s.yTitle, width, height, ph));
  out.push('</svg>');
  return out.join('');
}

/** Horizontal bars, one row per run, sharing one x scale, with an optional limit line. */
export function hbarChart(s: HBarChartSpec): string {
  const rowH = 34;
  const left = 190;
  const right = 90;
  const top = 40;
  const height = top + rowH * s.rows.length + 44;
  const pw = s.width - left - right;
  const ticks = niceTicks(Math.max(s.xMax, s.limit?.value ?? 0));
  const xTop = ticks[ticks.length - 1]!;
  const x = (v: number) => left + (Math.min(v, xTop) / xTop) * pw;
  const out: string[] = [open(s.width, height, s.xTitle)];
  const items: LegendItem[] = [];
  if (s.markerName) items.push({ name: s.markerName, color: '#222', kind: 'line' });
  if (s.limit) items.push({ name: s.limit.label, color: '#c0392b', kind: 'dashed' });
  out.push(legend(items, left, s.width));
  const bottom = top + rowH * s.rows.length;
  for (const t of ticks) {
    out.push(`<line x1="${f(x(t))}" y1="${top}" x2="${f(x(t))}" y2="${bottom}" stroke="${GRID}"/>`);
    out.push(`<text x="${f(x(t))}" y="${bottom + 16}" text-anchor="middle">${esc(s.xTick(t))}</text>`);
  }
  s.rows.forEach((r, i) => {
    const ry = top + i * rowH + 7;
    const bh = rowH - 14;
    out.push(`<text x="${left - 8}" y="${f(ry + bh / 2 + 4)}" text-anchor="end" class="row">${esc(r.label)}</text>`);
    out.push(`<rect x="${left}" y="${ry}" width="${f(Math.max(1, x(r.value) - left))}" height="${bh}" fill="${r.color}"><title>${esc(`${r.label}: ${r.valueLabel}`)}</title></rect>`);
    // the value after the bar, or after the marker when the marker lies just past the bar
    const after = r.marker !== undefined && x(r.marker) >= x(r.value) - 2 ? Math.max(x(r.value), x(r.marker) + 2) : x(r.value);
    out.push(`<text x="${f(after + 6)}" y="${f(ry + bh / 2 + 4)}" class="val">${esc(r.valueLabel)}</text>`);
    if (r.marker !== undefined) out.push(`<line x1="${f(x(r.marker))}" y1="${ry - 3}" x2="${f(x(r.marker))}" y2="${ry + bh + 3}" stroke="#222" stroke-width="2.5"/>`);
  });
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="${AXIS}"/>`);
  out.push(`<line x1="${left}" y1="${bottom}" x2="${left + pw}" y2="${bottom}" stroke="${AXIS}"/>`);
  if (s.limit) out.push(`<line x1="${f(x(s.limit.value))}" y1="${top - 4}" x2="${f(x(s.limit.value))}" y2="${bottom}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${f(left + pw / 2)}" y="${height - 8}" text-anchor="middle" class="axis-title">${esc(s.xTitle)}</text>`);
  out.push('</svg>');
  return out.join('');
}

function open(width: number, height: number, label: string): string {
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(label)}" class="chart">`;
}

function yAxis(ticks: readonly number[], y: (v: number) => number, label: (v: number) => string, width: number, ph: number): string {
  const out: string[] = [];
  for (const t of ticks) {
    out.push(`<line x1="${PAD.left}" y1="${f(y(t))}" x2="${f(width - PAD.right)}" y2="${f(y(t))}" stroke="${GRID}"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${esc(label(t))}</text>`);
  }
  out.push(`<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${f(PAD.top + ph)}" stroke="${AXIS}"/>`);
  return out.join('');
}

function axisTitles(xTitle: string, yTitle: string, width: number, height: number, ph: number): string {
  const cy = PAD.top + ph / 2;
  return `<text x="${f(PAD.left + (width - PAD.left - PAD.right) / 2)}" y="${height - 6}" text-anchor="middle" class="axis-title">${esc(xTitle)}</text>` +
    `<text transform="translate(14 ${f(cy)}) rotate(-90)" text-anchor="middle" class="axis-title">${esc(yTitle)}</text>`;
}

function legend(items: readonly LegendItem[], x0: number, width: number): string {
  const out: string[] = ['<g class="legend">'];
  let x = x0;
  let y = 14;
  for (const it of items) {
    const w = 22 + it.name.length * 6.6 + 14;
    if (x + w > width - 8 && x > x0) {
      x = x0;
      y += 16;
    }
    if (it.kind === 'box') out.push(`<rect x="${f(x)}" y="${y - 9}" width="12" height="10" fill="${it.color}"/>`);
    else if (it.kind === 'dot') out.push(`<line x1="${f(x)}" y1="${y - 4}" x2="${f(x + 14)}" y2="${y - 4}" stroke="${it.color}" stroke-width="1.5"/><circle cx="${f(x + 7)}" cy="${y - 4}" r="3.5" fill="${it.color}"/>`);
    else out.push(`<line x1="${f(x)}" y1="${y - 4}" x2="${f(x + 16)}" y2="${y - 4}" stroke="${it.color}" stroke-width="2"${it.kind === 'dashed' ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${f(x + 20)}" y="${y}">${esc(it.name)}</text>`);
    x += w;
  }
  out.push('</g>');
  return out.join('');
}

function dotsAndLine(s: BarSeries, cx: (i: number) => number, y: (v: number) => number): string {
  const pts: [number, number][] = [];
  s.values.forEach((v, i) => {
    if (v !== null && v !== undefined && Number.isFinite(v)) pts.push([cx(i), y(v)]);
  });
  if (pts.length === 0) return '';
  const d = pts.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${f(px)},${f(py)}`).join('');
  return `<g class="overlay"><path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>${pts.map(([px, py]) => `<circle cx="${f(px)}" cy="${f(py)}" r="3.5" fill="${s.color}"/>`).join('')}</g>`;
}

/** Coordinates with at most one decimal keep the page small. */
function f(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0';
}

function round(v: number): number {
  return Math.round(v * 1e9) / 1e9;
}
