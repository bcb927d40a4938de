/**
 * Builds and runs the plain C reference (bench/c/xbzrle_ref.c) with `cc -O2`, when a
 * compiler is present. `check` returns the C encoder's bytes for every page of every
 * pattern (for the byte-for-byte cross-check) and the hashes of the pages it built;
 * `session` starts it as a server on two FIFOs, so the bench can interleave C repetitions
 * with its own (load from other processes then hits C and JS alike).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATTERNS, type Pattern } from './patterns.js';

export interface CCheck {
  /** Per pattern: hashes of the old and new page sets C built. */
  hashes: Map<Pattern, { old: number; cur: number }>;
  /** Per pattern, per page: the encoder's result and (when > 0) its bytes. */
  encodings: Map<Pattern, { result: number; bytes: Uint8Array }[]>;
  zeroPages: number;
}

const SOURCE = fileURLToPath(new URL('../../bench/c/xbzrle_ref.c', import.meta.url));

export class CReference {
  private constructor(private readonly dir: string, private readonly exe: string, readonly compiler: string) {}

  /** Undefined when there is no `cc`; throws when there is one and the source does not build. */
  static build(): CReference | undefined {
    const version = spawnSync('cc', ['--version'], { encoding: 'utf8' });
    if (version.error || version.status !== 0) return undefined;
    const dir = mkdtempSync(join(tmpdir(), 'livemig-bench-'));
    const exe = join(dir, 'xbzrle_ref');
    const r = spawnSync('cc', ['-O2', '-o', exe, SOURCE], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`cc -O2 -o ${exe} ${SOURCE} failed:\n${r.stderr}`);
    }
    return new CReference(dir, exe, version.stdout.split('\n')[0]!.trim());
  }

  check(pages: number): CCheck {
    const file = join(this.dir, `check-${pages}.bin`);
    const lines = this.run([String(pages), 'check', file]);
    const hashes = new Map<Pattern, { old: number; cur: number }>();
    let zeroPages = -1;
    for (const l of lines) {
      if (typeof l['hash'] === 'string') hashes.set(l['hash'] as Pattern, { old: l['old'] as number, cur: l['cur'] as number });
      if (typeof l['zeroPages'] === 'number') zeroPages = l['zeroPages'];
    }
    const raw = readFileSync(file);
    rmSync(file);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const encodings = new Map<Pattern, { result: number; bytes: Uint8Array }[]>();
    let at = 0;
    for (const p of PATTERNS) {
      const list: { result: number; bytes: Uint8Array }[] = [];
      for (let i = 0; i < pages; i++) {
        const result = view.getInt32(at, true);
        at += 4;
        const n = result > 0 ? result : 0;
        list.push({ result, bytes: new Uint8Array(raw.buffer, raw.byteOffset + at, n) });
        at += n;
      }
      encodings.set(p, list);
    }
    if (at !== raw.byteLength) throw new Error(`C check file: ${raw.byteLength - at} unexpected trailing bytes`);
    return { hashes, encodings, zeroPages };
  }

  /** The C side of one working set, timing on request; close it when done. */
  session(pages: number): CSession {
    const input = join(this.dir, `in-${pages}`);
    const output = join(this.dir, `out-${pages}`);
    const r = spawnSync('mkfifo', [input, output], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
    const child = spawn(this.exe, [String(pages), 'serve', input, output], { stdio: ['ignore', 'ignore', 'inherit'] });
    // The server opens `input` then `output`; these opens wait for it (it builds its pages first).
    const w = openSync(input, 'w');
    const rd = openSync(output, 'r');
    return new CSession(child, w, rd, () => {
      rmSync(input, { force: true });
      rmSync(output, { force: true });
    });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(args: string[]): Record<string, unknown>[] {
    const r = spawnSync(this.exe, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${this.exe} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export class CSession {
  private pending = '';
  private readonly buf = Buffer.alloc(256);

  constructor(
    private readonly child: ChildProcess,
    private readonly w: number,
    private readonly r: number,
    private readonly cleanup: () => void,
  ) {}

  /** Warms the case up; the passes that take about `ms`. */
  calibrate(caseName: string, ms: number): number {
    return Number(this.ask(`calibrate ${caseName} ${ms}`));
  }

  /** Nanoseconds per page over `passes` passes. */
  run(caseName: string, passes: number): number {
    return Number(this.ask(`run ${caseName} ${passes}`));
  }

  close(): void {
    writeSync(this.w, 'quit\n');
    closeSync(this.w);
    closeSync(this.r);
    this.child.unref();
    this.cleanup();
  }

  private ask(line: string): string {
    writeSync(this.w, line + '\n');
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl >= 0) {
        const reply = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        if (!/^[0-9.]+$/.test(reply)) throw new Error(`C reference: "${line}" -> "${reply}"`);
        return reply;
      }
      const n = readSync(this.r, this.buf);
      if (n === 0) throw new Error(`C reference exited while answering "${line}"`);
      this.pending += this.buf.toString('latin1', 0, n);
    }
  }
}
