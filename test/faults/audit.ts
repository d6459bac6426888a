import assert from 'node:assert/strict'
import { waitFor } from '@sluice/testkit/ports'
import type { LoadResult } from './load.js'
import type { Pipeline } from './pipeline.js'

/**
 * The one check every fault ends with: every event id that got a 202 is stored exactly
 * once, and nothing is stored that was not accepted. Prints the numbers.
 */

export interface AuditResult {
  accepted: number
  stored: number
  duplicatesPrevented: number
  redelivered: number
  lost: number
  deadLetters: number
}

export async function audit(name: string, p: Pipeline, load: LoadResult, { timeoutMs = 90_000, expectDeadLetters = 0 } = {}): Promise<AuditResult> {
  // Wait until the workers have caught up (rows stop changing and the consumer is empty).
  await p.drained(timeoutMs)
  const countRows = async () => Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)
  await waitFor(async () => (await countRows()) >= load.accepted.size, { timeoutMs, intervalMs: 250, what: `${load.accepted.size} rows stored` }).catch(() => undefined)
  await p.drained(timeoutMs)

  const { rows } = await p.pool.query<{ source: string; event_id: string; n: string }>(
    'SELECT source, event_id, count(*) OVER (PARTITION BY source, event_id) AS n FROM events',
  )
  const stored = new Set<string>()
  let twice = 0
  const unexpected: string[] = []
  for (const r of rows) {
    if (Number(r.n) > 1) twice++
    stored.add(r.event_id)
    if (r.source !== 'web' || !load.accepted.has(r.event_id)) unexpected.push(`${r.source}/${r.event_id}`)
  }
  const lost = [...load.accepted].filter((id) => !stored.has(id))
  const deadLetters = Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')).rows[0]!.n)
  const redelivered = await p.redeliveries()
  const result: AuditResult = {
    accepted: load.accepted.size,
    stored: rows.length,
    // Copies that reached the pipeline again and were kept out: client re-sends answered as
    // duplicates (JetStream's window), plus redeliveries to workers (the primary key).
    duplicatesPrevented: load.answeredDuplicate + redelivered,
    redelivered,
    lost: lost.length,
    deadLetters,
  }
  console.log(
    `[fault audit] ${name}: accepted ${result.accepted}, stored ${result.stored}, duplicates prevented ${result.duplicatesPrevented} ` +
      `(client copies sent ${load.sent}, answered as duplicates ${load.answeredDuplicate}, retried batches ${load.retriedBatches}, JetStream redeliveries ${redelivered}), ` +
      `dead letters ${deadLetters}, lost ${result.lost}; requests ${[...load.outcomes].map(([k, v]) => `${k}×${v}`).join(' ')}`,
  )
  assert.ok(load.accepted.size > 0, 'the load got events accepted')
  assert.equal(twice, 0, 'no event stored twice')
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} accepted events were not stored`)
  assert.deepEqual(unexpected.slice(0, 5), [], `${unexpected.length} stored events were never accepted`)
  assert.equal(result.stored, result.accepted)
  assert.equal(deadLetters, expectDeadLetters, 'dead letters')
  return result
}
