/**
 * A small QMP client for tests: connects to a unix or tcp socket, collects every JSON line
 * (replies and events), and matches replies to commands by id.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export type Json = Record<string, unknown>;

export class QmpClient {
  readonly messages: Json[] = [];
  readonly closed: Promise<void>;
  private buffer = '';
  private waiters: { pred: (m: Json) => boolean; from: number; resolve: (m: Json) => void }[] = [];
  private nextId = 1;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim() === '') continue;
        const m = JSON.parse(line) as Json;
        this.messages.push(m);
        const i = this.messages.length - 1;
        this.waiters = this.waiters.filter((w) => (i >= w.from && w.pred(m) ? (w.resolve(m), false) : true));
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((r) => socket.on('close', () => r()));
  }

  static connect(where: { path: string } | { host: string; port: number }): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const s = connect(where as { path: string });
      s.once('connect', () => resolve(new QmpClient(s)));
      s.once('error', reject);
    });
  }

  /** Connects, checks the greeting and negotiates. */
  static async ready(where: { path: string } | { host: string; port: number }): Promise<QmpClient> {
    const c = await QmpClient.connect(where);
    await c.waitFor((m) => 'QMP' in m);
    const r = await c.execute('qmp_capabilities');
    if (!('return' in r)) throw new Error(`negotiation failed: ${JSON.stringify(r)}`);
    return c;
  }

  /** The first message (already received or to come, from index `from`) matching `pred`. */
  waitFor(pred: (m: Json) => boolean, ms = 20_000, from = 0): Promise<Json> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching QMP message within ${ms} ms; got:\n${this.messages.map((m) => JSON.stringify(m)).join('\n')}`)), ms);
      this.waiters.push({ pred, from, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  /** Sends a command with a fresh id and resolves with its reply (return or error). */
  execute(name: string, args?: Json, ms?: number): Promise<Json> {
    const id = this.nextId++;
    this.sendRaw(JSON.stringify(args === undefined ? { execute: name, id } : { execute: name, arguments: args, id }) + '\n');
    return this.waitFor((m) => m['id'] === id && ('return' in m || 'error' in m), ms);
  }

  /** The return value; throws on an error reply. */
  async ok(name: string, args?: Json, ms?: number): Promise<unknown> {
    const r = await this.execute(name, args, ms);
    if (!('return' in r)) throw new Error(`${name} failed: ${JSON.stringify(r)}`);
    return r['return'];
  }

  /** The error of an error reply; throws on success. */
  async fails(name: string, args?: Json): Promise<{ class: string; desc: string }> {
    const r = await this.execute(name, args);
    if (!('error' in r)) throw new Error(`${name} should fail, got ${JSON.stringify(r)}`);
    return r['error'] as { class: string; desc: string };
  }

  /** Writes raw text and resolves with the next message that has no id (parse errors). */
  sendRaw(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next message after now that matches. */
  next(pred: (m: Json) => boolean, ms?: number): Promise<Json> {
    return this.waitFor(pred, ms, this.messages.length);
  }

  events(name: string): Json[] {
    return this.messages.filter((m) => m['event'] === name);
  }

  close(): void {
    this.socket.destroy();
  }
}
