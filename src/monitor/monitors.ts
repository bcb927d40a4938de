/**
 * The monitors of one livemig process, started together: the human monitor on standard
 * input/output or on a socket (one session per connection, with banner and prompt, like
 * QEMU's `-monitor unix:PATH,server`), and QMP on a socket (one session per client).
 * `quit` in any of them ends every session; close() stops listening and ends connections.
 */
import type { Readable, Writable } from 'node:stream';
import { runHmpSession } from './hmp-session.js';
import type { Machine } from './machine.js';
import type { MonitorAddress } from './monitor-address.js';
import { listenMonitor } from './monitor-listener.js';
import type { MonitorListener } from './monitor-listener.js';
import { serveQmpConnection } from './qmp-server.js';

/** A monitor socket client that stops reading is disconnected once this much output waits. */
const MAX_UNREAD_OUTPUT_BYTES = 8 * 1024 * 1024;

export interface MonitorsOptions {
  /** `--monitor`: stdio, none, unix or tcp. */
  monitor: MonitorAddress;
  /** `--qmp`: unix or tcp, if any. */
  qmp?: MonitorAddress | undefined;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  /** Told where each socket listens ("monitor", "tcp:127.0.0.1:4444"). */
  onListening?: (kind: 'monitor' | 'QMP', address: string) => void;
  /** The stdio session's HmpSessionOptions.onForegroundMigrate. */
  onStdioForegroundMigrate?: (running: boolean) => void;
}

export interface Monitors {
  /** With `--monitor stdio`: settles at end of standard input or after `quit`. */
  readonly stdio: Promise<void> | undefined;
  /** Where the socket monitors listen. */
  readonly addresses: { monitor?: string; qmp?: string };
  /** Stops listening, ends every session and stops reading standard input (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts the monitors; if one cannot listen, the ones already started are closed again.
 * @throws LivemigError naming the option when a socket cannot listen.
 */
export async function startMonitors(machine: Machine, o: MonitorsOptions): Promise<Monitors> {
  let quitting = false;
  machine.once('quit', () => {
    quitting = true;
  });
  const stopped = () => quitting;
  const listeners: MonitorListener[] = [];
  const addresses: { monitor?: string; qmp?: string } = {};
  try {
    const m = o.monitor;
    if (m.kind === 'unix' || m.kind === 'tcp') {
      const l = await listenMonitor(m, '--monitor', (socket) => {
        void runHmpSession(machine, socket, socket, { prompt: true, stopped, maxUnreadOutputBytes: MAX_UNREAD_OUTPUT_BYTES }).then(() => socket.end());
      });
      listeners.push(l);
      addresses.monitor = l.address;
      o.onListening?.('monitor', l.address);
    }
    const q = o.qmp;
    if (q && (q.kind === 'unix' || q.kind === 'tcp')) {
      const l = await listenMonitor(q, '--qmp', (socket) => serveQmpConnection(machine, socket));
      listeners.push(l);
      addresses.qmp = l.address;
      o.onListening?.('QMP', l.address);
    }
  } catch (e) {
    await Promise.all(listeners.map((l) => l.close()));
    throw e;
  }
  const stdio = o.monitor.kind === 'stdio' ? runHmpSession(machine, o.stdin, o.stdout, { prompt: o.stdin.isTTY === true, stopped, ...(o.onStdioForegroundMigrate ? { onForegroundMigrate: o.onStdioForegroundMigrate } : {}) }) : undefined;
  let closing: Promise<void> | undefined;
  return {
    stdio,
    addresses,
    close: () =>
      (closing ??= (async () => {
        quitting = true;
        if (stdio) o.stdin.destroy(); // a session waiting for a line ends now
        await Promise.all(listeners.map((l) => l.close()));
        await stdio;
      })()),
  };
}
