import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createPool } from '@sluice/kit/pg'
import { testLogger } from '@sluice/testkit/env'
import { waitFor } from '@sluice/testkit/ports'
import { envelope, metricValue, workerHarness, type WorkerHarness } from './helpers.js'

let h: WorkerHarness
before(async () => {
  h = await workerHarness()
})
after(async () => h.close())

async function deadLetterCount(): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
  return Number(rows[0]!.n)
}

test('when every row of a batch is rejected (a broken trigger), nothing is dead-lettered: the worker pauses and resumes once it is fixed', async () => {
  const worker = await h.startWorker({ batchMaxWaitMs: 200, maxDeliver: 20 })
  await h.pool.query(`CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'division by zero in a rollup'; END $$`)
  await h.pool.query('CREATE TRIGGER broken BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION broken()')
  const before = await h.count()
  const events = Array.from({ length: 20 }, () => envelope())
  await h.publish(events)
  // Readiness reports it while the worker waits between attempts.
  const health = await waitFor(() => {
    const s = worker.health()
    return !s.storing ? s : undefined
  }, { intervalMs: 5, what: 'paused' })
  assert.match(health.error ?? '', /rejected \d+ of 20 rows/)
  await waitFor(async () => (await metricValue(worker.registry, 'sluice_worker_batch_failures_total')) >= 2, { what: 'two failed attempts' })
  assert.equal(await deadLetterCount(), 0)

  await h.pool.query('DROP TRIGGER broken ON events')
  await h.drained()
  assert.equal(await h.count(), before + 20)
  assert.equal(await deadLetterCount(), 0)
  await waitFor(() => worker.health().storing, { what: 'storing again' })
  await worker.stop()
})

test('a message that keeps failing its batch (a statement timeout) lands in the DLQ after MAX_DELIVER deliveries; its batch-mates are stored', async () => {
  // The worker's own pool with a short statement timeout; a trigger stalls one event type.
  const pool = createPool({ url: h.db.url, log: testLogger(), applicationName: 'worker-timeout-test', statementTimeoutMs: 300 })
  await h.pool.query(`CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.event_type = 'stall' THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END $$`)
  await h.pool.query('CREATE TRIGGER stall BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION stall()')
  const worker = await h.startWorker({ batchMaxWaitMs: 200, maxDeliver: 3, batchSize: 64, retryDelayMs: 20, retryDelayMaxMs: 200 }, pool)
  try {
    const before = await h.count()
    const dlBefore = await deadLetterCount()
    const good = Array.from({ length: 40 }, () => envelope())
    const stall = envelope({ event_type: 'stall' })
    await h.publish([...good.slice(0, 20), stall, ...good.slice(20)])
    await h.drained(30_000)

    assert.equal(await h.count(), before + 40, 'every batch-mate stored')
    assert.equal(await deadLetterCount(), dlBefore + 1, 'only the stalling event dead-lettered')
    const { rows } = await h.pool.query<{ reason: string; error: string; delivery_count: number; event_id: string | null }>(
      'SELECT reason, error, delivery_count, event_id FROM dead_letters ORDER BY id DESC LIMIT 1',
    )
    assert.equal(rows[0]!.reason, 'max_deliver')
    assert.equal(rows[0]!.delivery_count, 4)
    assert.match(rows[0]!.error, /delivered 4 times .*MAX_DELIVER=3/)
    const { rows: stored } = await h.pool.query('SELECT 1 FROM events WHERE event_id = $1', [stall.event_id])
    assert.equal(stored.length, 0)
    assert.equal(await metricValue(worker.registry, 'sluice_worker_dead_letters_total', { reason: 'max_deliver' }), 1)
    assert.ok((await metricValue(worker.registry, 'sluice_worker_naks_total')) >= 3)
  } finally {
    await worker.stop()
    await pool.end()
    await h.pool.query('DROP TRIGGER stall ON events')
  }
})
