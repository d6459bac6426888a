import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, get, holdDeltas, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * A day of a trades marketplace, answers worked by hand (README, marketplace):
 *   j1 plumbing/Leeds 10:00: bids p1 10:05, p2 10:15, p1 10:20; quote p3 10:30; assigned p1;
 *      completed p1; payment 230.00 GBP; feedback p1 5
 *   j2 electrical/Leeds 11:00: bid p2 11:30; cancelled
 *   j3 plumbing/York 12:00: nothing
 *   j4 posted the day before: bid and assignment of p1 today, not in the cohort
 *   j5 plumbing/Leeds 13:00, its bid (p3 13:20) stored before the job.posted: assigned p3; feedback p3 3
 * Search signals: p1 8 impressions / 2 clicks (plumbing, Leeds), p2 10 / 0 (electrical,
 * Leeds), p3 2 / 1 (plumbing, York).
 */
const D = '2026-11-12'
let n = 0
const mp = (type: string, at: string, fields: Partial<TestEvent> = {}): TestEvent => ({ source: 'marketplace', id: `mp-${++n}`, type, at: `${D}T${at}Z`, ...fields })

const impressions = (provider: string, count: number, clicks: number, category: string, city: string): TestEvent[] => [
  ...Array.from({ length: count }, (_, i) => mp('provider.impression', `09:${String(i).padStart(2, '0')}:00`, { provider, category, city, data: { providerId: provider, position: i } })),
  ...Array.from({ length: clicks }, (_, i) => mp('provider.click', `09:${String(30 + i).padStart(2, '0')}:00`, { provider, category, city })),
]

const firstBatch: TestEvent[] = [
  mp('bid.placed', '13:20:00', { job: 'j5', provider: 'p3' }), // before its job.posted arrives
  mp('job.posted', '10:00:00', { job: 'j1', category: 'plumbing', city: 'Leeds', user: 'cust1' }),
  mp('bid.placed', '10:05:00', { job: 'j1', provider: 'p1' }),
  mp('bid.placed', '10:15:00', { job: 'j1', provider: 'p2' }),
  mp('bid.placed', '10:20:00', { job: 'j1', provider: 'p1' }),
  mp('quote.sent', '10:30:00', { job: 'j1', provider: 'p3' }),
  mp('job.assigned', '11:00:00', { job: 'j1', provider: 'p1' }),
]
const secondBatch: TestEvent[] = [
  mp('job.completed', '12:00:00', { job: 'j1', provider: 'p1' }),
  mp('payment.captured', '12:05:00', { job: 'j1', provider: 'p1', revenue: '230.00', currency: 'GBP' }),
  mp('feedback.submitted', '12:10:00', { job: 'j1', provider: 'p1', data: { rating: 5 } }),
  mp('job.posted', '11:00:00', { job: 'j2', category: 'electrical', city: 'Leeds' }),
  mp('bid.placed', '11:30:00', { job: 'j2', provider: 'p2' }),
  mp('job.cancelled', '13:00:00', { job: 'j2' }),
  mp('job.posted', '12:00:00', { job: 'j3', category: 'plumbing', city: 'York' }),
  { source: 'marketplace', id: 'j4-posted', type: 'job.posted', at: '2026-11-11T09:00:00Z', job: 'j4', category: 'plumbing', city: 'Leeds' },
  mp('bid.placed', '08:00:00', { job: 'j4', provider: 'p1' }),
  mp('job.assigned', '08:30:00', { job: 'j4', provider: 'p1' }),
  mp('job.posted', '13:00:00', { job: 'j5', category: 'plumbing', city: 'Leeds' }),
  mp('job.assigned', '14:00:00', { job: 'j5', provider: 'p3' }),
  mp('feedback.submitted', '15:00:00', { job: 'j5', provider: 'p3', data: { rating: '3' } }),
  mp('feedback.submitted', '15:01:00', { job: 'j5', provider: 'p3', data: { rating: 'great' } }), // not a rating: ignored
  ...impressions('p1', 8, 2, 'plumbing', 'Leeds'),
  ...impressions('p2', 10, 0, 'electrical', 'Leeds'),
  ...impressions('p3', 2, 1, 'plumbing', 'York'),
]

const range = `from=${D}T00:00:00Z&to=2026-11-13T00:00:00Z`

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await holdDeltas(client)
  await insertEvents(client, firstBatch)
  await insertEvents(client, secondBatch)
  await insertEvents(client, firstBatch) // redelivered: nothing new
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

function checks(state: string) {
  describe(state, () => {
    test('summary of the jobs posted in the range', async () => {
      const body = await get(app, `/v1/marketplace/summary?${range}`)
      assert.deepEqual(
        { ...body, from: undefined, to: undefined },
        {
          from: undefined,
          to: undefined,
          source: null,
          category: null,
          city: null,
          jobsPosted: 4,
          jobsWithBid: 3,
          jobsAssigned: 2,
          jobsCompleted: 1,
          jobsCancelled: 1,
          fillRate: 0.5,
          timeToFirstBid: { medianSeconds: 1200, p90Seconds: 1680 }, // 300, 1200, 1800
          medianBidsPerJob: 1, // 0, 1, 1, 3
          gmv: 230,
          payments: 1,
        },
      )
    })

    test('summary filtered by category and by city', async () => {
      const plumbing = await get(app, `/v1/marketplace/summary?${range}&category=plumbing`)
      assert.equal(plumbing.jobsPosted, 3)
      assert.equal(plumbing.jobsWithBid, 2)
      assert.equal(plumbing.fillRate, 2 / 3)
      assert.deepEqual(plumbing.timeToFirstBid, { medianSeconds: 750, p90Seconds: 1110 })
      const york = await get(app, `/v1/marketplace/summary?${range}&city=York`)
      assert.equal(york.jobsPosted, 1)
      assert.equal(york.jobsWithBid, 0)
      assert.deepEqual(york.timeToFirstBid, { medianSeconds: null, p90Seconds: null })
      assert.equal(york.medianBidsPerJob, 0)
      assert.equal(york.gmv, 0)
    })

    test('provider ranking: signals, smoothed CTR and the default score', async () => {
      const body = await get<{ providers: Record<string, unknown>[] }>(app, `/v1/ranking/providers?${range}`)
      const [p1, p3, p2] = body.providers
      assert.deepEqual(
        body.providers.map((p) => p.providerId),
        ['p1', 'p3', 'p2'],
      )
      assert.deepEqual(
        { ...p1, score: undefined },
        {
          providerId: 'p1', score: undefined, impressions: 8, clicks: 2, ctr: 0.25, smoothedCtr: 3 / 28, jobsResponded: 1, bids: 2,
          wins: 1, winRate: 1, medianResponseSeconds: 300, completionRate: 1, averageRating: 5, ratings: 1,
        },
      )
      assert.deepEqual(
        { ...p3, score: undefined },
        {
          providerId: 'p3', score: undefined, impressions: 2, clicks: 1, ctr: 0.5, smoothedCtr: 2 / 22, jobsResponded: 2, bids: 1,
          wins: 1, winRate: 0.5, medianResponseSeconds: 1500, completionRate: 0, averageRating: 3, ratings: 1,
        },
      )
      assert.deepEqual(
        { ...p2, score: undefined },
        {
          providerId: 'p2', score: undefined, impressions: 10, clicks: 0, ctr: 0, smoothedCtr: 1 / 30, jobsResponded: 2, bids: 2,
          wins: 0, winRate: 0, medianResponseSeconds: 1350, completionRate: null, averageRating: null, ratings: 0,
        },
      )
      const close = (a: unknown, b: number) => assert.ok(Math.abs((a as number) - b) < 1e-9, `${String(a)} ≈ ${b}`)
      close(p1!.score, 0.3 + 0.2 + 0.2 + 0.2 + 0.1 * (3600 / 3900))
      close(p3!.score, 0.3 * (2 / 22 / (3 / 28)) + 0.2 * 0.5 + 0.2 * 0.5 + 0.1 * (3600 / 5100))
      close(p2!.score, 0.3 * (1 / 30 / (3 / 28)) + 0.1 * (3600 / 4950))
    })

    test('weights and the prior can be passed per request', async () => {
      const ctrOnly = await get<{ providers: { providerId: string; score: number }[]; weights: unknown }>(
        app,
        `/v1/ranking/providers?${range}&w.ctr=1&w.winRate=0&w.completion=0&w.rating=0&w.response=0&prior.alpha=1&prior.beta=1`,
      )
      assert.deepEqual(ctrOnly.weights, { ctr: 1, winRate: 0, completion: 0, rating: 0, response: 0 })
      // Beta(1, 1): p3 2/4, p1 3/10, p2 1/12.
      assert.deepEqual(ctrOnly.providers.map((p) => p.providerId), ['p3', 'p1', 'p2'])
      assert.equal(ctrOnly.providers[0]!.score, 1)
    })

    test('ranking filtered by category uses the search category and the job category', async () => {
      const body = await get<{ providers: Record<string, unknown>[] }>(app, `/v1/ranking/providers?${range}&category=plumbing`)
      const p2 = body.providers.find((p) => p.providerId === 'p2')!
      assert.equal(p2.impressions, 0) // its searches were electrical
      assert.equal(p2.jobsResponded, 1) // j1 only
      assert.equal(p2.medianResponseSeconds, 900)
    })
  })
}

checks('with every delta pending')

describe('after folding', () => {
  test('fold', async () => {
    await fold(client)
  })
})

checks('with every delta folded')

test('bad parameters are 400s naming them', async () => {
  for (const [query, path] of [
    ['w.ctr=-1', '/querystring/w.ctr'],
    ['w.ctr=0&w.winRate=0&w.completion=0&w.rating=0&w.response=0', '/querystring/w.ctr'],
    ['prior.alpha=0', '/querystring/prior.alpha'],
    ['limit=0', '/querystring/limit'],
    ['weights=1', '/querystring/weights'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/v1/ranking/providers?${range}&${query}` })
    assert.equal(res.statusCode, 400, query)
    assert.ok(res.json<{ errors: { path: string }[] }>().errors.some((e) => e.path === path), `${query}: ${res.body}`)
  }
})
