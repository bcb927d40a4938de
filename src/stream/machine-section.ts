/**
 * The livemig-machine section's payload: UTF-8 JSON `{"kind": string, "config": any,
 * "digest"?: string, "verify"?: "after-resume"}`, the machine a destination must build before the RAM that follows, and
 * the algorithm of the RAM digest that will close the stream (so that the destination can
 * hash its RAM as soon as it is complete, before the digest arrives), and `verify` when the
 * destination is to resume the guest without waiting for the check.
 */
import { LivemigError } from '../errors.js';

/** A machine as the livemig-machine section carries it. */
export interface MachineSection {
  kind: string;
  config: unknown;
  /** The livemig-digest section's algorithm, announced. */
  digest?: string;
  /** `after-resume`: resume as soon as RAM and device state are in; the check still runs. */
  verify?: 'after-resume';
}

/** Longest machine kind name accepted. */
const MAX_KIND_CHARS = 64;

/** The section's bytes for a machine. */
export function encodeMachineSection(m: MachineSection): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ kind: m.kind, config: m.config ?? null, ...(m.digest !== undefined ? { digest: m.digest } : {}), ...(m.verify !== undefined ? { verify: m.verify } : {}) }));
}

/**
 * Reads the section's bytes.
 * @throws LivemigError STREAM_INVALID for bytes that are not such JSON.
 */
export function parseMachineSection(bytes: Uint8Array): MachineSection {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new LivemigError('STREAM_INVALID', `livemig-machine section is not UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LivemigError('STREAM_INVALID', 'livemig-machine section is not a JSON object');
  const { kind, config, digest, verify } = v as { kind?: unknown; config?: unknown; digest?: unknown; verify?: unknown };
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_KIND_CHARS) {
    throw new LivemigError('STREAM_INVALID', `livemig-machine section: kind must be a string of 1..${MAX_KIND_CHARS} characters, got ${JSON.stringify(kind)?.slice(0, 80)}`);
  }
  if (digest !== undefined && (typeof digest !== 'string' || digest.length === 0 || digest.length > MAX_KIND_CHARS)) {
    throw new LivemigError('STREAM_INVALID', `livemig-machine section: digest must name an algorithm, got ${JSON.stringify(digest)?.slice(0, 80)}`);
  }
  if (verify !== undefined && verify !== 'after-resume') throw new LivemigError('STREAM_INVALID', `livemig-machine section: verify must be "after-resume" when present, got ${JSON.stringify(verify)?.slice(0, 80)}`);
  return { kind, config: config ?? null, ...(digest !== undefined ? { digest } : {}), ...(verify !== undefined ? { verify } : {}) };
}
