/**
 * Events-per-second limits per write key (or per client address when ingestion is open):
 * a token bucket that may go into debt, so one large request passes when the bucket is
 * not empty and the next waits until the debt is paid back. `take` answers how many
 * seconds to wait (Retry-After) or 0.
 */

interface Bucket {
  tokens: number
  updatedMs: number
}

export interface RateLimiterOptions {
  /** Default events per second; 0 = no limit. */
  eventsPerSecond: number
  /** Bucket size in seconds of the rate. */
  burstSeconds: number
  /** Buckets kept at most (least recently used go first). */
  maxBuckets?: number
  now?: () => number
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly now: () => number
  private readonly maxBuckets: number

  constructor(private readonly options: RateLimiterOptions) {
    this.now = options.now ?? (() => performance.now())
    this.maxBuckets = options.maxBuckets ?? 100_000
  }

  get defaultRate(): number {
    return this.options.eventsPerSecond
  }

  /** Takes `events` tokens from `bucket`; returns 0 when allowed, else seconds to wait. */
  take(bucket: string, events: number, eventsPerSecond = this.options.eventsPerSecond): number {
    if (eventsPerSecond <= 0) return 0
    const capacity = eventsPerSecond * this.options.burstSeconds
    const now = this.now()
    let b = this.buckets.get(bucket)
    if (!b) {
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!)
      b = { tokens: capacity, updatedMs: now }
    } else this.buckets.delete(bucket) // re-inserted below: the Map's order is least recently used first
    this.buckets.set(bucket, b)
    b.tokens = Math.min(capacity, b.tokens + ((now - b.updatedMs) / 1000) * eventsPerSecond)
    b.updatedMs = now
    if (b.tokens <= 0) return Math.max(1, Math.ceil(-b.tokens / eventsPerSecond))
    b.tokens -= events
    return 0
  }
}
