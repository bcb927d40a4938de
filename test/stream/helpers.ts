/**
 * Shared helpers of the stream tests: building streams in memory, feeding them back in
 * chunks of chosen sizes, a recording load target, and the rejection assertion every
 * hostile-input test uses (class, code, exact offset, message).
 */
import assert from 'node:assert/strict';
import { ByteWriter, MigrationStreamWriter, loadMigrationStream } from '../../src/stream/index.js';
import type { LoadOptions, LoadResult, LoadTarget, RamBlockInfo, RecordKind } from '../../src/stream/index.js';

export const PAGE = 4096;

/** Runs `build` against a writer whose chunks are collected; returns all bytes written. */
export async function buildStream(build: (w: MigrationStreamWriter) => void, chunkBytes = 256 * 1024): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const out = new ByteWriter(async (c) => {
    chunks.push(c);
  }, { chunkBytes });
  build(new MigrationStreamWriter(out));
  await out.flush();
  return concat(chunks);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Yields `bytes` in pieces of the given sizes (cycled); a size of 0 yields an empty chunk. */
export async function* chunked(bytes: Uint8Array, sizes: readonly number[] = [bytes.length || 1]): AsyncGenerator<Uint8Array> {
  let i = 0;
  let off = 0;
  while (off < bytes.length) {
    const n = sizes[i++ % sizes.length]!;
    yield bytes.slice(off, off + n);
    off += n;
  }
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[^0-9a-fA-F]/gu, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** A load target that allocates what it is offered and records every callback. */
export class RecordingTarget implements LoadTarget {
  readonly memory = new Map<string, Uint8Array>();
  offered: RamBlockInfo[] | null = null;
  deviceState: Uint8Array | null = null;
  digest: { algorithm: string; digest: Uint8Array } | null = null;
  readonly records: { kind: RecordKind; idstr: string | null; payloadBytes: number }[] = [];
  readonly sectionTypes: string[] = [];

  constructor(private readonly accept: (b: RamBlockInfo) => boolean = () => true) {}

  setupRam(blocks: readonly RamBlockInfo[]): ReadonlyMap<string, Uint8Array> {
    this.offered = [...blocks];
    for (const b of blocks) if (this.accept(b)) this.memory.set(b.idstr, new Uint8Array(b.lengthBytes));
    return this.memory;
  }
  onRecord(kind: RecordKind, idstr: string | null, payloadBytes: number): void {
    this.records.push({ kind, idstr, payloadBytes });
  }
  onDeviceState(bytes: Uint8Array): void {
    this.deviceState = bytes;
  }
  onDigest(algorithm: string, digest: Uint8Array): void {
    this.digest = { algorithm, digest };
  }
  onSection(info: { type: string; idstr: string }): void {
    this.sectionTypes.push(`${info.type}:${info.idstr}`);
  }
}

export const DEFAULT_MAX_RAM = 64 * 1024 * 1024;

/** Loads `bytes` (in the given chunk sizes) into a fresh RecordingTarget. */
export async function load(
  bytes: Uint8Array,
  options: Partial<LoadOptions> = {},
  sizes?: readonly number[],
  target = new RecordingTarget(),
): Promise<{ result: LoadResult; target: RecordingTarget }> {
  const result = await loadMigrationStream(chunked(bytes, sizes), target, { maxRamBytes: DEFAULT_MAX_RAM, ...options });
  return { result, target };
}

export interface Rejection {
  name?: string;
  code?: string;
  offset?: number;
  message: RegExp | string;
}

/** Asserts that loading `bytes` fails exactly as described. */
export async function assertRejects(bytes: Uint8Array, expected: Rejection, options: Partial<LoadOptions> = {}): Promise<void> {
  await assert.rejects(load(bytes, options), (e: unknown) => {
    assert.ok(e instanceof Error, `not an Error: ${String(e)}`);
    const err = e as Error & { code?: string; offset?: number };
    assert.equal(err.name, expected.name ?? 'StreamError', err.message);
    assert.equal(err.code, expected.code ?? 'STREAM_INVALID', err.message);
    if (expected.offset !== undefined) assert.equal(err.offset, expected.offset, err.message);
    if (typeof expected.message === 'string') assert.equal(err.message, expected.message);
    else assert.match(err.message, expected.message);
    return true;
  });
}

export { prng, randomPage } from '../helpers/pages.js';
