/**
 * Timeouts and cancellation for the steps that wait on someone else (connect, accept, spawn,
 * open). Without a deadline a source pointed at a black-holed address, or a destination whose
 * source never comes, would hang; with one, the step fails with a TransportError naming the URI,
 * and whatever was half-opened is torn down by the step's cancel function.
 */
import { TransportError, closedTransport, invalidTransport } from './errors.js';

/** Options of the waiting calls (`openOutgoing`, `IncomingListener.accept`). */
export interface WaitOptions {
  /** Milliseconds to wait before failing with TRANSPORT_CLOSED; `Infinity` waits for ever. Default 10 s. */
  timeoutMs?: number;
  /** Aborting it fails the wait with TRANSPORT_CLOSED and closes what was half-opened. */
  signal?: AbortSignal;
}

/** Default connect/accept timeout: long enough for a loaded host, short enough to notice a wrong address. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Largest finite timeout setTimeout honours (longer ones silently fire after 1 ms). */
const MAX_TIMER_MS = 0x7fffffff;

/** Checked wait options: a finite or infinite timeout and an optional signal. */
export interface Deadline {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

/** Validates WaitOptions (TRANSPORT_INVALID naming the URI on a bad value). */
export function checkWaitOptions(uriText: string, options: WaitOptions | undefined): Deadline {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0 || (timeoutMs > MAX_TIMER_MS && timeoutMs !== Infinity)) {
    throw invalidTransport(uriText, `timeoutMs must be a positive number of milliseconds up to ${MAX_TIMER_MS} or Infinity, got ${String(timeoutMs)}`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidTransport(uriText, 'signal must be an AbortSignal');
  }
  return { timeoutMs, signal };
}

/** How a step reports its outcome. `resolve` returns false when the deadline already failed the step (the value must then be disposed of). */
export interface StepOutcome<T> {
  resolve(value: T): boolean;
  reject(err: unknown): void;
}

/** Undoes a started step (destroy the socket, kill the child) after a timeout or abort. */
export type CancelStep = (reason: TransportError) => void;

/**
 * Runs `start` and settles with its outcome, unless the deadline passes or the signal aborts
 * first: then the step's cancel function runs and the promise rejects with TRANSPORT_CLOSED
 * "<uri>: <what> timed out after N ms" (osCode ETIMEDOUT) or "... aborted".
 */
export function withDeadline<T>(uriText: string, what: string, deadline: Deadline, start: (outcome: StepOutcome<T>) => CancelStep): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { signal, timeoutMs } = deadline;
    if (signal?.aborted) {
      reject(closedTransport(uriText, `${what} aborted`, signal.reason));
      return;
    }
    let settled = false;
    let cancel: CancelStep | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (err: TransportError): void => {
      if (!finish()) return;
      cancel?.(err);
      reject(err);
    };
    const onAbort = (): void => fail(closedTransport(uriText, `${what} aborted`, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== Infinity) {
      timer = setTimeout(() => {
        fail(new TransportError('TRANSPORT_CLOSED', `${uriText}: ${what} timed out after ${timeoutMs} ms`, { uri: uriText, osCode: 'ETIMEDOUT' }));
      }, timeoutMs);
    }
    const outcome: StepOutcome<T> = {
      resolve: (value) => {
        if (!finish()) return false;
        resolve(value);
        return true;
      },
      reject: (err) => {
        if (finish()) reject(err);
      },
    };
    try {
      cancel = start(outcome);
    } catch (err) {
      outcome.reject(err);
    }
  });
}
