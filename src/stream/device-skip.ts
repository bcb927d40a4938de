/**
 * Skips a device section's body using its VM description, the way
 * scripts/analyze-migration.py walks one:
 *
 *   body       := field* subsection*
 *   field      := size bytes (array_len times when given) | struct (its own body, per element)
 *   subsection := 0x05  u8 len  name  be32 version_id  body      (one per described subsection, in order)
 *
 * Nothing is buffered: plain fields are discarded as they stream past.
 */
import { StreamError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { SectionType } from './constants.js';
import { MAX_VMDESC_DEPTH } from './limits.js';
import type { VmdescStruct } from './vmdesc.js';

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Consumes one described struct (a device, a struct field or a subsection) from `src`.
 * @throws StreamError when the stream does not match the description or ends early.
 */
export async function skipDescribed(src: ByteSource, desc: VmdescStruct, record: string, depth = 0): Promise<void> {
  if (depth > MAX_VMDESC_DEPTH) throw new StreamError(`VM description nests deeper than ${MAX_VMDESC_DEPTH}`, src.offset, record);
  for (const field of desc.fields) {
    const count = field.array_len ?? 1;
    for (let i = 0; i < count; i++) {
      if (field.struct !== undefined) {
        await skipDescribed(src, field.struct, record, depth + 1);
      } else if (field.size > 0) {
        await src.skip(field.size, `field ${field.name} of ${record}`);
      }
    }
  }
  for (const sub of desc.subsections ?? []) {
    const at = src.offset;
    await src.ensure(2, `subsection header in ${record}`);
    const type = src.readU8();
    if (type !== SectionType.Subsection) {
      throw new StreamError(`Subsection ${sub.vmsd_name ?? '?'} not found (byte 0x${hex2(type)}, expected 0x05)`, at, record);
    }
    const len = src.readU8();
    await src.ensure(len + 4, `subsection header in ${record}`);
    const name = decoder.decode(src.take(len));
    src.readBe32(); // version_id: the description already says what follows
    if (sub.vmsd_name !== undefined && name !== sub.vmsd_name) {
      throw new StreamError(`VM description does not match the stream: subsection '${name}' where '${sub.vmsd_name}' was described`, at, record);
    }
    await skipDescribed(src, sub, record, depth + 1);
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}
