/**
 * livemig's error classes. Every failure carries a stable `code` that the monitor maps to
 * QMP error classes and that callers can switch on; messages say what, where and which bound.
 */
export type LivemigErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DELTA_INVALID'
  | 'CACHE_TOO_SMALL'
  | 'STREAM_INVALID'
  | 'STREAM_LIMIT'
  | 'TRANSPORT_INVALID'
  | 'TRANSPORT_CLOSED'
  | 'MIGRATION_STATE'
  | 'MIGRATION_FAILED'
  | 'DIGEST_MISMATCH'
  | 'GUEST_STATE';

export class LivemigError extends Error {
  constructor(readonly code: LivemigErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad option or argument given by the caller (thrown before any work starts). */
export class InvalidArgumentError extends LivemigError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** A page delta that does not decode; `offset` is the byte offset in the delta payload. */
export class DeltaError extends LivemigError {
  constructor(message: string, readonly offset: number, options?: ErrorOptions) {
    super('DELTA_INVALID', `${message} at payload offset ${offset}`, options);
  }
}

/** A malformed or truncated migration stream; `offset` is the byte offset in the whole stream. */
export class StreamError extends LivemigError {
  constructor(message: string, readonly offset: number, readonly record?: string, options?: ErrorOptions) {
    super('STREAM_INVALID', `${message} at stream offset ${offset}${record ? ` in ${record}` : ''}`, options);
  }
}
