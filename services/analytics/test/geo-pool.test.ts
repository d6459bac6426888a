import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * A geo request counts its unique users on two connections at once when it can. With a
 * pool of two and many requests at once, none may wait for a second connection while
 * holding its first (every connection could end up held that way): each takes the second
 * only if it comes at once, else counts both halves on its first. Same answers either way.
 */

const users = Array.from({ length: 40 }, (_, i) => `u${i}`)
const events: TestEvent[] = users.flatMap((user, i) => [
  { source: 'web', id: `a${i}`, type: 'page_view', at: '2026-11-01T10:00:00Z', user, country: i % 2 ? 'DE' : 'US', city: i % 3 ? 'Berlin' : 'NYC' },
  { source: 'web', id: `b${i}`, type: 'page_view', at: '2026-11-02T10:00:00Z', user, country: i % 2 ? 'DE' : 'US', city: i % 3 ? 'Berlin' : 'NYC' },
])
const range = 'from=2026-11-01T00:00:00Z&to=2026-11-03T00:00:00Z'

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await insertEvents(client, events.slice(0, 40))
  await fold(client)
  await insertEvents(client, events.slice(40)) // these stay pending: folded and pending users both counted
  app = await startAnalytics(db.url, { PG_POOL_SIZE: '2', STATEMENT_TIMEOUT_MS: '5000' })
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

test('twelve geo requests at once on a pool of two connections all answer, with the same unique users', async () => {
  const expected = [
    { country: 'DE', events: 40, uniqueUsers: 20, revenue: 0 },
    { country: 'US', events: 40, uniqueUsers: 20, revenue: 0 },
  ]
  const started = Date.now()
  const answers = await Promise.all(Array.from({ length: 12 }, () => app.inject({ method: 'GET', url: `/v1/geo?${range}` })))
  for (const res of answers) {
    assert.equal(res.statusCode, 200, res.body)
    const places = res.json<{ places: { country: string }[] }>().places
    assert.deepEqual([...places].sort((a, b) => a.country.localeCompare(b.country)), expected)
  }
  // The pool's connection timeout is 5 s: requests stuck waiting on each other would take that long, then fail.
  assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`)
})
