/**
 * `info migrate` text: QEMU 7.2's lines (qemu-reference 6.2), the seed's eight delta
 * lines when delta compression is on (design.md 5), and the RAM digests once known.
 */
import type { MigrationInfo } from '../migration/index.js';

const kb = (bytes: number) => Math.floor(bytes / 1024);

export function formatInfoMigrate(info: MigrationInfo, role: 'source' | 'destination' = 'source'): string {
  const lines: string[] = [];
  if (!info.status) return role === 'destination' ? 'Migration status: none (waiting for an incoming migration)' : '';
  lines.push(`Migration status: ${info.status}${info.status === 'failed' && info['error-desc'] ? ` (${info['error-desc']})` : ''}`);
  if (info['total-time'] !== undefined) lines.push(`total time: ${info['total-time']} ms`);
  if (info.downtime !== undefined) lines.push(`downtime: ${info.downtime} ms`);
  else if (info['expected-downtime'] !== undefined) lines.push(`expected downtime: ${info['expected-downtime']} ms`);
  if (info['setup-time'] !== undefined) lines.push(`setup: ${info['setup-time']} ms`);
  const r = info.ram;
  if (r) {
    lines.push(
      `transferred ram: ${kb(r.transferred)} kbytes`,
      `throughput: ${r.mbps.toFixed(2)} mbps`,
      `remaining ram: ${kb(r.remaining)} kbytes`,
      `total ram: ${kb(r.total)} kbytes`,
      `duplicate: ${r.duplicate} pages`,
      `skipped: ${r.skipped} pages`,
      `normal: ${r.normal} pages`,
      `normal bytes: ${kb(r['normal-bytes'])} kbytes`,
      `dirty sync count: ${r['dirty-sync-count']}`,
      `page size: ${kb(r['page-size'])} kbytes`,
      `multifd bytes: ${kb(r['multifd-bytes'])} kbytes`,
      `pages-per-second: ${r['pages-per-second']}`,
    );
    if (r['dirty-pages-rate']) lines.push(`dirty pages rate: ${r['dirty-pages-rate']} pages`);
    if (r['precopy-bytes']) lines.push(`precopy ram: ${kb(r['precopy-bytes'])} kbytes`);
    if (r['downtime-bytes']) lines.push(`downtime ram: ${kb(r['downtime-bytes'])} kbytes`);
  }
  const x = info['xbzrle-cache'];
  if (x) {
    lines.push(
      `cache size: ${x['cache-size']} bytes`,
      `xbzrle transferred: ${kb(x.bytes)} kbytes`,
      `xbzrle pages: ${x.pages} pages`,
      `xbzrle cache miss: ${x['cache-miss']} pages`,
      `xbzrle cache miss rate: ${x['cache-miss-rate'].toFixed(2)}`,
      `xbzrle encoding rate: ${x['encoding-rate'].toFixed(2)}`,
      `xbzrle overflow: ${x.overflow}`,
    );
    const l = info.livemig;
    if (l && r) {
      // the seed's eight lines (XBRLE v2, 2011)
      lines.push(
        `transferred ram-duplicate: ${kb(l['duplicate-bytes'])} kbytes`,
        `transferred ram-duplicate: ${r.duplicate} pages`,
        `transferred ram-normal: ${kb(r['normal-bytes'])} kbytes`,
        `transferred ram-normal: ${r.normal} pages`,
        `transferred ram-xbrle: ${kb(l['delta-record-bytes'])} kbytes`,
        `transferred ram-xbrle: ${l['delta-records']} pages`,
        `overflow ram-xbrle: ${x.overflow} pages`,
        `cache-miss ram-xbrle: ${x['cache-miss']} pages`,
      );
    }
  }
  const l = info.livemig;
  if (l?.['ram-digest']) lines.push(`ram digest (sha256): ${l['ram-digest']}`);
  if (l?.['destination-digest']) lines.push(`destination ram digest (sha256): ${l['destination-digest']}`);
  return lines.join('\n');
}
