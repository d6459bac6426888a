import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { Envelope } from '@sluice/contracts/envelope'
import { eventSubject } from '@sluice/contracts/topology'
import { waitFor } from '@sluice/testkit/ports'
import { envelope, metricValue, workerHarness, type StartedWorker, type WorkerHarness } from './helpers.js'

/**
 * Live messages that carry a pack of envelopes (ingestion packs large requests, one
 * envelope per line): stored row by row, batches bounded by bytes, a bad line
 * dead-lettered alone, an event already stored dropped alone.
 */

let h: WorkerHarness
let worker: StartedWorker
const BATCH_BYTES = 64 * 1024

before(async () => {
  h = await workerHarness()
  worker = await h.startWorker({ batchSize: 5_000, batchMaxBytes: BATCH_BYTES, batchMaxWaitMs: 200 })
})
after(async () => h.close())

async function publishPack(lines: string[], source = 'web'): Promise<void> {
  const msgID = `pack:${createHash('sha256').update(JSON.stringify(lines)).digest('base64url')}`
  await h.js.publish(eventSubject(h.topology, source), lines.join('\n'), { msgID })
}

async function batchSizes(): Promise<{ count: number; sum: number }> {
  return {
    count: await metricValue(worker.registry, 'sluice_worker_batch_size', {}, 'sluice_worker_batch_size_count'),
    sum: await metricValue(worker.registry, 'sluice_worker_batch_size', {}, 'sluice_worker_batch_size_sum'),
  }
}

test('packs and single events together: every event stored once, batches closed by bytes, not by a count of messages', async () => {
  const start = await h.count()
  const before = await batchSizes()
  const packs: Envelope[][] = Array.from({ length: 40 }, () => Array.from({ length: 50 }, () => envelope()))
  const singles = Array.from({ length: 300 }, () => envelope())
  let bytes = 0
  await Promise.all(
    packs.map((p) => {
      const lines = p.map((e) => JSON.stringify(e))
      bytes += lines.join('\n').length
      return publishPack(lines)
    }),
  )
  await h.publish(singles)
  for (const e of singles) bytes += JSON.stringify(e).length
  await waitFor(async () => (await h.count()) === start + 40 * 50 + 300, { what: '2,300 rows' })
  await h.drained()

  const after = await batchSizes()
  const batches = after.count - before.count
  assert.equal(after.sum - before.sum, 2_300, 'the batch-size histogram counts events, not messages')
  // Each batch closes once it holds BATCH_BYTES (it may overshoot by one pack of ~25 KB).
  assert.ok(batches >= Math.floor(bytes / (BATCH_BYTES + 30 * 1024)), `${batches} batches for ${bytes} bytes`)
  const { rows } = await h.pool.query<{ n: string }>('SELECT count(DISTINCT event_id) AS n FROM events WHERE event_id = ANY ($1)', [packs.flat().map((e) => e.event_id)])
  assert.equal(Number(rows[0]!.n), 2_000)
})

test('a pack holding an event already stored and a line that can never be stored: the others are stored, the bad line dead-lettered alone', async () => {
  const start = await h.count()
  const stored = envelope()
  await h.publish([stored])
  await waitFor(async () => (await h.count()) === start + 1, { what: 'the first row' })

  const fresh = Array.from({ length: 20 }, () => envelope())
  const lines = [JSON.stringify(stored), ...fresh.slice(0, 10).map((e) => JSON.stringify(e)), '{"event_id": "broken", ', ...fresh.slice(10).map((e) => JSON.stringify(e))]
  await publishPack(lines)
  await waitFor(async () => (await h.count()) === start + 21, { what: '20 more rows' })
  await h.drained()
  const letters = await h.pool.query<{ reason: string; row_index: number; payload: Buffer }>('SELECT reason, row_index, payload FROM dead_letters')
  assert.equal(letters.rows.length, 1)
  assert.equal(letters.rows[0]!.reason, 'invalid_json')
  assert.equal(letters.rows[0]!.row_index, 11)
  assert.equal(letters.rows[0]!.payload.toString(), '{"event_id": "broken", ')
  const { rows } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE source = $1 AND event_id = $2', [stored.source, stored.event_id])
  assert.equal(rows[0]!.n, '1', 'the event of the pack stored earlier is not stored twice')
})
