/**
 * Reading an accepted plain socket into a few large reused buffers (Node's `onread`) instead
 * of the fresh 64 KiB Buffer Node allocates for every read: on a 2-core VM (Node 20), a
 * loopback receiver gets 1.5-3 GB/s that way against 0.3-1 GB/s with 'data' events, and the
 * destination of a migration is exactly such a receiver.
 *
 * Node offers `onread` only for sockets it creates itself, not for the ones a server accepts;
 * so the accepted socket's handle is moved into a new Socket made with `onread`, through
 * Node's internal `_handle` and the Socket constructor's `handle` option (Node 20). `adopt()`
 * checks for both at run time and returns null where they are missing: the caller then keeps
 * the accepted socket and reads it the usual way.
 *
 * The consumer pulls with `next()`; the chunk it gets is valid until its next `next()`, which
 * hands the buffer back to the pool. When QUEUE_MAX filled buffers wait, the socket stops
 * reading (TCP backpressure to the peer) until the consumer catches up.
 */
import { Socket, type SocketConstructorOpts } from 'node:net';

/** Bytes per read: a 1 MiB buffer lets one read take what a fast peer sent meanwhile. */
const BUFFER_BYTES = 1024 * 1024;
/** Filled buffers waiting for the consumer before the socket stops reading. */
const QUEUE_MAX = 4;

interface Handle {
  useUserBuffer?: unknown;
  reading?: boolean;
}

export class PooledReader {
  private readonly free: Uint8Array[] = [];
  /** Filled buffers and how many bytes each holds, oldest first. */
  private readonly queue: { buffer: Uint8Array; bytes: number }[] = [];
  private lent: Uint8Array | null = null;
  private waiter: { resolve: (chunk: Uint8Array | null) => void; reject: (e: unknown) => void } | null = null;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private stopped = false;
  private socket!: Socket;
  private allocated = 0;
  /** The buffer of the area set by {@link useBuffers}: buffers elsewhere are dropped once read. */
  private area: ArrayBufferLike | null = null;

  private constructor() {}

  /**
   * Moves `accepted`'s handle into a new Socket that reads into this reader's buffers; the
   * accepted Socket object must not be used afterwards. Call it before the socket read anything
   * (a server with `pauseOnConnect`). Null when this Node lacks the internals it needs.
   */
  static adopt(accepted: Socket, allowHalfOpen: boolean): { socket: Socket; reader: PooledReader } | null {
    const owner = accepted as unknown as { _handle?: Handle | null };
    const handle = owner._handle;
    if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function' || accepted.readableLength > 0) return null;
    const reader = new PooledReader();
    owner._handle = null;
    const options = {
      handle,
      allowHalfOpen,
      readable: true,
      writable: true,
      onread: { buffer: () => reader.nextBuffer(), callback: (n: number, buf: Uint8Array) => reader.filled(n, buf) },
    } as SocketConstructorOpts;
    const socket = new Socket(options);
    reader.socket = socket;
    socket.on('end', () => reader.end());
    socket.on('error', (e) => reader.fail(e));
    socket.on('close', () => reader.fail(new Error('the connection closed before the end of the stream')));
    // no data is ever pushed to the Readable side; flowing, it still emits 'end' at EOF
    socket.resume();
    return { socket, reader };
  }

  /** Buffers allocated so far (at most QUEUE_MAX + 2: queued, lent, and the one being read into). */
  get buffersAllocated(): number {
    return this.allocated;
  }

  /**
   * The next chunk of bytes, or null at the end of the stream; takes back the previous chunk.
   * @throws the socket's error (a reset, a destroy with a reason, a premature close).
   */
  next(): Promise<Uint8Array | null> {
    if (this.lent !== null) {
      if (this.area === null || this.lent.buffer === this.area) this.free.push(this.lent);
      this.lent = null;
    }
    if (this.waiter !== null) return Promise.reject(new Error('PooledReader.next() called while a previous call waits'));
    const item = this.queue.shift();
    if (item !== undefined) {
      this.restartIfStopped();
      this.lent = item.buffer;
      return Promise.resolve(item.buffer.subarray(0, item.bytes));
    }
    if (this.failure !== null) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(null);
    this.restartIfStopped();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * From now on, reads go into buffers carved from `area` (as many whole ones as it holds, at
   * most what the reader ever uses at once); the buffers it had are dropped as they come back.
   * A destination places them beside its RAM (GuestMemory.ioArea), where a page goes into RAM
   * with one in-place copy. An area too small for one buffer changes nothing.
   */
  useBuffers(area: Uint8Array): void {
    const n = Math.min(QUEUE_MAX + 2, Math.floor(area.length / BUFFER_BYTES));
    if (n === 0) return;
    this.area = area.buffer;
    this.free.length = 0;
    for (let i = n - 1; i >= 0; i--) this.free.push(area.subarray(i * BUFFER_BYTES, (i + 1) * BUFFER_BYTES));
  }

  private nextBuffer(): Uint8Array {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    this.allocated++;
    return new Uint8Array(BUFFER_BYTES);
  }

  /** onread's callback: `n` bytes arrived in `buf`. Returning false stops reading. */
  private filled(n: number, buf: Uint8Array): boolean {
    const w = this.waiter;
    if (w !== null && this.queue.length === 0) {
      this.waiter = null;
      this.lent = buf;
      w.resolve(buf.subarray(0, n));
      return true;
    }
    this.queue.push({ buffer: buf, bytes: n });
    if (this.queue.length < QUEUE_MAX) return true;
    this.stopped = true;
    return false;
  }

  private restartIfStopped(): void {
    if (!this.stopped || this.queue.length >= QUEUE_MAX || this.socket.destroyed) return;
    this.stopped = false;
    // Socket#_read starts the handle reading again (Node stopped it when filled() returned false)
    (this.socket as unknown as { _read(n: number): void })._read(0);
  }

  private end(): void {
    this.ended = true;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve(null);
    }
  }

  private fail(error: unknown): void {
    if (this.ended || this.failure !== null) return;
    this.failure = { error };
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.reject(error);
    }
  }
}
