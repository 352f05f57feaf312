/**
 * Instance choice within one revision's group for the balancers beyond round-robin and least-in-flight:
 * rendezvous (highest random weight) hashing with bounded load, power of two choices, random. The hash
 * depends only on the key and the instance ids, so every worker, and a restarted gateway, maps a key to
 * the same instance; adding or removing one of N instances moves only the keys that instance wins or
 * held (about 1/N). Allocation-free: one pass over the group per pick.
 */
import { fnv1a32 } from './traffic.ts';

/** What a balancer reads of an instance. */
export interface Balanced {
  readonly instance: string;
  inflight: number;
}

/** An instance above this many times the group's average in flight (plus one) passes its keys on. */
export const HASH_LOAD_FACTOR = 1.25;

/** 32-bit avalanche (murmur3 finaliser): the score of a key on an instance. */
function mix(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-instance seed of the rendezvous score (computed once per route table). */
export function instanceSeed(id: string): number {
  return fnv1a32(id);
}

/**
 * The instance of `ups` that `keyHash` maps to: the highest score among the instances not above the
 * load bound (the highest overall when every one is). `seeds[i]` is `instanceSeed(ups[i].instance)`.
 * -1 when the group is empty.
 */
export function pickHashed(ups: readonly Balanced[], seeds: readonly number[], keyHash: number): number {
  const n = ups.length;
  if (n === 0) return -1;
  let total = 0;
  for (let i = 0; i < n; i++) total += ups[i].inflight;
  const bound = (total / n) * HASH_LOAD_FACTOR + 1;
  let best = -1;
  let bestScore = -1;
  let top = 0;
  let topScore = -1;
  for (let i = 0; i < n; i++) {
    const score = mix(keyHash ^ seeds[i]);
    if (score > topScore) {
      topScore = score;
      top = i;
    }
    if (ups[i].inflight <= bound && score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best === -1 ? top : best;
}

/** Power of two choices: of two distinct instances drawn at random, the one with fewer in flight. */
export function pickTwoChoices(ups: readonly Balanced[], random: () => number = Math.random): number {
  const n = ups.length;
  if (n <= 1) return n - 1;
  const a = Math.floor(random() * n);
  let b = Math.floor(random() * (n - 1));
  if (b >= a) b++;
  return ups[b].inflight < ups[a].inflight ? b : a;
}

export function pickRandom(n: number, random: () => number = Math.random): number {
  return n === 0 ? -1 : Math.floor(random() * n);
}
