/**
 * The random workload's generator: xoshiro128** (32-bit state words, period 2^128 - 1).
 * Its whole state is four 32-bit words, small enough to travel in the device state, so a
 * destination continues the exact sequence the source was producing. The workload inlines the
 * step for speed; {@link prngNext} is the reference the tests compare with.
 */

/** 32-bit words of generator state. */
export const PRNG_STATE_WORDS = 4;

/**
 * Seeds a vCPU's generator from the guest seed and the vCPU index (splitmix32 over both), so
 * every vCPU draws its own stream and no state is all zero.
 */
export function prngSeed(seed: number, vcpu: number, state: Uint32Array): void {
  let x = (seed ^ Math.imul(vcpu + 1, 0x9e3779b9)) | 0;
  for (let i = 0; i < PRNG_STATE_WORDS; i++) {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    state[i] = z ^ (z >>> 16);
  }
  if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1;
}

/** One step of xoshiro128**: returns the next output (uint32) and advances `state`. */
export function prngNext(state: Uint32Array): number {
  const s0 = state[0]! | 0;
  const s1 = state[1]! | 0;
  let s2 = state[2]! | 0;
  let s3 = state[3]! | 0;
  const m = Math.imul(s1, 5);
  const result = Math.imul((m << 7) | (m >>> 25), 9);
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  state[1] = s1 ^ s2;
  state[0] = s0 ^ s3;
  state[2] = s2 ^ t;
  state[3] = (s3 << 11) | (s3 >>> 21);
  return result >>> 0;
}
