import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, insertEvents, fold, startAnalytics } from './helpers.js'
import { roleProblem } from '../src/plugins/pg.js'

/**
 * Least privilege and injection: the analytics sessions run as the read-only role
 * (migration 0050), so no statement — even one that undoes the read-only session
 * default — can write; and every query parameter of every endpoint is tried with SQL
 * injection payloads, which must come back as 400 or as an ordinary answer, never as SQL.
 */

let db: TestDatabase
let app: FastifyInstance
const EVENTS = 40

before(async () => {
  db = await createTestDatabase()
  const c = await connect(db.url)
  await insertEvents(
    c,
    Array.from({ length: EVENTS }, (_, i) => ({
      source: i % 2 ? 'web' : 'marketplace',
      id: `e${i}`,
      type: ['page_view', 'signup', 'job.posted', 'bid.placed'][i % 4]!,
      at: new Date(Date.UTC(2026, 10, 20, i % 24)).toISOString(),
      user: `u${i % 7}`,
      country: 'DE',
      city: 'Berlin',
      campaign: 'c1',
      provider: 'p1',
      job: `j${i % 5}`,
      category: 'plumbing',
      revenue: '10.5',
      currency: 'EUR',
    })),
  )
  await fold(c)
  await c.end()
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await db?.drop()
})

test('analytics sessions run as sluice_reader: an INSERT fails even in a READ WRITE transaction', async () => {
  const client = await app.pg.connect()
  try {
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role')
    assert.equal(rows[0]!.role, 'sluice_reader')
    await client.query('BEGIN READ WRITE')
    await assert.rejects(
      client.query(`INSERT INTO events (source, event_id, event_type, occurred_at, received_at) VALUES ('web', 'injected', 'y', now(), now())`),
      (err: { code?: string }) => err.code === '42501', // insufficient_privilege
    )
    await client.query('ROLLBACK')
    for (const sql of ['DELETE FROM events', 'UPDATE rollup_state SET fold_every = 1', 'TRUNCATE dead_letters', 'CREATE TABLE public.x (a int)', 'DROP TABLE events']) {
      await client.query('BEGIN READ WRITE')
      await assert.rejects(client.query(sql), (err: { code?: string }) => err.code === '42501' || err.code === '42P01', sql)
      await client.query('ROLLBACK')
    }
    // Reading is what it may do, on every table.
    const { rows: n } = await client.query<{ n: string }>('SELECT count(*) AS n FROM events')
    assert.equal(Number(n[0]!.n), EVENTS)
  } finally {
    client.release()
  }
})

test('the login role sluice_analytics can read and cannot write', async () => {
  const url = new URL(db.url)
  url.username = 'sluice_analytics'
  const reader = await startAnalytics(db.url, { ANALYTICS_DATABASE_URL: url.toString(), ANALYTICS_DB_ROLE: '' })
  try {
    const { rows } = await reader.pg.query<{ role: string; n: string }>('SELECT current_user AS role, (SELECT count(*) FROM events) AS n')
    assert.deepEqual(rows[0], { role: 'sluice_analytics', n: String(EVENTS) })
    const client = await reader.pg.connect()
    try {
      await client.query('BEGIN READ WRITE')
      await assert.rejects(client.query(`INSERT INTO dead_letters (reason) VALUES ('x')`), (err: { code?: string }) => err.code === '42501')
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
    assert.equal((await reader.inject({ method: 'GET', url: '/v1/stats/overview?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z' })).statusCode, 200)
  } finally {
    await reader.close()
  }
})

test('analytics refuses to start with a role that cannot read, saying what to do', async () => {
  assert.equal(await roleProblem(db.url, 'sluice_reader'), undefined)
  assert.equal(await roleProblem(db.url, ''), undefined)
  assert.match((await roleProblem(db.url, 'no_such_role_here')) ?? '', /"no_such_role_here" does not exist.*npm run db:migrate/)
  // A role that exists but was granted nothing here (a database migrated before 0050).
  assert.match((await roleProblem(db.url, 'pg_monitor')) ?? '', /cannot read events here/)
})

const PAYLOADS = [
  "' OR '1'='1",
  "web' OR 1=1 --",
  "'; DROP TABLE events; --",
  "1; SELECT pg_sleep(3)",
  "' UNION SELECT current_user, 1, 1 --",
  "web'); INSERT INTO dead_letters (reason) VALUES ('x'); --",
  '$1',
  '\\',
  "''",
  '%27%20OR%201%3D1',
  "2026-11-20T00:00:00Z' OR 'x'='x",
  "1) OR (1=1",
  "a,b'); SELECT pg_sleep(3); --",
  "pg_sleep(3)",
  '"; SELECT 1; --',
  "web\u0000' OR 1=1",
]

/** Every GET route under /v1 with its query parameters, from the OpenAPI document. */
async function routes(): Promise<{ path: string; params: string[] }[]> {
  const spec = (await app.inject({ method: 'GET', url: '/api/json' })).json<{ paths: Record<string, { get?: { parameters?: { name: string; in: string }[] } }> }>()
  return Object.entries(spec.paths)
    .filter(([path, item]) => path.startsWith('/v1/') && item.get)
    .map(([path, item]) => ({ path, params: (item.get!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) }))
}

const VALID: Record<string, string> = { steps: 'page_view,signup', from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' }

test('SQL injection in every query parameter of every endpoint: 400 or an ordinary answer, never SQL', async () => {
  const list = await routes()
  assert.ok(list.length >= 10, `${list.length} endpoints`)
  let tried = 0
  const statuses: Record<number, number> = {}
  for (const { path, params } of list) {
    assert.ok(params.includes('from') && params.includes('source'), `${path} documents its parameters`)
    for (const param of params) {
      for (const payload of PAYLOADS) {
        const query = new URLSearchParams({ ...(path.startsWith('/v1/funnel') && path !== '/v1/funnel/stages' ? { steps: VALID.steps! } : {}), from: VALID.from!, to: VALID.to! })
        query.set(param, payload)
        const t0 = performance.now()
        const res = await app.inject({ method: 'GET', url: `${path}?${query.toString()}` })
        const ms = performance.now() - t0
        tried++
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
        assert.ok(res.statusCode === 200 || res.statusCode === 400, `${path} ${param}=${payload}: ${res.statusCode} ${res.body.slice(0, 200)}`)
        assert.ok(ms < 2_500, `${path} ${param}=${payload}: ${Math.round(ms)} ms (a pg_sleep ran?)`)
        // A refusal says what is wrong with the parameter, nothing about the database.
        if (res.statusCode === 400) assert.doesNotMatch(res.json<{ detail?: string }>().detail ?? '', /sluice_reader|syntax error|relation|postgres|SQLSTATE/i, `${path} ${param}: no SQL detail leaks`)
        if (res.statusCode === 200 && (param === 'source' || param === 'eventType')) {
          // An injected source is just a source nobody sends: nothing matches.
          assert.doesNotMatch(res.body, /"(events|count|total|users)":\s*[1-9]/, `${path} source=${payload} matched rows: ${res.body.slice(0, 200)}`)
        }
      }
    }
  }
  console.log(`[sql injection] ${tried} requests over ${list.length} endpoints; statuses ${JSON.stringify(statuses)}`)
  const c = await connect(db.url)
  try {
    const { rows } = await c.query<{ events: string; dl: string }>('SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM dead_letters) AS dl')
    assert.deepEqual(rows[0], { events: String(EVENTS), dl: '0' }, 'nothing was written or dropped')
  } finally {
    await c.end()
  }
})
