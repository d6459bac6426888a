/** Reading the services' /metrics text: sums of a counter and quantiles of a histogram. */

export type Scrape = Map<string, number>

export async function scrape(url: string): Promise<Scrape> {
  const out: Scrape = new Map()
  try {
    const text = await (await fetch(`${url}/metrics`)).text()
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue
      const space = line.lastIndexOf(' ')
      out.set(line.slice(0, space), Number(line.slice(space + 1)))
    }
  } catch {
    // a process that is gone or busy: no sample this time
  }
  return out
}

/** Sum of every series of `name` whose labels contain `match`. */
export function sum(s: Scrape, name: string, match = ''): number {
  let total = 0
  for (const [key, v] of s) if ((key === name || key.startsWith(`${name}{`)) && key.includes(match)) total += v
  return total
}

/** Cumulative bucket counts (le → count) of histogram `name`, summed over the scrapes, after minus before. */
export function bucketDelta(after: Scrape[], before: Scrape[], name: string): [le: number, count: number][] {
  const acc = new Map<number, number>()
  const add = (s: Scrape, sign: number) => {
    for (const [key, v] of s) {
      if (!key.startsWith(`${name}_bucket{`)) continue
      const le = /le="([^"]+)"/.exec(key)?.[1]
      if (le === undefined) continue
      const bound = le === '+Inf' ? Infinity : Number(le)
      acc.set(bound, (acc.get(bound) ?? 0) + sign * v)
    }
  }
  for (const s of after) add(s, 1)
  for (const s of before) add(s, -1)
  return [...acc].sort((a, b) => a[0] - b[0])
}

/** Quantile from cumulative buckets, interpolating inside the bucket (as Prometheus' histogram_quantile). */
export function histogramQuantile(buckets: [le: number, count: number][], q: number): number | undefined {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total <= 0) return undefined
  const rank = q * total
  let prevLe = 0
  let prevCount = 0
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount)
    }
    prevLe = le
    prevCount = count
  }
  return prevLe
}
