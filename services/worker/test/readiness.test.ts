import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import { createRegistry } from '@sluice/kit/metrics'
import { createPool } from '@sluice/kit/pg'
import { testLogger } from '@sluice/testkit/env'
import { startPrivatePostgres } from '@sluice/testkit/private-postgres'
import { startPrivateNats } from '@sluice/testkit/private-nats'
import { waitFor } from '@sluice/testkit/ports'
import { buildWorkerHttp } from '../src/app.js'

test('worker readiness fails while PostgreSQL or NATS is down and recovers after', async () => {
  const pgServer = await startPrivatePostgres()
  const nats = await startPrivateNats()
  const log = testLogger('worker')
  const pool = createPool({ url: pgServer.url(), log, applicationName: 'readiness-test', connectionTimeoutMs: 1_000 })
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const app = await buildWorkerHttp({ pool, nc, registry: createRegistry('worker', { defaults: false }), log })
  const ready = async () => (await app.inject({ method: 'GET', url: '/health/readiness' })).statusCode
  try {
    assert.equal(await ready(), 200)

    await pgServer.stop('immediate')
    const res = await app.inject({ method: 'GET', url: '/health/readiness' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json<{ checks: { postgres: { ok: boolean }; nats: { ok: boolean } } }>().checks.postgres.ok, false)
    assert.equal(res.json<{ checks: { nats: { ok: boolean } } }>().checks.nats.ok, true)
    await pgServer.start()
    await waitFor(async () => (await ready()) === 200, { what: 'ready after PostgreSQL restart' })

    await nats.stop()
    await waitFor(async () => (await ready()) === 503, { what: 'not ready without NATS' })
    await nats.start()
    await waitFor(async () => (await ready()) === 200, { timeoutMs: 20_000, what: 'ready after NATS restart' })
  } finally {
    await app.close()
    await nc.close()
    await pool.end()
    await pgServer.destroy()
    await nats.destroy()
  }
})

test('worker readiness reports a paused consume loop (batches not being stored) as not ready', async () => {
  const log = testLogger('worker')
  const pool = createPool({ url: 'postgres://root@127.0.0.1:5432/postgres', log, applicationName: 'readiness-test' })
  const nats = await startPrivateNats()
  const nc = await connect({ servers: nats.url })
  let state: { storing: boolean; error?: string; since?: Date } = { storing: true }
  const app = await buildWorkerHttp({ pool, nc, registry: createRegistry('worker', { defaults: false }), log, storage: () => state })
  try {
    assert.equal((await app.inject({ method: 'GET', url: '/health/readiness' })).statusCode, 200)
    state = { storing: false, error: 'ECONNREFUSED 127.0.0.1:5432', since: new Date() }
    const res = await app.inject({ method: 'GET', url: '/health/readiness' })
    assert.equal(res.statusCode, 503)
    const body = res.json<{ checks: { storage: { ok: boolean; error: string } } }>()
    assert.equal(body.checks.storage.ok, false)
    assert.match(body.checks.storage.error, /not being stored .*ECONNREFUSED/)
  } finally {
    await app.close()
    await nc.close()
    await pool.end()
    await nats.destroy()
  }
})
