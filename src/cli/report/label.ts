/**
 * What a migration used, in words, from its own capabilities, parameters and final counters
 * (never from what the caller meant to run): the delta codec or "no delta compression", the
 * page cache's size and ways, auto-xbzrle (and the pass at which it switched delta
 * compression off), auto-converge. livemig has no other compression (QEMU's `compress` and
 * multifd compression are not implemented), so the codec is the whole of it.
 */
import type { MigrationCapabilities, MigrationInfo, MigrationParameters } from '../../migration/index.js';
import { formatBytes } from './format.js';

export interface UsedSettings {
  capabilities?: Partial<MigrationCapabilities>;
  parameters?: Partial<MigrationParameters>;
  /** The final query-migrate snapshot: says whether auto-xbzrle switched delta compression off. */
  info?: MigrationInfo;
}

/**
 * "XBZRLE, 16 MiB cache (2-way), auto-xbzrle: off at pass 3", "no delta compression,
 * auto-converge". Falls back on the snapshot's codec when the capabilities are unknown.
 */
export function describeSettings(s: UsedSettings): string {
  const caps = s.capabilities;
  const p = s.parameters;
  const codec = caps?.xbzrle !== undefined ? (caps.xbzrle ? (p?.['delta-codec'] ?? 'xbzrle') : 'none') : s.info?.livemig?.codec;
  const parts: string[] = [];
  if (codec === undefined) parts.push('delta compression unknown');
  else if (codec === 'none') parts.push('no delta compression');
  else {
    const size = p?.['xbzrle-cache-size'] ?? s.info?.['xbzrle-cache']?.['cache-size'];
    const ways = p?.['cache-ways'];
    parts.push(`${codec.toUpperCase()}${size !== undefined ? `, ${formatBytes(size)} cache${ways !== undefined ? ` (${ways}-way)` : ''}` : ''}`);
    const offAt = s.info?.livemig?.['delta-disabled-at-pass'];
    if (caps?.['auto-xbzrle']) parts.push(offAt ? `auto-xbzrle: off at pass ${offAt}` : 'auto-xbzrle');
    else if (offAt) parts.push(`switched off at pass ${offAt}`);
  }
  if (caps?.['auto-converge'] ?? s.info?.livemig?.['auto-converge'] !== undefined) parts.push('auto-converge');
  return parts.join(', ');
}
