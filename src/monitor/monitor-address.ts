/**
 * Where a monitor lives, as `--monitor` and `--qmp` take it: `stdio`, `none`, `unix:PATH` or
 * `tcp:HOST:PORT` (`tcp:127.0.0.1:0` picks a free port). QEMU's chardev options `,server`,
 * `,nowait`, `,server=on` and `,wait=off` are accepted and mean nothing more: a monitor
 * socket always listens and never waits for a client.
 */
import { InvalidArgumentError } from '../errors.js';
import { parseMigrationUri } from '../transport/index.js';

export type MonitorAddress = { kind: 'stdio' } | { kind: 'none' } | { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };
export type MonitorAddressKind = MonitorAddress['kind'];

const IGNORED_OPTIONS: readonly string[] = ['server', 'nowait', 'server=on', 'wait=off'];

/**
 * Parses a monitor address given to `option`.
 * @throws InvalidArgumentError naming the option and what is wrong.
 */
export function parseMonitorAddress(text: string, option: string, allowed: readonly MonitorAddressKind[]): MonitorAddress {
  const forms = allowed.map((k) => (k === 'unix' ? 'unix:PATH' : k === 'tcp' ? 'tcp:HOST:PORT' : k)).join(', ');
  const bad = (why: string) => new InvalidArgumentError(`${option}: invalid address '${text}': ${why}; expected ${forms}`);
  let addr: MonitorAddress;
  if (text === 'stdio' || text === 'none') {
    addr = { kind: text };
  } else {
    const [main = '', ...opts] = text.split(',');
    for (const o of opts) if (!IGNORED_OPTIONS.includes(o)) throw bad(`unknown option '${o}' (only ${IGNORED_OPTIONS.join(', ')} are accepted)`);
    if (!main.startsWith('unix:') && !main.startsWith('tcp:')) throw bad('unknown kind');
    let u;
    try {
      u = parseMigrationUri(main);
    } catch (e) {
      throw bad((e as Error).message);
    }
    if (u.kind === 'unix') addr = { kind: 'unix', path: u.path };
    else if (u.kind === 'tcp') addr = { kind: 'tcp', host: u.host, port: u.port };
    else throw bad('unknown kind');
  }
  if (!allowed.includes(addr.kind)) throw bad(`${addr.kind} is not possible here`);
  return addr;
}

/** The address as text, e.g. "tcp:127.0.0.1:4444", "unix:/tmp/qmp.sock", "[::1]" bracketed. */
export function formatMonitorAddress(a: MonitorAddress): string {
  switch (a.kind) {
    case 'tcp':
      return `tcp:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    case 'unix':
      return `unix:${a.path}`;
    default:
      return a.kind;
  }
}
