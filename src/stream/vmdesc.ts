/**
 * The VM description: the JSON QEMU appends after EOF so that tools can walk device sections
 * whose layout the stream itself does not carry (migration/savevm.c, migration/vmstate.c).
 *
 *   vmdesc  := 0x06  be32 len  JSON            (right after the 0x00 EOF byte, to the end)
 *   JSON    := {"page_size": 4096, "devices": [device...]}     (10.x adds "configuration")
 *   device  := {"name", "instance_id", "vmsd_name", "version", "fields": [field...], "subsections"?: [sub...]}
 *   field   := {"name", ["array_len" | "index"], "type", ["struct": {vmsd_name, version, fields, subsections?}], "size"}
 *   sub     := {"vmsd_name", "version", "fields", "subsections"?}, on the wire: 0x05 u8 len name be32 version
 *
 * A field's bytes are `size` bytes (`array_len` times when present) unless it is a struct,
 * whose own fields and subsections are walked instead, as scripts/analyze-migration.py does.
 * The RAM section is iterative and never described.
 */
import { open } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { LIVEMIG_DEVICE_IDSTR, LIVEMIG_DIGEST_IDSTR, LIVEMIG_MACHINE_IDSTR, LIVEMIG_SECTION_VERSION, SectionType } from './constants.js';

/** One field of a described device or struct. */
export interface VmdescField {
  name: string;
  type: string;
  size: number;
  array_len?: number;
  index?: number;
  struct?: VmdescStruct;
}

/** A VMStateDescription as written: fields in wire order, then the subsections sent. */
export interface VmdescStruct {
  vmsd_name?: string;
  version?: number;
  fields: VmdescField[];
  subsections?: VmdescStruct[];
}

/** A device section's description, matched to a START/FULL section by (name, instance_id). */
export interface VmdescDevice extends VmdescStruct {
  name: string;
  instance_id: number;
}

/** The whole JSON document. */
export interface VmDescription {
  page_size?: number;
  devices: VmdescDevice[];
  [key: string]: unknown;
}

/**
 * The description of livemig's device-state section (fields as QEMU writes an old-style
 * device: sizes are what this stream carries).
 */
export function livemigDeviceDescription(stateBytes: number, idstr: string = LIVEMIG_DEVICE_IDSTR): VmdescDevice {
  return {
    name: idstr,
    instance_id: 0,
    vmsd_name: idstr,
    version: LIVEMIG_SECTION_VERSION,
    fields: [
      { name: 'length', type: 'uint32', size: 4 },
      { name: 'data', type: 'buffer', size: stateBytes },
    ],
  };
}

/** The description of livemig's machine section (the same shape as the device state's). */
export function livemigMachineDescription(configBytes: number): VmdescDevice {
  return livemigDeviceDescription(configBytes, LIVEMIG_MACHINE_IDSTR);
}

/** The description of livemig's digest section. */
export function livemigDigestDescription(algorithmBytes: number, digestBytes: number): VmdescDevice {
  return {
    name: LIVEMIG_DIGEST_IDSTR,
    instance_id: 0,
    vmsd_name: LIVEMIG_DIGEST_IDSTR,
    version: LIVEMIG_SECTION_VERSION,
    fields: [
      { name: 'algorithm_len', type: 'uint8', size: 1 },
      { name: 'algorithm', type: 'buffer', size: algorithmBytes },
      { name: 'digest_len', type: 'uint8', size: 1 },
      { name: 'digest', type: 'buffer', size: digestBytes },
    ],
  };
}

const encoder = new TextEncoder();

/**
 * The JSON bytes to write after 0x06 and the be32 length. Spaces are appended while any byte
 * of the length would be 0x7b ('{'): analyze-migration.py finds the JSON by the first '{'
 * after the last NUL, and a '{' inside the length fools it (e.g. a 123-byte JSON).
 */
export function encodeVmdesc(description: object): Uint8Array {
  let json = JSON.stringify(description);
  let bytes = encoder.encode(json);
  while (hasByte7b(bytes.length)) {
    json += ' ';
    bytes = encoder.encode(json);
  }
  return bytes;
}

function hasByte7b(n: number): boolean {
  return ((n >>> 24) & 0xff) === 0x7b || ((n >>> 16) & 0xff) === 0x7b || ((n >>> 8) & 0xff) === 0x7b || (n & 0xff) === 0x7b;
}

/**
 * Checks that a parsed JSON value has the shape the section skipper relies on and returns
 * it typed. Unknown keys are kept.
 * @throws InvalidArgumentError naming the first bad place.
 */
export function parseVmDescription(value: unknown): VmDescription {
  if (!isObject(value) || !Array.isArray(value['devices'])) {
    throw new InvalidArgumentError('VM description: not an object with a "devices" array');
  }
  const devices = value['devices'] as unknown[];
  devices.forEach((d, i) => {
    const where = `devices[${i}]`;
    if (!isObject(d) || typeof d['name'] !== 'string' || !isCount(d['instance_id'])) {
      throw new InvalidArgumentError(`VM description: ${where} needs a string "name" and an integer "instance_id"`);
    }
    checkStruct(d, where, 0);
  });
  if (value['page_size'] !== undefined && !isCount(value['page_size'])) {
    throw new InvalidArgumentError('VM description: "page_size" is not a non-negative integer');
  }
  return value as VmDescription;
}

const MAX_DEPTH = 64;

function checkStruct(s: Record<string, unknown>, where: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`VM description: ${where} nests deeper than ${MAX_DEPTH}`);
  const fields = s['fields'];
  if (!Array.isArray(fields)) throw new InvalidArgumentError(`VM description: ${where} has no "fields" array`);
  fields.forEach((f: unknown, i) => {
    const at = `${where}.fields[${i}]`;
    if (!isObject(f) || typeof f['name'] !== 'string' || typeof f['type'] !== 'string' || !isCount(f['size'])) {
      throw new InvalidArgumentError(`VM description: ${at} needs "name", "type" and an integer "size"`);
    }
    if (f['array_len'] !== undefined && !isCount(f['array_len'])) throw new InvalidArgumentError(`VM description: ${at} has a bad "array_len"`);
    if (f['type'] === 'struct' || f['struct'] !== undefined) {
      if (!isObject(f['struct'])) throw new InvalidArgumentError(`VM description: ${at} is a struct without a "struct" object`);
      checkStruct(f['struct'], `${at}.struct`, depth + 1);
    }
  });
  const subs = s['subsections'];
  if (subs === undefined) return;
  if (!Array.isArray(subs)) throw new InvalidArgumentError(`VM description: ${where}.subsections is not an array`);
  subs.forEach((sub: unknown, i) => {
    const at = `${where}.subsections[${i}]`;
    if (!isObject(sub) || typeof sub['vmsd_name'] !== 'string') throw new InvalidArgumentError(`VM description: ${at} needs a "vmsd_name"`);
    checkStruct(sub, at, depth + 1);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Where a trailing VM description was found and what it says. */
export interface FoundVmdesc {
  /** Offset of the 0x06 byte within the bytes searched. */
  offset: number;
  json: unknown;
}

/**
 * Finds a VM description that ends exactly at the end of `tail` (the last bytes of a stream
 * file): 0x00 EOF, 0x06, be32 len, then `len` bytes of JSON starting with '{'. Scans back
 * from the end; returns the latest candidate that parses, or null.
 */
export function findVmdesc(tail: Uint8Array): FoundVmdesc | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let p = tail.length - 6; p >= 1; p--) {
    if (tail[p] !== SectionType.VmDescription || tail[p + 5] !== 0x7b || tail[p - 1] !== SectionType.Eof) continue;
    const len = ((tail[p + 1]! << 24) | (tail[p + 2]! << 16) | (tail[p + 3]! << 8) | tail[p + 4]!) >>> 0;
    if (p + 5 + len !== tail.length) continue;
    try {
      const json: unknown = JSON.parse(decoder.decode(tail.subarray(p + 5)));
      if (isObject(json)) return { offset: p, json };
    } catch {
      // not this one; keep scanning
    }
  }
  return null;
}

/**
 * Reads the VM description from the end of a stream file (for real QEMU streams, whose device
 * sections can only be walked with it). Looks at most `maxTailBytes` back (default 16 MiB).
 * @returns the parsed description, or null when the file does not end with one.
 * @throws InvalidArgumentError when one is found but its shape is not a VM description.
 */
export async function readVmdescFromFile(path: string, maxTailBytes = 16 * 1024 * 1024): Promise<VmDescription | null> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const n = Math.min(size, maxTailBytes);
    const tail = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(tail, got, n - got, size - n + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const found = findVmdesc(tail.subarray(0, got));
    return found === null ? null : parseVmDescription(found.json);
  } finally {
    await fh.close();
  }
}
