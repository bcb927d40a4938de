/**
 * Migration URIs, QEMU's spelling: `tcp:host:port`, `unix:path`, `exec:command`, `fd:N`,
 * `file:path`, plus livemig's `tls:host:port` (tcp with mutually authenticated TLS, see tls.ts). Parsing checks everything a URI can get wrong (port range, empty paths and
 * commands, descriptor numbers, unbracketed IPv6, socket path length) so that a bad URI fails
 * with a message naming it before any socket, file or process is opened.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { TransportError, invalidTransport } from './errors.js';

/** A parsed migration URI. `tcp` hosts are stored without IPv6 brackets (`::1`, not `[::1]`). */
export type MigrationUri =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'tls'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'exec'; command: string }
  | { kind: 'fd'; fd: number }
  | { kind: 'file'; path: string };

/** The forms accepted, as listed in error messages. */
export const SUPPORTED_MIGRATION_URIS = 'tcp:host:port, unix:path, exec:command, fd:N, file:path, tls:host:port';

/** QEMU 7.2's wording for an unknown protocol, kept so scripts matching on it still work. */
const QEMU_UNKNOWN_PROTOCOL = "Parameter 'uri' expects a valid migration protocol";

/** QEMU protocols livemig recognises but does not implement (so the error can say so). */
const UNSUPPORTED_QEMU_PROTOCOLS: readonly string[] = ['vsock', 'rdma', 'x-rdma'];

/** Longest unix socket path the kernel takes: sizeof(sun_path) minus the terminating NUL. */
const UNIX_PATH_MAX_BYTES = process.platform === 'linux' ? 107 : 103;

/** Largest descriptor number (descriptors are C ints). */
const FD_MAX = 0x7fffffff;

/**
 * Parses a migration URI. Throws TransportError (TRANSPORT_INVALID) naming the URI and what is
 * wrong with it; an unknown protocol gets QEMU's "expects a valid migration protocol" wording
 * and the list of supported forms.
 */
export function parseMigrationUri(uri: string): MigrationUri {
  if (typeof uri !== 'string') {
    throw new TransportError('TRANSPORT_INVALID', `${QEMU_UNKNOWN_PROTOCOL}: the migration URI must be text, got ${describeValue(uri)}; supported: ${SUPPORTED_MIGRATION_URIS}`);
  }
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? undefined : uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  switch (scheme) {
    case 'tcp':
      return checkMigrationUri(parseTcp(uri, rest), uri);
    case 'tls':
      return checkMigrationUri({ ...parseTcp(uri, rest), kind: 'tls' }, uri);
    case 'unix':
      return checkMigrationUri({ kind: 'unix', path: rest }, uri);
    case 'exec':
      return checkMigrationUri({ kind: 'exec', command: rest }, uri);
    case 'fd':
      if (!/^[0-9]+$/.test(rest)) {
        throw invalidTransport(uri, `expects fd:N with N a file descriptor number (QEMU's named monitor descriptors are not supported), got ${JSON.stringify(rest)}`);
      }
      return checkMigrationUri({ kind: 'fd', fd: Number(rest) }, uri);
    case 'file':
      return checkMigrationUri({ kind: 'file', path: rest }, uri);
    default:
      break;
  }
  if (scheme !== undefined && UNSUPPORTED_QEMU_PROTOCOLS.includes(scheme)) {
    throw new TransportError('TRANSPORT_INVALID', `${QEMU_UNKNOWN_PROTOCOL}: ${JSON.stringify(uri)} uses ${scheme}:, a QEMU protocol livemig does not implement; supported: ${SUPPORTED_MIGRATION_URIS}`, { uri });
  }
  const what = uri === '' ? 'the URI is empty' : scheme === undefined ? `${JSON.stringify(uri)} has no "protocol:" prefix` : `${JSON.stringify(uri)} has unknown protocol ${JSON.stringify(scheme)}`;
  throw new TransportError('TRANSPORT_INVALID', `${QEMU_UNKNOWN_PROTOCOL}: ${what}; supported: ${SUPPORTED_MIGRATION_URIS}`, { uri });
}

/** The URI's text form; `parseMigrationUri(formatMigrationUri(u))` gives `u` back. Throws on an invalid `u`. */
export function formatMigrationUri(u: MigrationUri): string {
  const c = checkMigrationUri(u);
  return formatChecked(c);
}

/**
 * Validates a URI given as an object (callers may build one by hand) and returns a frozen copy
 * holding only the known fields. `text` is the URI as the user wrote it, for messages.
 */
export function checkMigrationUri(u: unknown, text?: string): MigrationUri {
  if (typeof u !== 'object' || u === null) {
    throw new TransportError('TRANSPORT_INVALID', `a migration URI must be a string or an object with a "kind", got ${describeValue(u)}`);
  }
  const o = u as Record<string, unknown>;
  const name = text ?? safeJson(o);
  switch (o.kind) {
    case 'tcp':
    case 'tls': {
      const { host, port } = o;
      const kind = o.kind;
      if (typeof host !== 'string') throw invalidTransport(name, `${kind} host must be a string, got ${describeValue(host)}`);
      checkTcpHost(name, host);
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
        throw invalidTransport(name, `${kind} port must be a whole number from 0 to 65535, got ${describeValue(port)}`);
      }
      return Object.freeze({ kind, host, port });
    }
    case 'unix': {
      const path = checkPath(name, 'unix socket path', o.path);
      const bytes = Buffer.byteLength(path);
      if (bytes > UNIX_PATH_MAX_BYTES) {
        throw invalidTransport(name, `unix socket path is ${bytes} bytes long; the OS allows at most ${UNIX_PATH_MAX_BYTES}`);
      }
      return Object.freeze({ kind: 'unix', path });
    }
    case 'exec': {
      const { command } = o;
      if (typeof command !== 'string') throw invalidTransport(name, `exec command must be a string, got ${describeValue(command)}`);
      if (command.trim() === '') throw invalidTransport(name, 'exec: needs a command after "exec:"');
      if (command.includes('\0')) throw invalidTransport(name, 'exec command contains a NUL character');
      return Object.freeze({ kind: 'exec', command });
    }
    case 'fd': {
      const { fd } = o;
      if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > FD_MAX) {
        throw invalidTransport(name, `fd: needs a file descriptor number from 0 to ${FD_MAX}, got ${describeValue(fd)}`);
      }
      return Object.freeze({ kind: 'fd', fd });
    }
    case 'file': {
      const path = checkPath(name, 'file path', o.path);
      if (/,offset=/.test(path)) {
        throw invalidTransport(name, 'file: offsets (",offset=N", QEMU 8.2+) are not supported');
      }
      return Object.freeze({ kind: 'file', path });
    }
    default:
      throw new TransportError('TRANSPORT_INVALID', `${QEMU_UNKNOWN_PROTOCOL}: ${name} has unknown kind ${describeValue(o.kind)}; supported: ${SUPPORTED_MIGRATION_URIS}`);
  }
}

/** A URI given as text or as an object, parsed or checked. */
export function toMigrationUri(uri: string | MigrationUri): MigrationUri {
  return typeof uri === 'string' ? parseMigrationUri(uri) : checkMigrationUri(uri);
}

/** Text of an already checked URI. */
export function formatChecked(u: MigrationUri): string {
  switch (u.kind) {
    case 'tcp':
    case 'tls':
      return `${u.kind}:${formatHost(u.host)}:${u.port}`;
    case 'unix':
      return `unix:${u.path}`;
    case 'exec':
      return `exec:${u.command}`;
    case 'fd':
      return `fd:${u.fd}`;
    case 'file':
      return `file:${u.path}`;
  }
}

/** A host as written in a URI or endpoint description: IPv6 literals get brackets. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `tcp:` (and `tls:`) after the protocol: `host:port`, `[v6]:port` or `:port`. */
function parseTcp(uri: string, rest: string): { kind: 'tcp'; host: string; port: number } {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalidTransport(uri, 'unclosed "[" in the host; expected tcp:[IPv6 address]:port');
    host = rest.slice(1, close);
    if (!isIPv6(host)) throw invalidTransport(uri, `${JSON.stringify(host)} in brackets is not an IPv6 address`);
    if (rest[close + 1] !== ':') throw invalidTransport(uri, 'expected ":port" after the "]" of the IPv6 address');
    portText = rest.slice(close + 2);
  } else {
    const last = rest.lastIndexOf(':');
    if (last < 0) throw invalidTransport(uri, `missing port; expected ${uri.startsWith('tls:') ? 'tls' : 'tcp'}:host:port`);
    host = rest.slice(0, last);
    portText = rest.slice(last + 1);
    if (host.includes(':')) throw invalidTransport(uri, `an IPv6 address must be written in brackets, e.g. ${uri.startsWith('tls:') ? 'tls' : 'tcp'}:[::1]:4444`);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) {
    throw invalidTransport(uri, `port must be a whole number from 0 to 65535, got ${JSON.stringify(portText)}`);
  }
  return { kind: 'tcp', host, port: Number(portText) };
}

/** Host names, IPv4 and IPv6 literals, or '' (any address, for listening). */
function checkTcpHost(name: string, host: string): void {
  if (host === '' || isIP(host) !== 0) return;
  if (host.includes(':')) throw invalidTransport(name, `tcp host ${JSON.stringify(host)} is not a valid IPv6 address`);
  if (/^[0-9.]+$/.test(host) && !isIPv4(host)) throw invalidTransport(name, `tcp host ${JSON.stringify(host)} is not a valid IPv4 address`);
  const label = '[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?';
  if (host.length > 253 || !new RegExp(`^${label}(?:\\.${label})*\\.?$`).test(host)) {
    throw invalidTransport(name, `tcp host ${JSON.stringify(host)} is not a host name or IP address`);
  }
}

function checkPath(name: string, what: string, path: unknown): string {
  if (typeof path !== 'string') throw invalidTransport(name, `${what} must be a string, got ${describeValue(path)}`);
  if (path === '') throw invalidTransport(name, `${what} is empty`);
  if (path.includes('\0')) throw invalidTransport(name, `${what} contains a NUL character`);
  return path;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

function safeJson(o: object): string {
  try {
    return JSON.stringify(o) ?? String(o);
  } catch {
    return String(o);
  }
}
