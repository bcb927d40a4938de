/**
 * The warm-up's last part: small migrations through the real engine, in this process, over a
 * loopback tcp connection: an OutgoingMigration of a 4 MiB machine into an IncomingMigration,
 * as `livemig run` and `livemig incoming` make them (pooled reads, RAM with an I/O area, the
 * RAM check), a page a batch.
 *
 * Why: the earlier parts run the hot paths through objects of their own, and a first real
 * migration still recompiled ~20 functions a side during its first pass (`--trace-opt`): its
 * objects had other maps and its call sites other targets (each migration's write callback, its
 * loader target's closures), so V8 threw the warm-up's code away, and on a 2-core machine its
 * compiler threads took their CPU from the first pass. Migrations made by the same code see the
 * same maps, and several of them leave call sites that take any migration's closures.
 */
import { EventEmitter } from 'node:events';
import { randomFillSync } from 'node:crypto';
import { LivemigError } from '../errors.js';
import { ExplicitDirtyLog, GuestMemory } from '../guest/index.js';
import type { PreparedVm, VirtualMachine, VmKind, VmStatus } from '../guest/index.js';
import { listenIncoming } from '../transport/index.js';
import { IncomingMigration } from './incoming.js';
import { IO_AREA_BYTES } from './io-area.js';
import { OutgoingMigration } from './source.js';

/** The warm-up machine's kind, known only to the warm-up's own IncomingMigration. */
const KIND = 'livemig-warm-up';
const RAM_BYTES = 4 << 20;
const PAGE = 4096;
/**
 * Migrations: with 4 MiB each, enough pages and batches for V8 to compile the loader's and the
 * sender's per-section paths (with two, the destination's loadSection was never compiled).
 * More than one also makes each call site see several migrations' closures.
 */
const MIGRATIONS = 6;
/**
 * Pages the machine writes as it is paused, so that each stop-and-copy carries pages: after
 * empty last stages, a first real migration's last stage ran code compiled for none, inside its
 * downtime.
 */
const PAUSE_WRITES = 256;
/** A migration that takes longer (a firewalled lo?) is cancelled, and the warm-up is shorter. */
const GIVE_UP_MS = 5000;

/**
 * A machine that is only RAM: nothing writes it while it runs, so a migration ends after its
 * first pass; it writes {@link PAUSE_WRITES} pages (a word each, one made zero) as it is paused.
 */
class WarmUpVm extends EventEmitter implements VirtualMachine {
  readonly kind = KIND;
  readonly dirtyLog: ExplicitDirtyLog;
  status: VmStatus;
  private writes = 0;
  private readonly word = new Uint8Array(4);
  private readonly wordView = new DataView(this.word.buffer);

  constructor(
    readonly memory: GuestMemory,
    status: VmStatus,
  ) {
    super();
    this.status = status;
    this.dirtyLog = new ExplicitDirtyLog(memory);
  }

  machineConfig(): unknown {
    return {};
  }

  deviceState(): Uint8Array {
    return new Uint8Array(8);
  }

  pause(): Promise<void> {
    if (this.status === 'running') {
      const step = Math.floor(this.memory.totalBytes / PAGE / PAUSE_WRITES);
      for (let i = 0; i < PAUSE_WRITES; i++) {
        this.wordView.setUint32(0, ++this.writes, true);
        this.dirtyLog.write(i * step * PAGE + ((this.writes * 8) & (PAGE - 1)), this.word);
      }
      this.dirtyLog.write(((this.writes >> 8) % PAUSE_WRITES) * step * PAGE, new Uint8Array(PAGE));
    }
    this.set('paused');
    return Promise.resolve();
  }

  resume(): void {
    this.set('running');
  }

  stop(): Promise<void> {
    this.set('stopped');
    return Promise.resolve();
  }

  private set(s: VmStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.emit('status', s);
  }
}

/** RAM as `livemig run` and `livemig incoming` allocate it: with the I/O area. */
function warmUpMemory(): GuestMemory {
  return new GuestMemory([{ idstr: 'pc.ram', sizeBytes: RAM_BYTES }], { ioBytes: IO_AREA_BYTES });
}

/** The destination's machine: the same RAM each time, zeroed first (as a fresh destination's is). */
function warmUpKind(memory: GuestMemory): VmKind {
  return {
    prepare(): Promise<PreparedVm> {
      memory.blocks[0]!.bytes.fill(0);
      return Promise.resolve({
        memory,
        memoryIsZero: true,
        start: (_state, { paused }) => Promise.resolve(new WarmUpVm(memory, paused ? 'paused' : 'running')),
        discard: () => Promise.resolve(),
      });
    },
  };
}

/** `p`'s value, or 'stalled' after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'stalled'> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), ms)));
  try {
    return await Promise.race([p, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the warm-up's migrations moved, and the objects to keep alive (V8's code depends weakly on their maps). */
export interface WarmUpMigrations {
  /** Stream bytes sent and loaded back over loopback tcp (0: no connection could be made, or one stalled). */
  bytes: number;
  keep: unknown[];
}

/**
 * Migrates a 4 MiB machine (three quarters random, the rest zero) {@link MIGRATIONS} times over
 * loopback tcp, with the RAM check.
 * Where no loopback connection can be made or a migration stalls, it stops there (the warm-up
 * is shorter, not failed).
 * @internal exported for tests.
 * @throws LivemigError when a migration fails otherwise or its RAM check does not match (the
 *   self-check): the engine is broken, not the connection.
 */
export async function warmUpMigrations(migrations = MIGRATIONS): Promise<WarmUpMigrations> {
  let listener;
  try {
    listener = await listenIncoming('tcp:127.0.0.1:0', { pooledReads: true });
  } catch {
    return { bytes: 0, keep: [] };
  }
  const memory = warmUpMemory();
  randomFillSync(memory.blocks[0]!.bytes.subarray(0, (RAM_BYTES / 4) * 3));
  const vm = new WarmUpVm(memory, 'running');
  const kind = warmUpKind(warmUpMemory());
  let bytes = 0;
  let keep: unknown[] = [];
  try {
    for (let i = 0; i < migrations; i++) {
      vm.resume(); // a completed migration leaves its source paused
      const incoming = new IncomingMigration({ machines: { [KIND]: kind } });
      const received = listener.accept().then(async (channel) => {
        try {
          return await incoming.run(channel);
        } finally {
          channel.destroy();
        }
      });
      received.catch(() => undefined);
      // all of RAM in the iterate stage (as a big guest's first pass), a page a batch, without
      // delta compression: migrations with it made the first pass of a real one without it
      // ~8 % slower (its page loop compiled for both); the in-memory rounds compile the deltas
      // (its costs are not learned: a toy machine's would mislead the next migration's estimate)
      const migration = new OutgoingMigration({
        guest: vm,
        parameters: { 'downtime-limit': 1 },
        hasher: null,
        flushBytes: PAGE,
        learnCosts: false,
      });
      const timer = setTimeout(() => migration.cancel(), GIVE_UP_MS);
      let status;
      try {
        status = await migration.run(listener.address);
      } finally {
        clearTimeout(timer);
      }
      if (status === 'cancelled' || (status === 'failed' && migration.error instanceof LivemigError && migration.error.code.startsWith('TRANSPORT'))) break;
      // a source that failed before it connected leaves the listener waiting: not forever
      const arrived = await within(received, GIVE_UP_MS);
      if (status !== 'completed' || arrived !== 'completed' || migration.ramDigest === undefined || migration.ramDigest !== incoming.ramDigest) {
        const why = migration.error?.message ?? incoming.error?.message;
        throw new LivemigError('GUEST_STATE', `engine self-check failed: a warm-up migration over a loopback socket ended ${status} (destination: ${arrived})${why ? `: ${why}` : ''}`);
      }
      bytes += migration.counters.transferred;
      keep = [vm, kind, migration, incoming, incoming.guest];
    }
    return { bytes, keep };
  } finally {
    await listener.close();
  }
}
