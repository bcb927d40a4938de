/**
 * The transport's error class and the wording of OS failures.
 *
 * Two codes only, so callers can switch on them without knowing the transport:
 * - `TRANSPORT_INVALID`: the URI, an option or the call itself is wrong; found before any I/O
 *   (or, for misuse such as writing after `end()`, without doing any).
 * - `TRANSPORT_CLOSED`: the OS refused or lost the connection, file, command or descriptor:
 *   connection refused, no such socket, timeout, reset, command exit status, unreadable file.
 * Every message starts with the migration URI it is about, so a log line alone says which
 * connection failed and why.
 */
import { LivemigError } from '../errors.js';

export type TransportErrorCode = 'TRANSPORT_INVALID' | 'TRANSPORT_CLOSED';

/** Extra facts a TransportError carries besides its message. */
export interface TransportErrorDetails {
  /** The migration URI the failure is about, as text. */
  uri?: string;
  /** The OS error code behind the failure (`ECONNREFUSED`, `EADDRNOTAVAIL`, ...), if any. */
  osCode?: string;
  /** The original error. */
  cause?: unknown;
}

/** A migration transport failure; see the module comment for what each code means. */
export class TransportError extends LivemigError {
  /** The migration URI the failure is about (absent only for a URI that was not text). */
  readonly uri: string | undefined;
  /** The OS error code behind the failure, so callers need not parse the message. */
  readonly osCode: string | undefined;

  constructor(code: TransportErrorCode, message: string, details: TransportErrorDetails = {}) {
    super(code, message, 'cause' in details ? { cause: details.cause } : undefined);
    this.uri = details.uri;
    this.osCode = details.osCode ?? osCodeOf(details.cause);
  }
}

/** Plain words for the OS errors a transport meets, so messages read without a man page. */
const OS_ERROR_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (nothing is listening there)',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'broken pipe (the peer closed its end)',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EAFNOSUPPORT: 'address family not supported',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed temporarily',
  EBADF: 'bad file descriptor',
  ENAMETOOLONG: 'name too long',
  ENOTSOCK: 'not a socket',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ERR_STREAM_PREMATURE_CLOSE: 'closed before the end of the stream',
  ERR_STREAM_DESTROYED: 'the stream was already closed',
  ERR_STREAM_WRITE_AFTER_END: 'write after the stream was ended',
};

/** The OS (or Node) error code of `err`, looking inside an AggregateError from a multi-address connect. */
export function osCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const c = osCodeOf(e);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

/** `err` in words: "connection refused (...) [ECONNREFUSED]", falling back to its message. */
export function describeCause(err: unknown): string {
  if (err instanceof TransportError) return err.message;
  const code = osCodeOf(err);
  if (code !== undefined && OS_ERROR_WORDS[code] !== undefined) return `${OS_ERROR_WORDS[code]} [${code}]`;
  if (err instanceof Error && err.message !== '') return code !== undefined && !err.message.includes(code) ? `${err.message} [${code}]` : err.message;
  return String(err);
}

/** A TRANSPORT_INVALID error: "<uri>: <what>". */
export function invalidTransport(uri: string, what: string, cause?: unknown): TransportError {
  return new TransportError('TRANSPORT_INVALID', `${uri}: ${what}`, cause === undefined ? { uri } : { uri, cause });
}

/** A TRANSPORT_CLOSED error: "<uri>: <what>[: <cause in words>]". */
export function closedTransport(uri: string, what: string, cause?: unknown): TransportError {
  if (cause === undefined) return new TransportError('TRANSPORT_CLOSED', `${uri}: ${what}`, { uri });
  return new TransportError('TRANSPORT_CLOSED', `${uri}: ${what}: ${describeCause(cause)}`, { uri, cause });
}

/** `err` itself when it already is a TransportError (it names its URI), else a TRANSPORT_CLOSED one. */
export function toTransportError(uri: string, what: string, err: unknown): TransportError {
  return err instanceof TransportError ? err : closedTransport(uri, what, err);
}
