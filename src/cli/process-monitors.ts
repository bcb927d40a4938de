/** What `run` and `incoming` share: signals quit the machine, and its monitors are opened on this process's stdio. */
import { startMonitors } from '../monitor/index.js';
import type { Machine, Monitors } from '../monitor/index.js';

type MonitorOptions = Parameters<typeof startMonitors>[1];

/** SIGINT and SIGTERM quit the machine; the returned function removes the handlers. */
export function quitOnSignals(machine: Machine): () => void {
  const onSignal = () => machine.quit();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Starts the monitors asked for; socket monitors announce their address on standard error. */
export function startProcessMonitors(machine: Machine, monitor: MonitorOptions['monitor'], qmp: MonitorOptions['qmp'], extra: Pick<MonitorOptions, 'onStdioForegroundMigrate'> = {}): Promise<Monitors> {
  return startMonitors(machine, {
    monitor,
    qmp,
    stdin: process.stdin,
    stdout: process.stdout,
    onListening: (kind, address) => process.stderr.write(`livemig: ${kind} listening on ${address}\n`),
    ...extra,
  });
}
