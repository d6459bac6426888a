import { randomUUID } from 'node:crypto'

/**
 * Clients as a careful SDK behaves: each sends batches of events with ids of its own,
 * and when it gets no answer (connection refused or reset, timeout) or a 503/429 it
 * sends the same batch again, with the same ids, until it gets a 202. A few batches are
 * sent twice on purpose, as a client whose answer was lost would. Half the clients send
 * batches large enough for ingestion to publish them as packs of events
 * (PUBLISH_PACK_EVENTS, 64), the other half small ones (one JetStream message per event).
 */

export interface LoadOptions {
  baseUrl: string
  clients?: number
  batchSize?: number
  /** Events per batch of the odd-numbered clients: packed by ingestion. */
  largeBatchSize?: number
  /** How long clients keep starting new batches (at least). */
  durationMs: number
  /** Clients also keep going until this settles (the fault is over), plus `tailMs`. */
  until?: Promise<unknown>
  tailMs?: number
  /** Pause between batches of one client. */
  pauseMs?: number
  /** Share of batches re-sent after their 202, to exercise deduplication. */
  resendShare?: number
  /** How long one batch may keep being retried before the load fails. */
  giveUpMs?: number
}

export interface LoadResult {
  /** Ids answered 202 (as accepted or as a duplicate of an earlier try). */
  accepted: Set<string>
  /** Event copies sent, every retry and re-send included. */
  sent: number
  /** Event copies the server answered as duplicates (it had them already). */
  answeredDuplicate: number
  /** Requests by outcome: HTTP status, or the network error code. */
  outcomes: Map<string, number>
  /** Batches that needed more than one try. */
  retriedBatches: number
}

function nativeBatch(size: number, client: number): { ids: string[]; body: string } {
  const events = Array.from({ length: size }, (_, i) => ({
    eventId: randomUUID(),
    timestamp: new Date(Date.UTC(2026, 10, 21, 10, 0, i)).toISOString(),
    source: 'web',
    eventType: i % 3 === 0 ? 'signup' : 'page_view',
    userId: `u${client}-${i % 17}`,
    sessionId: `s${client}`,
    data: { path: `/p/${i}`, note: 'quote " backslash \\ tab \t' },
  }))
  return { ids: events.map((e) => e.eventId), body: JSON.stringify(events) }
}

export async function runLoad({ baseUrl, clients = 6, batchSize = 25, largeBatchSize = 150, durationMs, until, tailMs = 1_000, pauseMs = 20, resendShare = 0.05, giveUpMs = 90_000 }: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { accepted: new Set(), sent: 0, answeredDuplicate: 0, outcomes: new Map(), retriedBatches: 0 }
  const count = (key: string) => result.outcomes.set(key, (result.outcomes.get(key) ?? 0) + 1)
  const minimumEnd = Date.now() + durationMs
  let faultOver = !until
  void until?.finally(() => setTimeout(() => (faultOver = true), tailMs))
  const going = () => Date.now() < minimumEnd || !faultOver

  const send = async (body: string, size: number): Promise<{ accepted: number; duplicates: number }> => {
    const deadline = Date.now() + giveUpMs
    for (let attempt = 0; ; attempt++) {
      if (attempt === 1) result.retriedBatches++
      if (Date.now() > deadline) throw new Error(`a batch got no 202 within ${giveUpMs} ms: ${[...result.outcomes].join(' ')}`)
      result.sent += size
      try {
        const res = await fetch(`${baseUrl}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(5_000),
        })
        count(String(res.status))
        const text = await res.text()
        if (res.status === 202) return JSON.parse(text) as { accepted: number; duplicates: number }
        if (res.status !== 503 && res.status !== 429) throw new Error(`unexpected ${res.status}: ${text.slice(0, 300)}`)
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('unexpected')) throw err
        const cause = (err as { cause?: { code?: string } }).cause
        count(cause?.code ?? (err as Error).name)
      }
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200))
    }
  }

  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (going()) {
        const { ids, body } = nativeBatch(client % 2 === 1 ? largeBatchSize : batchSize, client)
        const first = await send(body, ids.length)
        if (first.accepted + first.duplicates !== ids.length) throw new Error(`a valid batch was partly rejected: ${JSON.stringify(first)}`)
        result.answeredDuplicate += first.duplicates
        for (const id of ids) result.accepted.add(id)
        if (Math.random() < resendShare) {
          const again = await send(body, ids.length)
          result.answeredDuplicate += again.duplicates
        }
        await new Promise((r) => setTimeout(r, pauseMs))
      }
    }),
  )
  return result
}
