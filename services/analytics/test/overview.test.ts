import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createRegistry } from '@sluice/kit/metrics'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { testLogger } from '@sluice/testkit/env'
import { loadAnalyticsConfig } from '../src/config.js'
import { buildAnalytics } from '../src/app.js'

let db: TestDatabase
let app: FastifyInstance

// source, event_id, event_type, funnel_stage, occurred_at, user_id, revenue
const rows: [string, string, string, string | null, string, string | null, number | null][] = [
  ['facebook', 'f1', 'ad.view', 'top', '2026-11-01T10:00:00Z', 'u1', null],
  ['facebook', 'f2', 'ad.click', 'bottom', '2026-11-01T11:00:00Z', 'u1', null],
  ['facebook', 'f3', 'checkout.complete', 'bottom', '2026-11-02T09:00:00Z', 'u2', 49.5],
  ['tiktok', 't1', 'video.view', 'top', '2026-11-02T12:00:00Z', 'u3', null],
  ['tiktok', 't2', 'purchase', 'bottom', '2026-11-03T12:00:00Z', 'u3', 10],
  ['web', 'w1', 'page_view', null, '2026-11-03T13:00:00Z', null, null],
  ['web', 'w2', 'page_view', null, '2026-10-01T13:00:00Z', 'u9', null], // outside the range below
]

before(async () => {
  db = await createTestDatabase()
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  for (const [source, id, type, stage, at, user, revenue] of rows) {
    await c.query(
      `INSERT INTO events (source, event_id, event_type, funnel_stage, occurred_at, received_at, user_id, revenue) VALUES ($1,$2,$3,$4,$5,$5,$6,$7)`,
      [source, id, type, stage, at, user, revenue],
    )
  }
  await c.end()
  app = await buildAnalytics(loadAnalyticsConfig({ env: { DATABASE_URL: db.url } }), testLogger('analytics'), createRegistry('analytics', { defaults: false }))
  await app.ready()
})
after(async () => {
  await app.close()
  await db.drop()
})

const range = 'from=2026-11-01T00:00:00Z&to=2026-11-04T00:00:00Z'

test('overview counts events, users and revenue by source, type and stage', async () => {
  const res = await app.inject({ method: 'GET', url: `/v1/stats/overview?${range}` })
  assert.equal(res.statusCode, 200)
  const body = res.json<Record<string, unknown>>()
  assert.equal(body.events, 6)
  assert.equal(body.uniqueUsers, 3)
  assert.equal(body.revenue, 59.5)
  assert.deepEqual(body.bySource, [
    { source: 'facebook', events: 3 },
    { source: 'tiktok', events: 2 },
    { source: 'web', events: 1 },
  ])
  assert.deepEqual(body.byFunnelStage, [
    { funnelStage: 'bottom', events: 3 },
    { funnelStage: 'top', events: 2 },
    { funnelStage: null, events: 1 },
  ])
  assert.equal((body.byEventType as unknown[]).length, 6)
})

test('source filters every number', async () => {
  const body = (await app.inject({ method: 'GET', url: `/v1/stats/overview?${range}&source=tiktok` })).json<Record<string, unknown>>()
  assert.equal(body.events, 2)
  assert.equal(body.uniqueUsers, 1)
  assert.equal(body.revenue, 10)
  assert.equal(body.source, 'tiktok')
})

test('bad parameters are a 400 naming the parameter', async () => {
  for (const [query, path] of [
    ['from=yesterday', '/querystring/from'],
    ['to=2026-13-45', '/querystring/to'],
    ['source=DROP%20TABLE', '/querystring/source'],
    ['from=2026-11-05T00:00:00Z&to=2026-11-01T00:00:00Z', '/querystring/from'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/v1/stats/overview?${query}` })
    assert.equal(res.statusCode, 400, query)
    assert.match(String(res.headers['content-type']), /application\/problem\+json/)
    const errors = res.json<{ errors: { path: string }[] }>().errors
    assert.ok(errors.some((e) => e.path === path), `${query} names ${path}: ${JSON.stringify(errors)}`)
  }
})

test('readiness checks PostgreSQL; Swagger documents the endpoint', async () => {
  assert.equal((await app.inject({ method: 'GET', url: '/health/readiness' })).statusCode, 200)
  const docs = (await app.inject({ method: 'GET', url: '/api/json' })).json<{ paths: Record<string, unknown> }>()
  assert.ok(docs.paths['/v1/stats/overview'])
})
