/**
 * The stream's header and configuration section (QEMU migration/savevm.c:
 * qemu_loadvm_state_header, vmstate_configuration, configuration_post_load).
 *
 *   header := be32 0x5145564d "QEVM"  be32 3
 *             0x07  be32 len  machine-name  [subsection]*
 *   subsection (only sent when it matters; no terminator, the reader peeks for 0x05):
 *     0x05 u8 len "configuration/target-page-bits" be32 version  be32 bits             (must be 12)
 *     0x05 u8 len "configuration/capabilities"     be32 version  be32 n (u8 len name)*  (x-ignore-shared,
 *                                                                 mapped-ram: they change the RAM format)
 *     0x05 u8 len "configuration/uuid"             be32 version  16 bytes              (ignored)
 */
import { StreamError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, QEMU_VM_FILE_VERSION_COMPAT, SectionType } from './constants.js';
import { MAX_MACHINE_NAME_BYTES, StreamLimitError } from './limits.js';

const text = new TextDecoder('utf-8', { fatal: false });
/** x86's TARGET_PAGE_BITS: 4 KiB pages. */
const TARGET_PAGE_BITS = 12;

/**
 * Reads the header and configuration section; returns the machine name. With
 * `expectMachine`, applies QEMU's rule: the received name must be a prefix of the local one.
 * @throws StreamError with QEMU's wording (bad magic, v2, other versions, missing
 *   configuration, machine mismatch, unsupported configuration subsections).
 */
export async function readStreamHeader(src: ByteSource, expectMachine?: string): Promise<string> {
  await src.ensure(8, 'file header');
  const magic = src.readBe32();
  if (magic !== QEMU_VM_FILE_MAGIC) {
    throw new StreamError(`Not a migration stream (magic 0x${hex(magic, 8)}, expected 0x${hex(QEMU_VM_FILE_MAGIC, 8)} "QEVM")`, 0, 'file header');
  }
  const version = src.readBe32();
  if (version === QEMU_VM_FILE_VERSION_COMPAT) {
    throw new StreamError('SaveVM v2 format is obsolete and no longer supported', 4, 'file header');
  }
  if (version !== QEMU_VM_FILE_VERSION) {
    throw new StreamError(`Unsupported migration stream version ${version} (expected ${QEMU_VM_FILE_VERSION})`, 4, 'file header');
  }
  await src.ensure(1, 'configuration section');
  const type = src.readU8();
  if (type !== SectionType.Configuration) {
    throw new StreamError(`Configuration section missing (byte 0x${hex(type, 2)}, expected 0x07)`, 8, 'configuration section');
  }
  await src.ensure(4, 'configuration section');
  const len = src.readBe32();
  if (len > MAX_MACHINE_NAME_BYTES) {
    throw new StreamLimitError(`machine name of ${len} bytes is over the limit of ${MAX_MACHINE_NAME_BYTES}`, 9, MAX_MACHINE_NAME_BYTES);
  }
  await src.ensure(len, 'machine name');
  const name = text.decode(src.take(len));
  if (expectMachine !== undefined && !expectMachine.startsWith(name)) {
    throw new StreamError(`Machine type received is '${name}' and local is '${expectMachine}'`, 13, 'configuration section');
  }
  for (;;) {
    await src.ensure(1, 'section type');
    if (src.peekU8() !== SectionType.Subsection) return name;
    await configSubsection(src);
  }
}

/**
 * The machine name of the configuration section, looked at without consuming anything: how a
 * destination tells a QEMU stream ('pc-i440fx-7.2') from livemig's ('livemig') before loading
 * it. Undefined when the first bytes are not a header with a configuration section (the load
 * that follows then reports what is wrong, at its offset).
 */
export async function peekMachineName(src: ByteSource): Promise<string | undefined> {
  try {
    await src.ensure(13, 'file header');
  } catch (e) {
    // too short: the load says so; anything else (a stalled or broken connection) is the error
    if (e instanceof StreamError) return undefined;
    throw e;
  }
  const head = src.peekBytes(13);
  const view = new DataView(head.buffer, head.byteOffset, 13);
  if (view.getUint32(0) !== QEMU_VM_FILE_MAGIC || view.getUint32(4) !== QEMU_VM_FILE_VERSION || head[8] !== SectionType.Configuration) return undefined;
  const len = view.getUint32(9);
  if (len > MAX_MACHINE_NAME_BYTES) return undefined;
  try {
    await src.ensure(13 + len, 'machine name');
  } catch (e) {
    if (e instanceof StreamError) return undefined;
    throw e;
  }
  return text.decode(src.peekBytes(13 + len).subarray(13));
}

async function configSubsection(src: ByteSource): Promise<void> {
  const at = src.offset;
  await src.ensure(2, 'configuration subsection');
  src.readU8();
  const len = src.readU8();
  await src.ensure(len + 4, 'configuration subsection');
  const name = text.decode(src.take(len));
  src.readBe32(); // version_id
  const record = `configuration subsection ${name}`;
  if (name === 'configuration/target-page-bits') {
    await src.ensure(4, record);
    const bits = src.readBe32();
    if (bits !== TARGET_PAGE_BITS) throw new StreamError(`Received TARGET_PAGE_BITS is ${bits} but local is ${TARGET_PAGE_BITS}`, at, record);
  } else if (name === 'configuration/capabilities') {
    await src.ensure(4, record);
    if (src.readBe32() > 0) {
      await src.ensure(1, record);
      const clen = src.readU8();
      await src.ensure(clen, record);
      const cap = text.decode(src.take(clen));
      throw new StreamError(`Capability ${cap} is on in the stream; livemig loads only plain precopy RAM`, at, record);
    }
  } else if (name === 'configuration/uuid') {
    await src.ensure(16, record);
    src.take(16);
  } else {
    throw new StreamError(`Unknown configuration subsection '${name}'`, at, record);
  }
}

function hex(v: number, digits: number): string {
  return v.toString(16).padStart(digits, '0');
}
