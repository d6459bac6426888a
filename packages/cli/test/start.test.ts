import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import { createTestDatabase } from '@sluice/testkit/database'
import { machine } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'

/**
 * The walking skeleton through the real launcher: `sluice start` runs every service as
 * its own process; one event goes HTTP → JetStream → worker → PostgreSQL → analytics.
 */
test('sluice start: an event posted to ingestion is counted by analytics, once', async () => {
  const db = await createTestDatabase()
  const t = testTopology()
  const [ingestionPort, analyticsPort, workerPort] = [await freePort(), await freePort(), await freePort()]
  const launcher = spawnModule('@sluice/cli/main', {
    DATABASE_URL: db.url,
    NATS_URL: machine.natsUrl,
    STREAM_NAMESPACE: t.namespace,
    WORKERS: '2',
    INGESTION_PORT: String(ingestionPort),
    ANALYTICS_PORT: String(analyticsPort),
    WORKER_PORT: String(workerPort),
    LOG_LEVEL: 'info',
  }, ['start'])
  try {
    await launcher.waitFor(/Sluice is running/, 60_000)
    const out = launcher.output()
    assert.match(out, new RegExp(`ingestion\\s+http://127\\.0\\.0\\.1:${ingestionPort}`))
    assert.match(out, new RegExp(`analytics\\s+http://127\\.0\\.0\\.1:${analyticsPort}`))
    assert.match(out, new RegExp(`worker-2\\s+http://127\\.0\\.0\\.1:${workerPort + 1}`))

    const event = { eventId: 'skeleton-1', timestamp: new Date().toISOString(), source: 'web', eventType: 'page_view', userId: 'u1' }
    const post = () =>
      fetch(`http://127.0.0.1:${ingestionPort}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) })
    const first = await post()
    assert.equal(first.status, 202)
    const sentAt = Date.now()
    const overview = async () => {
      const res = await fetch(`http://127.0.0.1:${analyticsPort}/v1/stats/overview`)
      return res.json() as Promise<{ events: number }>
    }
    await waitFor(async () => (await overview()).events === 1, { timeoutMs: 5_000, intervalMs: 20, what: 'the event counted' })
    assert.ok(Date.now() - sentAt < 1_000, `counted within a second (took ${Date.now() - sentAt} ms)`)

    assert.equal((await post()).status, 202)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await overview()).events, 1, 'the same event again leaves the count unchanged')
  } finally {
    const { code } = await launcher.kill('SIGINT')
    assert.equal(code, 0, launcher.output().slice(-2000))
    assert.match(launcher.output(), /stopping all services/)
    const nc = await connect({ servers: machine.natsUrl })
    await deleteTopology(nc, t)
    await nc.close()
    await db.drop()
  }
})

test('sluice start names the unreachable server, says how to start it, and exits non-zero', async () => {
  const port = await freePort()
  const pgDown = spawnModule('@sluice/cli/main', { DATABASE_URL: `postgres://root@127.0.0.1:${port}/sluice` }, ['start'])
  const pgResult = await pgDown.exited
  assert.notEqual(pgResult.code, 0)
  assert.match(pgDown.output(), new RegExp(`cannot reach PostgreSQL at postgres://root@127\\.0\\.0\\.1:${port}/sluice`))
  assert.match(pgDown.output(), /start it/)

  const db = await createTestDatabase()
  try {
    const natsDown = spawnModule('@sluice/cli/main', { DATABASE_URL: db.url, NATS_URL: `nats://127.0.0.1:${port}` }, ['start'])
    const natsResult = await natsDown.exited
    assert.notEqual(natsResult.code, 0)
    assert.match(natsDown.output(), new RegExp(`cannot reach NATS at nats://127\\.0\\.0\\.1:${port}`))
  } finally {
    await db.drop()
  }
})
