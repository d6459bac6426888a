/** A small seeded PRNG (mulberry32): the same seed gives the same events on every run. */
export interface Random {
  next(): number
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  chance(p: number): boolean
  id(prefix: string): string
}

export function seededRandom(seed = 1): Random {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
    id: (prefix) => `${prefix}-${Math.floor(next() * 2 ** 32).toString(36)}${Math.floor(next() * 2 ** 32).toString(36)}`,
  }
}
