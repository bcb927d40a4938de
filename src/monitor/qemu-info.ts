/**
 * `info migrate` lines for a QEMU stream received as data (query-migrate's `incoming.qemu`,
 * from migration/qemu-incoming.ts): its RAM blocks with their records, device sections, VM
 * description, and the checkpoint and extracted files.
 */

interface QemuReceived {
  'machine-type'?: string;
  blocks?: { idstr: string; 'length-bytes': number; records: { zero: number; page: number; xbzrle: number }; sha256?: string; file?: string }[];
  devices?: { idstr: string; 'instance-id': number; 'length-bytes': number }[];
  'device-bytes'?: number;
  'vmdesc-bytes'?: number;
  'receive-ms'?: number;
  checkpoint?: { file: string; bytes: number; 'zero-pages': number; 'normal-pages': number; 'save-ms': number };
}

/** The lines (none when `q` is not an object). */
export function formatQemuReceived(q: unknown): string[] {
  if (typeof q !== 'object' || q === null) return [];
  const r = q as QemuReceived;
  const lines = [`qemu stream received as data (nothing resumes here)${r['receive-ms'] ? ` in ${r['receive-ms']} ms` : ''}`];
  for (const b of r.blocks ?? []) {
    lines.push(`ram block ${b.idstr}: ${b['length-bytes'] >> 10} kbytes; records: normal ${b.records.page}, zero ${b.records.zero}, xbzrle ${b.records.xbzrle}${b.sha256 ? `; sha256 ${b.sha256}` : ''}${b.file ? `; extracted to ${b.file}` : ''}`);
  }
  const devices = r.devices ?? [];
  if (devices.length > 0) {
    const list = devices.map((d) => `${d.idstr}${d['instance-id'] !== 0 ? `#${d['instance-id']}` : ''} ${d['length-bytes']}`).join(', ');
    lines.push(`device sections: ${devices.length}, ${r['device-bytes'] ?? 0} bytes (${list})`);
  }
  if (r['vmdesc-bytes']) lines.push(`vm description: ${r['vmdesc-bytes']} bytes`);
  const c = r.checkpoint;
  if (c) lines.push(`checkpoint: ${c.file}, ${c.bytes} bytes (normal ${c['normal-pages']} pages, zero ${c['zero-pages']} pages), written in ${c['save-ms']} ms`);
  return lines;
}
