/**
 * One migration connection, whatever carries it: the `Channel` interface the migration code
 * talks to, and `StreamChannel`, its implementation over a Node Writable/Readable pair.
 *
 * `StreamChannel` turns the stream events into promise results the sender can await:
 * `write()` waits for 'drain' whenever the stream's buffer is over its high-water mark, so the
 * sender's memory stays bounded however slow the peer is; any 'error' or early 'close' becomes
 * one TransportError naming the URI, which every pending and later `write()`/`end()` rejects
 * with. It listens for 'error' on everything it holds, so a dying peer never crashes the process.
 */
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { TransportError, closedTransport, invalidTransport, toTransportError } from './errors.js';
import type { PooledReader } from './pooled-reader.js';
import type { TlsInfo } from './tls.js';
import { formatChecked, type MigrationUri } from './uri.js';

/**
 * One migration connection. `output` carries the stream to the peer; `input` carries bytes from
 * the peer: the migration stream on the incoming side, the return path (if any) on the
 * outgoing side. tcp and unix have a return path (the same socket both ways), as does `fd:` on
 * a socket; exec, file and `fd:` on a file or pipe are one-way, with `output` null on the
 * incoming side and `input` null on the outgoing side.
 *
 * Ownership: the channel owns what it wraps (socket, child process, file descriptor) and
 * closes it; call `destroy()` when done with a channel whose `input` is not read to its end.
 */
export interface Channel {
  /** The URI this channel was opened for (with the real port for a listener asked for port 0). */
  readonly uri: MigrationUri;
  /** Both ends in words, for logs: "tcp 127.0.0.1:41234 -> 127.0.0.1:4444". */
  readonly description: string;
  /** Where stream bytes are written (outgoing side; the return path on the incoming side); null when this side cannot send. */
  readonly output: Writable | null;
  /** Incoming side: the stream bytes; outgoing side: return-path bytes, or null without a return path. */
  readonly input: Readable | null;
  /** True when bytes can flow both ways (tcp, unix, fd: on a socket). */
  readonly hasReturnPath: boolean;
  /**
   * Write with backpressure: resolves when the chunk is accepted (waiting for 'drain' when the
   * buffer is full), rejects with TransportError TRANSPORT_CLOSED if the peer is gone. The chunk
   * is not copied: the caller must not change `chunk` until `released` is called, which happens
   * once the transport no longer holds it (the OS took its bytes) and never after a failure.
   */
  write(chunk: Uint8Array, released?: () => void): Promise<void>;
  /**
   * Flushes and half-closes the output (end()), resolving once everything was handed to the OS
   * (file: closed; exec: the command exited with status 0 — any other status is a
   * TransportError naming it). Idempotent. On a channel without output it only waits for the
   * same completion, if any. There is no timeout (a command may take long to finish its work):
   * call `destroy()` to give up.
   */
  end(): Promise<void>;
  /** Tears everything down at once (socket destroy, child kill, descriptor close); idempotent. */
  destroy(reason?: Error): void;
  /** Bytes accepted by `write()` so far. */
  readonly bytesWritten: number;
  /** The TLS session (protocol, cipher, the peer's verified identity) on a tls: channel; absent otherwise. */
  readonly tls?: TlsInfo;
  /**
   * On an incoming socket accepted with `pooledReads`: the input's bytes, read into reused
   * buffers. `input` then carries no data (only 'end', 'error' and 'close'); read with
   * `readChunks(channel, { reuseBuffers: true })`.
   */
  readonly pooled?: PooledReader;
  /**
   * Milliseconds `readChunks()` waits for the next bytes before failing with TRANSPORT_CLOSED
   * (ETIMEDOUT): a peer that stopped sending. Infinity (or absent) waits for ever.
   */
  readonly readTimeoutMs?: number;
  /**
   * Milliseconds a `write()` or `end()` may wait without the peer taking a single byte before
   * the channel fails with TRANSPORT_CLOSED (ETIMEDOUT): a peer that stopped reading. Infinity
   * (or absent) waits for ever. The sender's memory stays bounded either way (backpressure).
   */
  readonly writeTimeoutMs?: number;
  /** What the timeouts are called in their failures' messages; see ChannelTimeouts.timeoutNames. */
  readonly timeoutNames?: TimeoutNames;
}

/** Names of the two stall timeouts as the user set them (a monitor parameter, a flag). */
export interface TimeoutNames {
  /** Default `readTimeoutMs`. */
  read?: string;
  /** Default `writeTimeoutMs`. */
  write?: string;
}

/** Timeouts against a stalled peer; see `Channel.readTimeoutMs` and `Channel.writeTimeoutMs`. */
export interface ChannelTimeouts {
  /** Default: DEFAULT_READ_TIMEOUT_MS on tcp/unix/tls sockets, Infinity on exec, file and fd. */
  readTimeoutMs?: number;
  /** Default: DEFAULT_WRITE_TIMEOUT_MS on tcp/unix/tls sockets, Infinity on exec, file and fd. */
  writeTimeoutMs?: number;
  /**
   * How a timeout's failure names it: a caller that took the value from its user names what
   * the user set (`write-timeout`, `--write-timeout`) instead of this option.
   */
  timeoutNames?: TimeoutNames;
}

/** A socket peer that sends nothing for a minute is gone (a source computing a 16 GiB digest pauses ~40 s). */
export const DEFAULT_READ_TIMEOUT_MS = 60_000;
/** A socket peer that takes no byte for 30 s has stopped reading. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

/** Largest finite timeout setTimeout honours. */
const MAX_TIMER_MS = 0x7fffffff;

/** Checks the timeouts of `options` (TRANSPORT_INVALID naming the URI), filling in the given defaults. */
/** The timeouts a caller set, and only those (absent ones take the transport's defaults). */
export function pickTimeouts(options: ChannelTimeouts | undefined): ChannelTimeouts {
  return {
    ...(options?.readTimeoutMs !== undefined ? { readTimeoutMs: options.readTimeoutMs } : {}),
    ...(options?.writeTimeoutMs !== undefined ? { writeTimeoutMs: options.writeTimeoutMs } : {}),
    ...(options?.timeoutNames !== undefined ? { timeoutNames: options.timeoutNames } : {}),
  };
}

export function checkTimeouts(uriText: string, options: ChannelTimeouts | undefined, defaults: Required<Omit<ChannelTimeouts, 'timeoutNames'>>): Required<ChannelTimeouts> {
  const one = (name: 'readTimeoutMs' | 'writeTimeoutMs'): number => {
    const v = options?.[name] ?? defaults[name];
    if (typeof v !== 'number' || Number.isNaN(v) || v <= 0 || (v > MAX_TIMER_MS && v !== Infinity)) {
      throw invalidTransport(uriText, `${name} must be a positive number of milliseconds up to ${MAX_TIMER_MS} or Infinity, got ${String(v)}`);
    }
    return v;
  };
  return { readTimeoutMs: one('readTimeoutMs'), writeTimeoutMs: one('writeTimeoutMs'), timeoutNames: { ...options?.timeoutNames } };
}

/** What a transport hands to StreamChannel. */
export interface ChannelParts {
  uri: MigrationUri;
  description: string;
  output: Writable | null;
  input: Readable | null;
  hasReturnPath: boolean;
  /** Runs in `end()` after the output's 'finish': wait for a file to close, a command to exit 0. */
  afterFinish?: () => Promise<void>;
  /** Turns an output failure into the error to report (exec: with the exit status and stderr). */
  explain?: (cause: unknown) => Promise<TransportError>;
  /** Extra teardown for `destroy()` (kill the command). */
  teardown?: () => void;
  /** The TLS session, on a tls: channel. */
  tls?: TlsInfo;
  /** See Channel.pooled. */
  pooled?: PooledReader;
  /** See Channel; both default to Infinity. */
  readTimeoutMs?: number;
  writeTimeoutMs?: number;
  timeoutNames?: TimeoutNames;
}

/** A Channel over a Writable/Readable pair; see the module comment. */
export class StreamChannel implements Channel {
  readonly uri: MigrationUri;
  readonly description: string;
  readonly output: Writable | null;
  readonly input: Readable | null;
  readonly hasReturnPath: boolean;
  readonly tls?: TlsInfo;
  readonly pooled?: PooledReader;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly timeoutNames: TimeoutNames;
  private readonly uriText: string;
  private readonly parts: ChannelParts;
  private written = 0;
  /** Set at the first failure; resolves to the error every later call rejects with. */
  private failure: Promise<TransportError> | undefined;
  private readonly failWaiters = new Set<(err: TransportError) => void>();
  private ending: Promise<void> | undefined;
  private outputFinished = false;
  private destroyed = false;

  constructor(parts: ChannelParts) {
    this.parts = parts;
    this.uri = parts.uri;
    this.uriText = formatChecked(parts.uri);
    this.description = parts.description;
    this.output = parts.output;
    this.input = parts.input;
    this.hasReturnPath = parts.hasReturnPath;
    if (parts.tls !== undefined) this.tls = parts.tls;
    if (parts.pooled !== undefined) this.pooled = parts.pooled;
    this.readTimeoutMs = parts.readTimeoutMs ?? Infinity;
    this.writeTimeoutMs = parts.writeTimeoutMs ?? Infinity;
    this.timeoutNames = { ...parts.timeoutNames };
    const out = parts.output;
    if (out !== null) {
      out.on('error', (err) => this.fail(err));
      out.on('finish', () => {
        this.outputFinished = true;
      });
      out.on('close', () => {
        if (!this.outputFinished) this.fail(closedTransport(this.uriText, `${this.description} closed before end()`));
      });
    }
    // Readers (readChunks, pipeline) see input errors themselves; this listener only keeps an
    // unread input's error from crashing the process.
    if (parts.input !== null && (parts.input as unknown) !== out) parts.input.on('error', () => undefined);
  }

  get bytesWritten(): number {
    return this.written;
  }

  write(chunk: Uint8Array, released?: () => void): Promise<void> {
    const out = this.output;
    if (out === null) {
      return Promise.reject(invalidTransport(this.uriText, `${this.description} cannot send: this side has no output`));
    }
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(invalidTransport(this.uriText, `write() takes a Uint8Array, got ${typeof chunk}`));
    }
    if (this.failure !== undefined) return this.rejectWithFailure();
    if (this.ending !== undefined) return Promise.reject(invalidTransport(this.uriText, `write() after end() on ${this.description}`));
    if (out.destroyed || out.writableEnded) {
      this.fail(closedTransport(this.uriText, `${this.description} is already closed`));
      return this.rejectWithFailure();
    }
    if (chunk.byteLength === 0) return Promise.resolve();
    this.written += chunk.byteLength;
    const accepted = released === undefined ? out.write(chunk) : out.write(chunk, (err) => {
      if (err == null) released();
    });
    if (accepted) return Promise.resolve();
    return this.waitFor(out, 'drain');
  }

  end(): Promise<void> {
    this.ending ??= this.finishOutput();
    return this.ending;
  }

  destroy(reason?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const err = closedTransport(this.uriText, `${this.description} was destroyed`, reason);
    this.failure ??= Promise.resolve(err);
    for (const waiter of this.failWaiters) waiter(err);
    this.failWaiters.clear();
    // With a reason, readers of the input learn it; without one they see a premature close.
    // The input goes first: on a socket it is the output too, and a second destroy is a no-op.
    this.input?.destroy(reason === undefined ? undefined : err);
    this.output?.destroy();
    this.parts.teardown?.();
  }

  /**
   * Marks the channel failed (first failure wins). Transports call it for failures the streams
   * do not report, such as a command exiting with an error status while its stdin is open.
   */
  fail(cause: unknown): void {
    if (this.failure !== undefined) return;
    const plain = (): TransportError => toTransportError(this.uriText, `${this.description} failed`, cause);
    const explained = this.parts.explain === undefined ? Promise.resolve(plain()) : this.parts.explain(cause).catch(plain);
    this.failure = explained;
    void explained.then((err) => {
      for (const waiter of this.failWaiters) waiter(err);
      this.failWaiters.clear();
    });
  }

  private async finishOutput(): Promise<void> {
    const out = this.output;
    if (this.failure !== undefined) throw await this.failure;
    if (out !== null && !out.writableFinished) {
      const finished = this.waitFor(out, 'finish');
      if (!out.writableEnded) out.end();
      await finished;
    }
    await this.parts.afterFinish?.();
  }

  private rejectWithFailure(): Promise<never> {
    return (this.failure ?? Promise.resolve(closedTransport(this.uriText, `${this.description} failed`))).then((err) => {
      throw err;
    });
  }

  /**
   * Resolves on `event`, rejects with the channel's failure if that comes first. With a finite
   * `writeTimeoutMs`, a watchdog fails the channel (ETIMEDOUT) once the output's buffer has not
   * shrunk for that long: the peer stopped reading, and waiting longer would only hang.
   */
  private waitFor(emitter: Writable, event: 'drain' | 'finish'): Promise<void> {
    if (this.failure !== undefined) return this.rejectWithFailure();
    return new Promise<void>((resolve, reject) => {
      let watchdog: NodeJS.Timeout | undefined;
      const onEvent = (): void => {
        if (watchdog !== undefined) clearInterval(watchdog);
        this.failWaiters.delete(onFail);
        resolve();
      };
      const onFail = (err: TransportError): void => {
        if (watchdog !== undefined) clearInterval(watchdog);
        (emitter as EventEmitter).off(event, onEvent);
        reject(err);
      };
      (emitter as EventEmitter).once(event, onEvent);
      this.failWaiters.add(onFail);
      const limit = this.writeTimeoutMs;
      if (limit !== Infinity) {
        let buffered = emitter.writableLength;
        let progressAt = performance.now();
        watchdog = setInterval(() => {
          const now = performance.now();
          if (emitter.writableLength < buffered) progressAt = now;
          buffered = emitter.writableLength;
          if (now - progressAt < limit) return;
          const err = new TransportError('TRANSPORT_CLOSED', `${this.uriText}: ${this.description}: the peer took no data for ${limit} ms (${this.timeoutNames.write ?? 'writeTimeoutMs'}); ${buffered} bytes wait to be sent`, { uri: this.uriText, osCode: 'ETIMEDOUT' });
          this.fail(err);
          this.output?.destroy();
        }, Math.max(10, Math.min(1000, Math.floor(limit / 4))));
      }
    });
  }
}
