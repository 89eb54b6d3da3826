/** A small seeded random generator (mulberry32), so a failing random run can be replayed from its printed seed. */

export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed: seed >>> 0,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** The seed from an environment variable (decimal or 0x-hex), or a fresh random one. */
export function seedFromEnv(name: string): number {
  const raw = process.env[name];
  if (raw !== undefined && raw.trim() !== '') {
    const value = Number(raw.trim());
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`${name}=${raw}: expected an integer 0..4294967295`);
    return value;
  }
  return Math.floor(Math.random() * 0x100000000) >>> 0;
}

/** A positive integer setting from the environment, or the default. */
export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${raw}: expected a positive integer`);
  return value;
}
