import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { startAnalytics } from './helpers.js'

let db: TestDatabase
let app: FastifyInstance
let guarded: FastifyInstance

const ENDPOINTS = [
  '/v1/stats/overview',
  '/v1/stats/timeseries',
  '/v1/funnel?steps=a,b',
  '/v1/funnel/stages',
  '/v1/geo',
  '/v1/campaigns/top',
  '/v1/users/top',
  '/v1/revenue',
  '/v1/marketplace/summary',
  '/v1/ranking/providers',
]

before(async () => {
  db = await createTestDatabase()
  app = await startAnalytics(db.url, { STATEMENT_TIMEOUT_MS: '300' })
  guarded = await startAnalytics(db.url, { READ_TOKENS: 'first-token, second-token' })
})

after(async () => {
  await app?.close()
  await guarded?.close()
  await db?.drop()
})

test('every endpoint answers on an empty database, with the default range', async () => {
  for (const url of ENDPOINTS) {
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
    const body = res.json<{ from: string; to: string }>()
    assert.equal(Date.parse(body.to) - Date.parse(body.from), 30 * 86_400_000, url)
    assert.equal(new Date(body.to).getUTCHours(), 0, `${url}: the default range ends on a UTC midnight`)
  }
})

test('Swagger documents every endpoint with its response shape and errors', async () => {
  const docs = (await app.inject({ method: 'GET', url: '/api/json' })).json<{
    paths: Record<string, { get: { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; parameters: { name: string }[] } }>
  }>()
  for (const url of ENDPOINTS) {
    const path = url.split('?')[0]!
    const op = docs.paths[path]?.get
    assert.ok(op, path)
    assert.ok(op.responses['200']?.content?.['application/json']?.schema, `${path} documents its 200`)
    assert.ok(op.responses['400'], `${path} documents its 400`)
    assert.ok(op.parameters.some((p) => p.name === 'from') && op.parameters.some((p) => p.name === 'source'), path)
  }
})

test('bad parameters are 400 problems naming the parameter', async () => {
  for (const [url, path] of [
    ['/v1/stats/overview?from=yesterday', '/querystring/from'],
    ['/v1/stats/overview?to=2026-13-45', '/querystring/to'],
    ['/v1/stats/overview?source=DROP%20TABLE', '/querystring/source'],
    ['/v1/stats/overview?from=2026-11-05T00:00:00Z&to=2026-11-01T00:00:00Z', '/querystring/from'],
    ['/v1/stats/overview?color=blue', '/querystring/color'],
    ['/v1/stats/timeseries?interval=week', '/querystring/interval'],
    ['/v1/stats/timeseries?interval=minute&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', '/querystring/interval'],
    ['/v1/geo?level=street', '/querystring/level'],
    ['/v1/geo?limit=abc', '/querystring/limit'],
    ['/v1/campaigns/top?metric=likes', '/querystring/metric'],
    ['/v1/users/top?limit=1000', '/querystring/limit'],
    ['/v1/revenue?groupBy=week', '/querystring/groupBy'],
    ['/v1/marketplace/summary?category=', '/querystring/category'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 400, url)
    assert.match(String(res.headers['content-type']), /application\/problem\+json/)
    const errors = res.json<{ errors: { path: string }[] }>().errors
    assert.ok(errors.some((e) => e.path === path), `${url} names ${path}: ${JSON.stringify(errors)}`)
  }
})

test('with READ_TOKENS set, /v1 needs one of the tokens; health and docs stay open', async () => {
  const open = await guarded.inject({ method: 'GET', url: '/v1/stats/overview' })
  assert.equal(open.statusCode, 401)
  assert.match(String(open.headers['www-authenticate']), /^Bearer/)
  assert.match(String(open.headers['content-type']), /application\/problem\+json/)
  const wrong = await guarded.inject({ method: 'GET', url: '/v1/stats/overview', headers: { authorization: 'Bearer first-token-not' } })
  assert.equal(wrong.statusCode, 401)
  for (const token of ['first-token', 'second-token']) {
    const res = await guarded.inject({ method: 'GET', url: '/v1/stats/overview', headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.statusCode, 200, token)
  }
  assert.equal((await guarded.inject({ method: 'GET', url: '/health/readiness' })).statusCode, 200)
  assert.equal((await guarded.inject({ method: 'GET', url: '/api/json' })).statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: '/v1/stats/overview' })).statusCode, 200, 'no tokens configured: open')
})

test('/metrics says how far folding lags', async () => {
  const body = (await app.inject({ method: 'GET', url: '/metrics' })).body
  assert.match(body, /^sluice_analytics_pending_deltas({[^}]*})? 0$/m)
  assert.match(body, /# TYPE sluice_analytics_last_fold_age_seconds gauge/)
})

test('the database guards itself: sessions are read-only and statements time out', async () => {
  await assert.rejects(
    app.pg.query(`INSERT INTO events (source, event_id, event_type, occurred_at, received_at) VALUES ('web', 'x', 'y', now(), now())`),
    (err: { code?: string }) => err.code === '25006', // read_only_sql_transaction
  )
  await assert.rejects(app.pg.query('SELECT pg_sleep(2)'), (err: { code?: string }) => err.code === '57014') // query_canceled
  const { rows } = await app.pg.query<{ jit: string }>(`SELECT current_setting('jit') AS jit`)
  assert.equal(rows[0]!.jit, 'off')
})
