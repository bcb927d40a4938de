/**
 * Shared helpers of the transport tests: random payloads with their digest, sending and
 * receiving a whole stream through channels, temporary directories, and the leak check that
 * every test file ends with (no listener, socket or child process left behind).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readChunks, type Channel } from '../../src/transport/index.js';

export const MiB = 1024 * 1024;

/** `size` random bytes. */
export function payload(size: number): Buffer {
  return randomBytes(size);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` through `channel` in `chunkSize` pieces, then ends it. */
export async function sendAll(channel: Channel, data: Uint8Array, chunkSize = 256 * 1024): Promise<void> {
  for (let off = 0; off < data.byteLength; off += chunkSize) {
    await channel.write(data.subarray(off, Math.min(off + chunkSize, data.byteLength)));
  }
  await channel.end();
}

/** The digest and length of everything read from `channel` until its clean end. */
export async function receiveAll(channel: Channel): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of readChunks(channel)) {
    hash.update(chunk);
    length += chunk.byteLength;
  }
  return { sha256: hash.digest('hex'), length };
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-transport-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resource kinds that would mean a test leaked a listener, connection or child. */
const LEAK_KINDS = new Set(['TCPServerWrap', 'TCPSocketWrap', 'PipeServerWrap', 'ProcessWrap']);

/** Waits (up to 2 s, closing is asynchronous) until no listener, socket or child of ours is left; throws otherwise. */
export async function assertNoLeaks(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const leaked = process.getActiveResourcesInfo().filter((k) => LEAK_KINDS.has(k));
    if (leaked.length === 0) return;
    if (i === 99) throw new Error(`leaked resources: ${leaked.join(', ')}`);
    await sleep(20);
  }
}

/** True while any live (non-zombie) process is in process group `pgid` (Linux /proc). */
export function groupAlive(pgid: number): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

/** Polls `cond` every 20 ms for up to `ms`; true if it became true. */
export async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 20) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}
