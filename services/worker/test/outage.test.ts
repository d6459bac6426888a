import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPool } from '@sluice/kit/pg'
import { testLogger } from '@sluice/testkit/env'
import { waitFor } from '@sluice/testkit/ports'
import { startPrivatePostgres } from '@sluice/testkit/private-postgres'
import { envelope, workerHarness } from './helpers.js'

test('PostgreSQL stopped mid-stream then restarted: every event is stored exactly once, nothing dead-lettered', async () => {
  const server = await startPrivatePostgres()
  const h = await workerHarness({ databaseServer: server.url(), env: { ACK_WAIT_MS: '5000' } })
  // The worker's own pool, as in production: small, failing fast while the server is down.
  const pool = createPool({ url: h.db.url, log: testLogger(), applicationName: 'worker-outage-test', max: 3, connectionTimeoutMs: 1_000 })
  try {
    const worker = await h.startWorker({ batchSize: 200, batchMaxWaitMs: 20, retryDelayMs: 100, retryDelayMaxMs: 1_000 }, pool)
    const events = Array.from({ length: 6_000 }, () => envelope())

    await h.publish(events.slice(0, 2_000))
    await waitFor(async () => (await h.count()) >= 1_000, { what: '1000 stored' })
    await server.stop('immediate')

    // Published while the database is down; some re-sent, as a client retrying would.
    await h.publish(events.slice(2_000, 4_000))
    await h.publish(events.slice(1_500, 2_500), { msgId: false })
    const paused = await waitFor(() => (worker.health().storing ? undefined : worker.health()), { what: 'worker reports it cannot store' })
    assert.match(paused.error ?? '', /ECONNREFUSED|connect|terminat/i)
    // Paused: it does not keep fetching (and spending deliveries) while the server is down.
    const fetchedWhileDown = (await worker.metrics.fetched.get()).values[0]?.value ?? 0
    await new Promise((r) => setTimeout(r, 1_500))
    assert.ok(((await worker.metrics.fetched.get()).values[0]?.value ?? 0) - fetchedWhileDown < 1_000, 'fetching paused')

    await server.start()
    await h.publish(events.slice(4_000))
    await h.drained(60_000)
    await waitFor(() => worker.health().storing, { what: 'storing again' })

    assert.equal(await h.count(), 6_000)
    const { rows } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
    assert.equal(rows[0]!.n, '0')
    const { rows: ids } = await h.pool.query<{ n: string }>('SELECT count(DISTINCT event_id) AS n FROM events WHERE event_id = ANY($1)', [events.map((e) => e.event_id)])
    assert.equal(ids[0]!.n, '6000')
    await worker.stop()
  } finally {
    await pool.end().catch(() => undefined)
    await h.close().catch(() => undefined)
    await server.destroy()
  }
})
