import type pg from 'pg'

/**
 * POST → stored latency of sampled events: each sample is registered with the time its
 * POST was sent, and a poller asks PostgreSQL every `intervalMs` which outstanding
 * samples have become visible. A sample's latency is the start of the first poll that
 * saw it minus its send time: an upper bound, at most one interval above the truth.
 */

interface Pending {
  source: string
  eventId: string
  prefix: string
  sentAt: number
  /** The last event of its request (templates.ts, Sample.last). */
  last?: boolean
}

export interface Seen {
  at: number
  ms: number
  last?: boolean
}

const FOUND = `SELECT e.source, e.event_id FROM events e JOIN unnest($1::text[], $2::text[]) AS s(source, event_id) USING (source, event_id)`

export class StoredLatency {
  private readonly pending = new Map<string, Pending>()
  readonly seen: Seen[] = []
  private running = false
  private loop: Promise<void> | undefined

  constructor(
    private readonly client: pg.Client,
    private readonly intervalMs = 25,
  ) {}

  add(s: Pending): void {
    this.pending.set(`${s.source}\u0000${s.eventId}`, s)
  }

  /** Samples of a request that was refused or lost will never be stored by it: stop looking. */
  forget(prefix: string): void {
    for (const [k, p] of this.pending) if (p.prefix === prefix) this.pending.delete(k)
  }

  get outstanding(): number {
    return this.pending.size
  }

  start(): void {
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        if (this.pending.size > 0) await this.poll()
        await new Promise((r) => setTimeout(r, this.intervalMs))
      }
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  /** Polls until nothing is outstanding or `timeoutMs` passed; returns what is still unseen. */
  async settle(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, this.intervalMs))
    return this.pending.size
  }

  private async poll(): Promise<void> {
    const batch = [...this.pending.values()].slice(0, 5_000)
    const at = Date.now()
    const { rows } = await this.client.query<{ source: string; event_id: string }>(FOUND, [batch.map((b) => b.source), batch.map((b) => b.eventId)])
    for (const r of rows) {
      const key = `${r.source}\u0000${r.event_id}`
      const p = this.pending.get(key)
      if (!p) continue
      this.pending.delete(key)
      this.seen.push({ at, ms: Math.max(0, at - p.sentAt), ...(p.last ? { last: true } : {}) })
    }
  }
}

/** The q-quantile (0–1) of the values, nearest rank; undefined when there are none. */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}
