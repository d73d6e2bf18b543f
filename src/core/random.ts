/**
 * Seeded pseudo-random numbers. Every random choice in a run derives from
 * (seed, purpose, epoch, step) so that resuming at an epoch boundary replays the
 * exact same stream without saving generator state.
 *
 * The generator is sfc32 (small, fast, passes PractRand to 2^40 bytes); the seed
 * mixer is splitmix32. A dependency would add nothing over these 20 lines.
 */

export type Random = () => number;

/**
 * Every purpose a run draws random numbers for, in one table. A stream's seed is the run's
 * seed and its purpose mixed by hashing (`streamSeed`), never `seed * 1000 + purpose`, which
 * collides for seeds 2^29 apart once it wraps to 32 bits.
 */
export const RANDOM_STREAMS = {
  shuffle: 1,
  augment: 2,
  dropPath: 3,
  architecture: 4,
  searchSubset: 5,
} as const;
export type RandomStream = keyof typeof RANDOM_STREAMS;

/** The seed of one purpose's stream within a run. */
export function streamSeed(seed: number, purpose: RandomStream): number {
  return mixSeed(seed, RANDOM_STREAMS[purpose]);
}

/** Mixes any number of integers into one well-distributed 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform [0, 1) generator seeded from the given integers. */
export function createRandom(...seedParts: number[]): Random {
  let a = mixSeed(1, ...seedParts);
  let b = mixSeed(2, ...seedParts);
  let c = mixSeed(3, ...seedParts);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** Integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Standard normal sample (Box-Muller). */
export function randomNormal(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher-Yates shuffle of 0..n-1. */
export function permutation(random: Random, n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}

/** Beta(alpha, alpha) sample via two Gamma draws (Marsaglia-Tsang), for mixup/cutmix. */
export function randomBeta(random: Random, alpha: number): number {
  const x = randomGamma(random, alpha);
  const y = randomGamma(random, alpha);
  return x / (x + y);
}

function randomGamma(random: Random, shape: number): number {
  if (shape < 1) return randomGamma(random, shape + 1) * random() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = randomNormal(random);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + Math.log(v)) return d * v;
  }
}
