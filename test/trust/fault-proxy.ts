/**
 * A TCP proxy for the fault matrix, between a source and a destination. It parses the stream it
 * forwards (with livemig's own loader, on the original bytes) so that faults hit a chosen phase
 * exactly, whatever the timing:
 *
 * - `setup`: the RAM section's START (the block list);
 * - `pass1`: the data record half way through the first pass (pass 1 sends every page once);
 * - `later-pass`: the first data record after the first pass (a page sent a second time);
 * - `stop-and-copy`: the RAM section's END (the guest is paused on the source).
 *
 * Faults: `cut` (both connections closed a few bytes past the trigger), `bad-record` (the flags
 * byte of the next record changed to a combination no loader accepts), `bad-digest` (the data
 * of a page changed where the workload never writes it again, or, at stop-and-copy, a byte of
 * the RAM digest itself: the stream stays well formed and only the digest check can see it),
 * and `hold` (forwarding stops at the trigger, and `onFire` runs: kill the destination, cancel
 * the source; the connection stays held, even once the source has sent all and waits for the
 * reply, until one side closes or the test drops it with dropConnections()).
 *
 * Bytes are forwarded only once the parser has consumed them, so a fault placed at or after
 * the parser's position never lands in bytes already sent.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ByteSource, loadMigrationStream } from '../../src/stream/index.js';
import type { LoadTarget, RamBlockInfo, RecordKind, SectionInfo } from '../../src/stream/index.js';

export type Phase = 'setup' | 'pass1' | 'later-pass' | 'stop-and-copy';
export type Fault = 'cut' | 'bad-record' | 'bad-digest' | 'hold';

export interface Fired {
  phase: Phase;
  /** Stream offset where the fault took effect. */
  offset: number;
  /** The section the stream was in ('start', 'part', 'end', 'full'). */
  section: string;
  /** Data records (zero/page/delta) parsed before the trigger. */
  records: number;
  totalPages: number;
}

interface ChunkAt {
  at: number;
  bytes: Buffer;
}

/** An async queue of chunks the parser reads from. */
class Feed implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  push(c: Uint8Array): void {
    this.chunks.push(c);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const c = this.chunks.shift();
      if (c !== undefined) {
        yield c;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

export class FaultProxy {
  readonly address: string;
  /** Resolves when the fault took effect. */
  readonly fired: Promise<Fired>;
  private fire!: (f: Fired) => void;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(server: Server, port: number, private readonly target: string, private readonly phase: Phase, private readonly fault: Fault, private readonly onFire?: () => void) {
    this.server = server;
    this.address = `tcp:127.0.0.1:${port}`;
    this.fired = new Promise((r) => (this.fire = r));
    server.on('connection', (s) => this.handle(s));
  }

  /** Listens on 127.0.0.1 (a free port) and forwards each connection to `target` (host:port). */
  static async start(target: string, phase: Phase, fault: Fault, onFire?: () => void): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return new FaultProxy(server, (server.address() as { port: number }).port, target, phase, fault, onFire);
  }

  /** Drops every connection: the destination sees its stream end where the proxy held it. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(src: Socket): void {
    const [host, port] = [this.target.slice(0, this.target.lastIndexOf(':')), Number(this.target.slice(this.target.lastIndexOf(':') + 1))];
    const dst = connect({ host, port, allowHalfOpen: true });
    for (const s of [src, dst]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.setNoDelay(true);
    }
    const closeBoth = (): void => {
      src.destroy();
      dst.destroy();
    };
    src.on('close', () => (this.phase === 'setup' || this.fault === 'hold' ? closeBoth() : dst.end()));
    dst.on('close', () => src.destroy());
    dst.on('data', (b: Buffer) => src.write(b)); // the return path, untouched
    dst.on('end', () => src.end());

    const feed = new Feed();
    const source = new ByteSource(feed);
    const pending: ChunkAt[] = [];
    let received = 0;
    let forwarded = 0;
    let stopAt = Infinity; // forward no byte at or past this offset
    let closeAtStop = false;
    const patches = new Map<number, number>(); // offset -> XOR mask applied when forwarded
    let records = 0;
    let totalPages = 0;
    let section = '';
    let armed: 'bad-digest' | undefined;
    let done = false;
    const original = (offset: number): number | undefined => {
      for (const c of pending) if (offset >= c.at && offset < c.at + c.bytes.length) return c.bytes[offset - c.at];
      return undefined;
    };
    const trigger = (offset: number): void => {
      if (done) return;
      done = true;
      const f: Fired = { phase: this.phase, offset, section, records, totalPages };
      switch (this.fault) {
        case 'cut':
          stopAt = offset;
          closeAtStop = true;
          break;
        case 'bad-record':
          patches.set(offset, 0x01); // e.g. PAGE 0x08 -> 0x09, EOS 0x10 -> 0x11: unknown combinations
          break;
        case 'bad-digest':
          armed = 'bad-digest';
          if (this.phase === 'stop-and-copy') return; // the digest section comes later
          break;
        case 'hold':
          stopAt = offset;
          this.onFire?.();
          break;
      }
      this.fire(f);
    };
    const target: LoadTarget = {
      setupRam: (blocks: readonly RamBlockInfo[]) => {
        totalPages = blocks.reduce((n, b) => n + b.lengthBytes / 4096, 0);
        return new Map(blocks.map((b) => [b.idstr, new Uint8Array(b.lengthBytes)]));
      },
      onSection: (info: SectionInfo) => {
        section = info.type;
        if (this.phase === 'setup' && info.type === 'start' && info.idstr === 'ram') {
          // cut inside the START header; bad-record: the MEM_SIZE record's flags byte
          trigger(this.fault === 'bad-record' ? info.offset + 14 + info.idstr.length + 7 : info.offset + 10);
        }
        if (this.phase === 'stop-and-copy' && info.type === 'end') trigger(this.fault === 'bad-record' ? info.offset + 5 + 7 : info.offset + 3);
        if (armed === 'bad-digest' && this.phase === 'stop-and-copy' && info.type === 'full' && info.idstr === 'livemig-digest') {
          // FULL header (14 + idstr) + u8 len + algorithm + u8 len: the first byte of the digest
          // (the section comes in one chunk, so its length byte is at hand; else the default's)
          const alen = original(info.offset + 14 + info.idstr.length) ?? 'page128'.length;
          const at = info.offset + 14 + info.idstr.length + 1 + alen + 1;
          patches.set(at, 0xff);
          armed = undefined;
          this.fire({ phase: this.phase, offset: at, section, records, totalPages });
        }
      },
      onRecord: (kind: RecordKind, _idstr: string | null, payloadBytes: number) => {
        if (kind !== 'zero' && kind !== 'page' && kind !== 'xbzrle' && kind !== 'xbrle') return;
        const end = source.offset;
        if (armed === 'bad-digest' && this.phase !== 'stop-and-copy') {
          // change the page where the stride workload never writes (it writes byte 0 only)
          let at: number | undefined;
          let mask = 0x5a;
          if (kind === 'zero') {
            at = end - 1;
          } else if (kind === 'page') {
            at = end - 4096 + 2048;
          } else if (kind === 'xbzrle' && payloadBytes === 3 && original(end - 3) === 0x00 && original(end - 2) === 0x01) {
            at = end - 3; // "zero run 0, one changed byte": make it land on byte 1 instead of byte 0
            mask = 0x01;
          }
          if (at !== undefined) {
            patches.set(at, mask);
            armed = undefined;
            this.fire({ phase: this.phase, offset: at, section, records, totalPages });
          }
        }
        records++;
        if (this.phase === 'pass1' && records === Math.floor(totalPages / 2)) trigger(this.fault === 'cut' ? end + 100 : this.fault === 'bad-record' ? end + 7 : end);
        if (this.phase === 'later-pass' && records === totalPages + 1) trigger(this.fault === 'cut' ? end + 100 : this.fault === 'bad-record' ? end + 7 : end);
      },
    };
    void loadMigrationStream(source, target, { maxRamBytes: 1 << 30 }).catch(() => undefined);

    const pump = (): void => {
      // forward what the parser has consumed, patched, up to stopAt
      const limit = Math.min(source.offset, stopAt, received);
      while (pending.length > 0 && forwarded < limit) {
        const c = pending[0]!;
        const from = forwarded - c.at;
        const to = Math.min(c.bytes.length, limit - c.at);
        const piece = Buffer.from(c.bytes.subarray(from, to));
        for (const [off, mask] of patches) if (off >= forwarded && off < forwarded + piece.length) piece[off - forwarded]! ^= mask;
        dst.write(piece);
        forwarded += piece.length;
        if (to === c.bytes.length) pending.shift();
      }
      if (closeAtStop && forwarded >= stopAt) closeBoth();
    };
    src.on('data', (b: Buffer) => {
      pending.push({ at: received, bytes: b });
      received += b.length;
      feed.push(b);
      src.pause();
      // let the parser run over the chunk (microtasks), then forward and go on
      setImmediate(() => {
        pump();
        if (!src.destroyed) src.resume();
      });
    });
    src.on('end', () => {
      feed.end();
      // held: the source may have written all of its stream and now waits for the reply, as a
      // source behind a stalled network does; the connection stays until the test drops it
      // (once the source says it gave up) or the destination dies
      if (this.fault === 'hold') return;
      setImmediate(() => {
        pump();
        if (forwarded === received) dst.end();
      });
    });
  }
}
