import pg from 'pg'
import { publisherTemplates } from './scenarios/ingestion.js'
import { quantile, StoredLatency } from './stored-latency.js'
import { nextPrefix, renderWith } from './templates.js'

/**
 * Where the latency of one large post goes: publisher posts of `size` events sent one at
 * a time, each after the one before is stored and a pause, so each has the machine to
 * itself. For each post, from the moment its POST is sent:
 * - parsed: the events' `received_at` (ingestion stamps it once the body is read and parsed);
 * - first / last batch: the first and the last worker transaction that stored its events
 *   began (`stored_at`);
 * - 202: the answer, sent once JetStream holds every event;
 * - all stored: the last of every 100th event found in `events` (polled every 25 ms by key),
 *   and then the post's rows counted: they must be its `accepted`.
 */

export interface BurstPost {
  events: number
  accepted: number
  stored: number
  batches: number
  parsedMs: number
  firstBatchMs: number
  lastBatchMs: number
  answerMs: number
  allStoredMs: number
}

const TIMELINE = `
  SELECT count(*)::int AS stored, count(DISTINCT stored_at)::int AS batches,
         extract(epoch FROM min(received_at)) * 1000 AS received,
         extract(epoch FROM min(stored_at)) * 1000 AS first_batch,
         extract(epoch FROM max(stored_at)) * 1000 AS last_batch
  FROM events WHERE source IN ('facebook', 'tiktok') AND event_id LIKE $1`

export async function runBurst(ingestionUrl: string, databaseUrl: string, posts: number, size: number, pauseMs = 1_000): Promise<BurstPost[]> {
  const [template] = publisherTemplates(1, { min: size, max: size }, 100)
  const poller = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-burst' })
  await poller.connect()
  const latency = new StoredLatency(poller, 25)
  latency.start()
  const out: BurstPost[] = []
  try {
    for (let i = 0; i < posts; i++) {
      const prefix = nextPrefix()
      const body = renderWith(template!, prefix)
      const seenBefore = latency.seen.length
      const sentAt = Date.now()
      for (const s of template!.samples ?? []) latency.add({ source: s.source, eventId: prefix + s.suffix, prefix, sentAt })
      const response = await fetch(`${ingestionUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      const answerMs = Date.now() - sentAt
      if (response.status !== 202) throw new Error(`burst post ${i}: HTTP ${response.status} ${await response.text()}`)
      const { accepted } = (await response.json()) as { accepted: number }
      if ((await latency.settle(60_000)) > 0) throw new Error(`burst post ${i}: sampled events not stored within 60 s`)
      let allStoredMs = Math.max(...latency.seen.slice(seenBefore).map((s) => s.ms))
      // A batch without a sampled event may still be committing: count until it is in.
      const deadline = Date.now() + 60_000
      let t
      for (let first = true; ; first = false) {
        const checkedAt = Date.now()
        t = (await poller.query<{ stored: number; batches: number; received: number; first_batch: number; last_batch: number }>(TIMELINE, [`${prefix}-%`])).rows[0]!
        if (t.stored >= accepted) {
          // As for the samples: the start of the check that found them all.
          if (!first) allStoredMs = checkedAt - sentAt
          break
        }
        if (checkedAt > deadline) throw new Error(`burst post ${i}: ${accepted} events accepted, ${t.stored} stored after 60 s`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      if (t.stored !== accepted) throw new Error(`burst post ${i}: ${accepted} events accepted, ${t.stored} stored`)
      out.push({
        events: template!.events,
        accepted,
        stored: t.stored,
        batches: t.batches,
        parsedMs: Math.round(t.received - sentAt),
        firstBatchMs: Math.round(t.first_batch - sentAt),
        lastBatchMs: Math.round(t.last_batch - sentAt),
        answerMs,
        allStoredMs,
      })
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  } finally {
    await latency.stop()
    await poller.end()
  }
  return out
}

export function burstTable(posts: BurstPost[]): string {
  const lines = [
    '| post | events | accepted | stored | batches | parsed ms | first batch began ms | last batch began ms | 202 ms | all stored ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ]
  posts.forEach((p, i) => lines.push(`| ${i + 1} | ${p.events} | ${p.accepted} | ${p.stored} | ${p.batches} | ${p.parsedMs} | ${p.firstBatchMs} | ${p.lastBatchMs} | ${p.answerMs} | ${p.allStoredMs} |`))
  const median = (f: (p: BurstPost) => number) => quantile(posts.map(f), 0.5) ?? '–'
  lines.push(
    `| median | | | | ${median((p) => p.batches)} | ${median((p) => p.parsedMs)} | ${median((p) => p.firstBatchMs)} | ${median((p) => p.lastBatchMs)} | ${median((p) => p.answerMs)} | ${median((p) => p.allStoredMs)} |`,
  )
  return lines.join('\n')
}
