/**
 * `info migrate` text: QEMU 7.2's lines (hmp_info_migrate), XBRLE (2011)'s eight delta
 * lines (`transferred ram-duplicate` ... ) when delta compression is on, and the RAM digests
 * once known.
 *
 * Differences from QEMU 7.2, on purpose: no `globals:` block (QEMU's store-global-state and
 * friends do not exist here), and nothing at all on a source before its first migration
 * (QEMU prints only the globals then). A destination prints its incoming status and what it
 * received (formatIncomingInfo).
 */
import type { MigrationInfo } from '../migration/index.js';
import type { TlsInfo } from '../transport/index.js';
import { formatQemuReceived } from './qemu-info.js';

const kb = (bytes: number) => Math.floor(bytes / 1024);

/**
 * The lines of `info migrate` for a query-migrate object (no trailing newline; '' when there
 * was no migration on a source).
 */
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
      // XBRLE (2011)'s eight lines (its v2)
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
  if (info['cpu-throttle-percentage'] !== undefined) lines.push(`cpu throttle percentage: ${info['cpu-throttle-percentage']}`);
  const l = info.livemig;
  // livemig's line: a switchover the stall policy forced did not converge, whatever its downtime
  if (l?.['forced-switchover']) lines.push('forced switchover: yes (did not converge within max-iterations / max-time)');
  // livemig's line: what the switchover was decided on, beside what it cost
  const expected = l?.['expected-downtime-at-switchover'];
  if (expected !== undefined) lines.push(`expected downtime at switchover: ${expected} ms${info.downtime !== undefined ? ` (actual ${info.downtime} ms)` : ''}`);
  const tls = l?.transport?.tls;
  if (tls) lines.push(tlsLine(tls));
  const alg = l?.['digest-algorithm'] ?? 'sha256';
  if (l?.['ram-digest']) lines.push(`ram digest (${alg}): ${l['ram-digest']}`);
  if (l?.['destination-digest']) lines.push(`destination ram digest (${alg}): ${l['destination-digest']}`);
  if (l?.verification) lines.push(verificationLine(l.verification));
  return lines.join('\n');
}

/** "verification (page128, after-resume): matched", or FAILED with the chunks and the pages named. */
function verificationLine(v: { mode: string; algorithm: string; result: string; 'differing-chunks'?: number; pages?: { block: string; offset: number; page: number }[] }): string {
  const head = `verification (${v.algorithm}, ${v.mode}): `;
  if (v.result === 'matched') return head + 'matched';
  const pages = v.pages?.length ? `; pages: ${v.pages.map((p) => `${p.block}+0x${p.offset.toString(16)} (page ${p.page})`).join(', ')}` : '';
  return `${head}FAILED, the RAM differs${v['differing-chunks'] !== undefined ? ` in ${v['differing-chunks']} chunk(s) of 64 pages` : ''}${pages}`;
}

/** "tls: TLSv1.3 TLS_AES_256_GCM_SHA384, peer CN=src (sha256 AB:...)": the session and the verified peer. */
function tlsLine(tls: TlsInfo): string {
  return `tls: ${tls.protocol} ${tls.cipher}, peer ${tls.peerSubject} (sha256 ${tls.peerFingerprint256})`;
}

/** What a destination's query-migrate adds under `incoming` (IncomingMigration.info(), and the Machine's transport). */
export interface IncomingInfoExtra {
  'bytes-read'?: number;
  records?: { zero: number; page: number; xbzrle: number; xbrle: number };
  'source-digest'?: string;
  'ram-digest'?: string;
  'digest-algorithm'?: string;
  /** `off` when the source sent no digest (its verify parameter). */
  verify?: string;
  /** The check's outcome: mode, algorithm, matched or mismatch (with the chunks that differ). */
  verification?: { mode: string; algorithm: string; result: string; 'differing-chunks'?: number; chunks?: number[] };
  machine?: string;
  'stride-check'?: { ok: boolean; message: string };
  'pattern-check'?: { image: string; ok: boolean; passes: number; message: string };
  transport?: { description: string; tls?: TlsInfo };
}

/** `info migrate` on a destination: the status lines, then what was received and the digests. */
export function formatIncomingInfo(info: MigrationInfo & { incoming?: Record<string, unknown> }): string {
  const head = formatInfoMigrate(info, 'destination');
  if (!info.status) return head;
  const x = (info.incoming ?? {}) as IncomingInfoExtra;
  const lines = [head];
  lines.push(`received: ${kb(x['bytes-read'] ?? 0)} kbytes`);
  const r = x.records;
  if (r) lines.push(`received pages: normal ${r.page}, zero ${r.zero}, xbzrle ${r.xbzrle}, xbrle ${r.xbrle}`);
  if (x.transport?.tls) lines.push(tlsLine(x.transport.tls));
  if (x.machine) lines.push(`machine: ${x.machine}`);
  const alg = x['digest-algorithm'] ?? 'sha256';
  if (x['source-digest']) lines.push(`source ram digest (${alg}): ${x['source-digest']}`);
  if (x['ram-digest']) lines.push(`ram digest (${alg}): ${x['ram-digest']}`);
  if (x.verify === 'off') lines.push('verify: off (the source sent no RAM digest; the guest resumed unchecked)');
  if (x.verification) {
    const v = x.verification;
    const where = v.chunks?.length ? `; chunks of 64 pages: ${v.chunks.join(', ')}` : '';
    lines.push(`verification (${v.algorithm}, ${v.mode}): ${v.result === 'matched' ? 'matched' : `FAILED, the RAM differs from the source's${where}`}`);
  }
  lines.push(...formatQemuReceived((info.incoming ?? {})['qemu']));
  if (x['stride-check']) lines.push(`stride check: ${x['stride-check'].ok ? 'ok' : 'FAILED'} (${x['stride-check'].message})`);
  if (x['pattern-check']) lines.push(`${x['pattern-check'].image} pattern check: ${x['pattern-check'].ok ? 'ok' : 'FAILED'} (${x['pattern-check'].message})`);
  return lines.join('\n');
}
