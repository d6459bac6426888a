import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, get, holdDeltas, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * A ranking over two whole days or more is counted in two parts, cut at the midnight
 * nearest the middle ([11-01, 11-03) and [11-03, 11-05) here), on two connections when the
 * pool has a second one free, else one after the other. Counts add up; a median must be
 * taken over both parts' response times together. Worked by hand:
 *
 *   k1 posted 11-01 10:00: bid p1 10:10 (600 s), bid p2 10:30 (1,800 s); assigned p1,
 *      completed p1, feedback p1 4.5
 *   k2 posted 11-02 10:00: bid p1 10:20 (1,200 s), quote p2 10:05 (300 s)
 *   k3 posted 11-03 09:00: bid p1 09:40 (2,400 s); assigned p1, feedback p1 4.7
 *   k4 posted 11-04 12:00: bid p1 12:15 (900 s), bid p2 13:00 (3,600 s); assigned p2,
 *      feedback p2 3.7
 *   impressions: p1 3 + 1 click on 11-01 and 2 on 11-04; p2 5 + 2 clicks on 11-03
 *
 * p1: responses 600, 1,200 | 2,400, 900 → median of all four 1,050 (the first part's
 *     alone 900, the mean of the two parts' medians 1,275); bids 4, wins 2, completed 1,
 *     rating (4.5 + 4.7) / 2.
 * p2: responses 1,800, 300 | 3,600 → median 1,800; bids 2 (the quote is no bid), responded
 *     to 3 jobs, wins 1, completed 0, rating 3.7.
 */
let n = 0
const at = (day: number, time: string) => `2026-11-0${day}T${time}:00Z`
const ev = (type: string, day: number, time: string, fields: Partial<TestEvent> = {}): TestEvent => ({ source: 'marketplace', id: `rp-${++n}`, type, at: at(day, time), ...fields })
const seen = (provider: string, day: number, count: number, clicks: number): TestEvent[] => [
  ...Array.from({ length: count }, (_, i) => ev('provider.impression', day, `08:0${i}`, { provider, category: 'plumbing', city: 'Leeds' })),
  ...Array.from({ length: clicks }, (_, i) => ev('provider.click', day, `08:3${i}`, { provider, category: 'plumbing', city: 'Leeds' })),
]
const job = (id: string, day: number, time: string) => ev('job.posted', day, time, { job: id, category: 'plumbing', city: 'Leeds' })

const firstDays: TestEvent[] = [
  job('k1', 1, '10:00'),
  ev('bid.placed', 1, '10:10', { job: 'k1', provider: 'p1' }),
  ev('bid.placed', 1, '10:30', { job: 'k1', provider: 'p2' }),
  ev('job.assigned', 1, '11:00', { job: 'k1', provider: 'p1' }),
  ev('job.completed', 1, '15:00', { job: 'k1', provider: 'p1' }),
  ev('feedback.submitted', 1, '16:00', { job: 'k1', provider: 'p1', data: { rating: 4.5 } }),
  job('k2', 2, '10:00'),
  ev('bid.placed', 2, '10:20', { job: 'k2', provider: 'p1' }),
  ev('quote.sent', 2, '10:05', { job: 'k2', provider: 'p2' }),
  ...seen('p1', 1, 3, 1),
]
const lastDays: TestEvent[] = [
  job('k3', 3, '09:00'),
  ev('bid.placed', 3, '09:40', { job: 'k3', provider: 'p1' }),
  ev('job.assigned', 3, '10:00', { job: 'k3', provider: 'p1' }),
  ev('feedback.submitted', 3, '18:00', { job: 'k3', provider: 'p1', data: { rating: '4.7' } }),
  ev('bid.placed', 4, '12:15', { job: 'k4', provider: 'p1' }), // before its job.posted arrives
  job('k4', 4, '12:00'),
  ev('bid.placed', 4, '13:00', { job: 'k4', provider: 'p2' }),
  ev('job.assigned', 4, '14:00', { job: 'k4', provider: 'p2' }),
  ev('feedback.submitted', 4, '19:00', { job: 'k4', provider: 'p2', data: { rating: 3.7 } }),
  ...seen('p1', 4, 2, 0),
  ...seen('p2', 3, 5, 2),
]

const range = 'from=2026-11-01T00:00:00Z&to=2026-11-05T00:00:00Z'
const expected = {
  p1: { impressions: 5, clicks: 1, jobsResponded: 4, bids: 4, wins: 2, completionRate: 0.5, medianResponseSeconds: 1050, averageRating: 4.6, ratings: 2 },
  p2: { impressions: 5, clicks: 2, jobsResponded: 3, bids: 2, wins: 1, completionRate: 0, medianResponseSeconds: 1800, averageRating: 3.7, ratings: 1 },
}

let db: TestDatabase
let client: pg.Client
let apps: [name: string, app: FastifyInstance][] = []

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await holdDeltas(client)
  await insertEvents(client, firstDays)
  await fold(client) // the first part's rows folded, the second's still pending deltas
  await insertEvents(client, lastDays)
  apps = [
    ['two connections', await startAnalytics(db.url)],
    ['a pool of one: parts one after the other', await startAnalytics(db.url, { PG_POOL_SIZE: '1' })],
  ]
})

after(async () => {
  for (const [, app] of apps) await app.close()
  await client?.end()
  await db?.drop()
})

async function check(app: FastifyInstance): Promise<void> {
  const body = await get<{ providers: Record<string, unknown>[] }>(app, `/v1/ranking/providers?${range}`)
  const byId = new Map(body.providers.map((p) => [String(p.providerId), p]))
  assert.deepEqual([...byId.keys()].sort(), ['p1', 'p2'])
  for (const id of ['p1', 'p2'] as const) {
    const p = byId.get(id)!
    const { averageRating, ...rest } = expected[id]
    const { impressions, clicks, jobsResponded, bids, wins, completionRate, medianResponseSeconds, ratings } = p
    assert.deepEqual({ impressions, clicks, jobsResponded, bids, wins, completionRate, medianResponseSeconds, ratings }, rest, id)
    assert.ok(Math.abs((p.averageRating as number) - averageRating) < 1e-12, `${id} average rating ${String(p.averageRating)}`)
  }
}

for (const state of ['half folded', 'all folded']) {
  describe(state, () => {
    before(async () => {
      if (state === 'all folded') await fold(client)
    })
    test('a four-day ranking, counted in two parts, adds the parts up and takes medians over both', async () => {
      for (const [name, app] of apps) {
        await check(app).catch((err: Error) => {
          err.message = `${name}: ${err.message}`
          throw err
        })
      }
    })
  })
}
