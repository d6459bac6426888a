import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { dedupeKey, type Envelope } from '@sluice/contracts/envelope'
import { eventSubject } from '@sluice/contracts/topology'
import { jetstreamSchema, loadConfig } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createRegistry } from '@sluice/kit/metrics'
import { createPool } from '@sluice/kit/pg'
import { createTestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { waitFor } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testStreamLimits, testTopology } from '@sluice/testkit/topology'
import { workerMetrics } from '@sluice/worker/metrics'
import { startWorker } from '@sluice/worker/worker'

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  const now = new Date().toISOString()
  return { event_id: randomUUID(), source: 'marketplace', event_type: 'bid.placed', occurred_at: now, received_at: now, data: { jobId: 'j1' }, ...overrides }
}

test('dlq list/show/replay: events a bad constraint rejected are replayed once it is fixed, and stored once', async () => {
  const db = await createTestDatabase()
  const t = testTopology()
  const log = testLogger('worker')
  const nc = await connect({ servers: machine.natsUrl })
  const limits = loadConfig(jetstreamSchema, { env: testStreamLimits })
  await setupJetStream(nc, t, limits, log)
  const js = jetstream(nc)
  const pool = createPool({ url: db.url, log, applicationName: 'dlq-test' })
  const worker = await startWorker({
    consumer: await js.consumers.get(t.eventsStream, t.workerConsumer),
    pool,
    js,
    topology: t,
    log,
    metrics: workerMetrics(createRegistry('worker', { defaults: false })),
    batchSize: 500,
    batchMaxBytes: 4 * 1024 * 1024,
    batchMaxWaitMs: 20,
    batchesInFlight: 2,
    ackWaitMs: limits.ackWaitMs,
    maxDeliver: limits.maxDeliver,
    retryDelayMs: 50,
    retryDelayMaxMs: 1_000,
  })
  const env = { DATABASE_URL: db.url, NATS_URL: machine.natsUrl, STREAM_NAMESPACE: t.namespace, LOG_LEVEL: 'warn' }
  const cli = async (...args: string[]) => {
    const p = spawnModule('@sluice/cli/main', env, ['dlq', ...args])
    const { code } = await p.exited
    return { code, out: p.output() }
  }
  const count = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)
  const drained = async () => {
    const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
    await waitFor(async () => {
      const i = await consumer.info()
      return i.num_pending === 0 && i.num_ack_pending === 0
    }, { what: 'drained' })
  }
  const publish = (events: Envelope[]) => Promise.all(events.map((e) => js.publish(eventSubject(t, e.source), JSON.stringify(e), { msgID: dedupeKey(e.source, e.event_id) })))

  try {
    // A deploy added a constraint that rejects valid events: bids without an amount column.
    await pool.query(`ALTER TABLE events ADD CONSTRAINT bids_need_revenue CHECK (event_type <> 'bid.placed' OR revenue IS NOT NULL)`)
    const good = Array.from({ length: 20 }, () => envelope({ event_type: 'job.posted' }))
    const rejected = Array.from({ length: 3 }, () => envelope())
    await publish([...good, ...rejected])
    await js.publish(eventSubject(t, 'web'), '{"not": "an envelope"')
    await drained()
    assert.equal(await count(), 20)

    const listed = await cli('list')
    assert.equal(listed.code, 0, listed.out)
    assert.match(listed.out, /rejected_by_database: 3 \(3 not replayed\)/)
    assert.match(listed.out, /invalid_json: 1 \(1 not replayed\)/)
    assert.match(listed.out, /23514 new row for relation "events" violates check constraint "bids_need_revenue"/)

    const { rows } = await pool.query<{ id: number; event_id: string }>(`SELECT id::int, event_id FROM dead_letters WHERE reason = 'rejected_by_database' ORDER BY id`)
    assert.deepEqual(rows.map((r) => r.event_id).sort(), rejected.map((e) => e.event_id).sort())
    const shown = await cli('show', '--id', String(rows[0]!.id))
    assert.equal(shown.code, 0, shown.out)
    assert.ok(shown.out.includes(JSON.stringify(rejected.find((e) => e.event_id === rows[0]!.event_id))), 'shows the original message')

    // The fix, then the replay of everything pending with that reason.
    await pool.query('ALTER TABLE events DROP CONSTRAINT bids_need_revenue')
    const replayed = await cli('replay', '--all', '--reason', 'rejected_by_database')
    assert.equal(replayed.code, 0, replayed.out)
    assert.match(replayed.out, /3 dead letters replayed/)
    await waitFor(async () => (await count()) === 23, { what: 'replayed events stored' })

    // Replaying again (by id) stores nothing twice.
    const again = await cli('replay', '--id', String(rows[0]!.id), '--id', String(rows[1]!.id))
    assert.equal(again.code, 0, again.out)
    assert.match(again.out, /\(replay 2\)/)
    await drained()
    assert.equal(await count(), 23)
    const { rows: stored } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE event_id = ANY($1)', [rejected.map((e) => e.event_id)])
    assert.equal(stored[0]!.n, '3')

    const pending = await cli('list', '--pending', '--json')
    const parsed = JSON.parse(pending.out) as { deadLetters: { reason: string }[] }
    assert.deepEqual(parsed.deadLetters.map((d) => d.reason), ['invalid_json'])

    // Still unstorable: replayed, it is dead-lettered again, not lost and not stored.
    const { rows: bad } = await pool.query<{ id: number }>(`SELECT id::int FROM dead_letters WHERE reason = 'invalid_json'`)
    assert.equal((await cli('replay', '--id', String(bad[0]!.id))).code, 0)
    await drained()
    await waitFor(async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM dead_letters WHERE reason = 'invalid_json'`)).rows[0]!.n) === 2, { what: 'dead-lettered again' })
    assert.equal(await count(), 23)

    const usage = await cli('replay')
    assert.equal(usage.code, 2)
    assert.match(usage.out, /replay needs either --id <id> … or --all/)
  } finally {
    await worker.stop()
    await pool.end()
    await deleteTopology(nc, t)
    await nc.close()
    await db.drop()
  }
})
