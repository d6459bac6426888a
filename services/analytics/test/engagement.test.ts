import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, get, holdDeltas, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * A hand-made publisher and web dataset; every expected number below is worked out from
 * these rows by hand. The same answers must come back whether the rollup deltas are still
 * pending or folded into hour and day rows.
 */
const events: TestEvent[] = [
  { source: 'facebook', id: 'f1', type: 'ad.view', stage: 'top', at: '2026-11-01T10:00:00Z', user: 'u1', country: 'US', city: 'NYC' },
  { source: 'facebook', id: 'f2', type: 'ad.click', stage: 'bottom', at: '2026-11-01T10:05:00Z', user: 'u1', country: 'US', city: 'NYC', campaign: 'cmp1' },
  { source: 'facebook', id: 'f3', type: 'checkout.complete', stage: 'bottom', at: '2026-11-01T11:00:00Z', user: 'u1', country: 'US', city: 'NYC', campaign: 'cmp1', revenue: '19.99', currency: 'USD' },
  { source: 'facebook', id: 'f4', type: 'ad.view', stage: 'top', at: '2026-11-02T09:00:00Z', user: 'u2', country: 'GB', city: 'London' },
  { source: 'facebook', id: 'f5', type: 'ad.click', stage: 'bottom', at: '2026-11-02T09:30:00Z', user: 'u2', country: 'GB', city: 'London', campaign: 'cmp2' },
  { source: 'facebook', id: 'f6', type: 'ad.view', stage: 'top', at: '2026-11-03T23:59:59Z', user: 'u3', country: 'US', city: 'Boston' },
  { source: 'tiktok', id: 't1', type: 'video.view', stage: 'top', at: '2026-11-01T12:00:00Z', user: 'u4', country: 'DE' },
  { source: 'tiktok', id: 't2', type: 'purchase', stage: 'bottom', at: '2026-11-02T12:00:00Z', user: 'u4', revenue: '0.1', currency: 'EUR' },
  { source: 'tiktok', id: 't3', type: 'purchase', stage: 'bottom', at: '2026-11-02T13:00:00Z', user: 'u4', revenue: '0.2', currency: 'EUR' },
  { source: 'tiktok', id: 't4', type: 'like', stage: 'top', at: '2026-11-03T08:00:00Z', user: 'u1', country: 'DE' },
  { source: 'web', id: 'w1', type: 'page_view', at: '2026-11-01T08:00:00Z' },
  { source: 'web', id: 'w2', type: 'page_view', at: '2026-11-02T08:00:00Z', user: 'u2' },
  // Outside [11-01, 11-04): the last millisecond before it, and its exclusive end.
  { source: 'web', id: 'w3', type: 'page_view', at: '2026-10-31T23:59:59.999Z', user: 'u9' },
  { source: 'web', id: 'w4', type: 'page_view', at: '2026-11-04T00:00:00Z', user: 'u9', revenue: '5' },
]

// Re-sent copies (same source and event id): stored once, counted once, whatever they carry.
const duplicates: TestEvent[] = [
  { ...events[2]!, revenue: '999', user: 'u7' },
  { ...events[7]!, revenue: '999' },
]

const range = 'from=2026-11-01T00:00:00Z&to=2026-11-04T00:00:00Z'

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await holdDeltas(client)
  // Three statements, as three worker batches would be.
  assert.equal(await insertEvents(client, events.slice(0, 6)), 6)
  assert.equal(await insertEvents(client, [...events.slice(6), duplicates[0]!]), 8)
  assert.equal(await insertEvents(client, duplicates), 0)
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

function checks(state: string) {
  describe(state, () => {
    test('overview: totals, by source, event type and funnel stage; duplicates count once; money is exact', async () => {
      const body = await get(app, `/v1/stats/overview?${range}`)
      assert.equal(body.events, 12)
      assert.equal(body.uniqueUsers, 4) // u1 u2 u3 u4 (u1 on two sources is one user)
      assert.equal(body.revenue, 20.29) // 19.99 + 0.1 + 0.2, not 20.290000000000003
      assert.deepEqual(body.bySource, [
        { source: 'facebook', events: 6, uniqueUsers: 3, revenue: 19.99 },
        { source: 'tiktok', events: 4, uniqueUsers: 2, revenue: 0.3 },
        { source: 'web', events: 2, uniqueUsers: 1, revenue: 0 },
      ])
      assert.deepEqual(body.byEventType, [
        { eventType: 'ad.view', events: 3, revenue: 0 },
        { eventType: 'ad.click', events: 2, revenue: 0 },
        { eventType: 'page_view', events: 2, revenue: 0 },
        { eventType: 'purchase', events: 2, revenue: 0.3 },
        { eventType: 'checkout.complete', events: 1, revenue: 19.99 },
        { eventType: 'like', events: 1, revenue: 0 },
        { eventType: 'video.view', events: 1, revenue: 0 },
      ])
      assert.deepEqual(body.byFunnelStage, [
        { funnelStage: 'bottom', events: 5, revenue: 20.29 },
        { funnelStage: 'top', events: 5, revenue: 0 },
        { funnelStage: null, events: 2, revenue: 0 },
      ])
    })

    test('overview filtered by source', async () => {
      const body = await get(app, `/v1/stats/overview?${range}&source=tiktok`)
      assert.equal(body.events, 4)
      assert.equal(body.uniqueUsers, 2)
      assert.equal(body.revenue, 0.3)
      assert.equal(body.source, 'tiktok')
    })

    test('overview of a range that is not whole days or hours', async () => {
      // [11-01 10:03, 11-02 12:30): f2 f3 t1 f4 f5 w2 t2 → users u1 u4 u2.
      const body = await get(app, '/v1/stats/overview?from=2026-11-01T10:03:00Z&to=2026-11-02T12:30:00Z')
      assert.equal(body.events, 7)
      assert.equal(body.uniqueUsers, 3)
      assert.equal(body.revenue, 20.09)
    })

    test('timeseries per day, every bucket present', async () => {
      const body = await get<{ buckets: unknown[] }>(app, `/v1/stats/timeseries?${range}&interval=day`)
      assert.deepEqual(body.buckets, [
        { start: '2026-11-01T00:00:00.000Z', events: 5, uniqueUsers: 2, revenue: 19.99 },
        { start: '2026-11-02T00:00:00.000Z', events: 5, uniqueUsers: 2, revenue: 0.3 },
        { start: '2026-11-03T00:00:00.000Z', events: 2, uniqueUsers: 2, revenue: 0 },
      ])
    })

    test('timeseries per hour, cut at both ends, zero-filled', async () => {
      const body = await get<{ buckets: unknown[] }>(app, '/v1/stats/timeseries?from=2026-11-01T10:03:00Z&to=2026-11-01T13:30:00Z&interval=hour')
      assert.deepEqual(body.buckets, [
        { start: '2026-11-01T10:00:00.000Z', events: 1, uniqueUsers: 1, revenue: 0 },
        { start: '2026-11-01T11:00:00.000Z', events: 1, uniqueUsers: 1, revenue: 19.99 },
        { start: '2026-11-01T12:00:00.000Z', events: 1, uniqueUsers: 1, revenue: 0 },
        { start: '2026-11-01T13:00:00.000Z', events: 0, uniqueUsers: 0, revenue: 0 },
      ])
    })

    test('timeseries per minute and filtered by event type and stage', async () => {
      const minutes = await get<{ buckets: { events: number }[] }>(app, '/v1/stats/timeseries?from=2026-11-01T10:00:00Z&to=2026-11-01T10:10:00Z&interval=minute')
      assert.deepEqual(
        minutes.buckets.map((b) => b.events),
        [1, 0, 0, 0, 0, 1, 0, 0, 0, 0],
      )
      const views = await get<{ buckets: { events: number; uniqueUsers: number }[] }>(app, `/v1/stats/timeseries?${range}&eventType=ad.view`)
      assert.deepEqual(views.buckets.map((b) => [b.events, b.uniqueUsers]), [[1, 1], [1, 1], [1, 1]])
      const bottom = await get<{ buckets: { events: number; uniqueUsers: number; revenue: number }[] }>(app, `/v1/stats/timeseries?${range}&funnelStage=bottom`)
      assert.deepEqual(bottom.buckets.map((b) => [b.events, b.uniqueUsers, b.revenue]), [[2, 1, 19.99], [3, 2, 0.3], [0, 0, 0]])
    })

    test('funnel stages: events and users per stage, top users who reached bottom', async () => {
      const body = await get(app, `/v1/funnel/stages?${range}`)
      assert.deepEqual(body.sources, [
        {
          source: 'facebook',
          stages: [
            { funnelStage: 'top', events: 3, uniqueUsers: 3 },
            { funnelStage: 'bottom', events: 3, uniqueUsers: 2 },
          ],
          topUsers: 3,
          reachedBottom: 2,
          conversion: 2 / 3,
        },
        {
          source: 'tiktok',
          stages: [
            { funnelStage: 'top', events: 2, uniqueUsers: 2 },
            { funnelStage: 'bottom', events: 2, uniqueUsers: 1 },
          ],
          topUsers: 2,
          reachedBottom: 1,
          conversion: 0.5,
        },
      ])
    })

    test('geo by country and by city', async () => {
      const countries = await get(app, `/v1/geo?${range}`)
      assert.deepEqual(countries.places, [
        { country: null, events: 4, uniqueUsers: 2, revenue: 0.3 },
        { country: 'US', events: 4, uniqueUsers: 2, revenue: 19.99 },
        { country: 'DE', events: 2, uniqueUsers: 2, revenue: 0 },
        { country: 'GB', events: 2, uniqueUsers: 1, revenue: 0 },
      ])
      const cities = await get(app, `/v1/geo?${range}&level=city&limit=4`)
      assert.deepEqual(cities.places, [
        { country: null, city: null, events: 4, uniqueUsers: 2, revenue: 0.3 },
        { country: 'US', city: 'NYC', events: 3, uniqueUsers: 1, revenue: 19.99 },
        { country: 'DE', city: null, events: 2, uniqueUsers: 2, revenue: 0 },
        { country: 'GB', city: 'London', events: 2, uniqueUsers: 1, revenue: 0 },
      ])
    })

    test('campaigns ranked by events and by conversions', async () => {
      const byEvents = await get(app, `/v1/campaigns/top?${range}`)
      assert.deepEqual(byEvents.campaigns, [
        { campaignId: 'cmp1', events: 2, clicks: 1, conversions: 1, revenue: 19.99, conversionRate: 1 },
        { campaignId: 'cmp2', events: 1, clicks: 1, conversions: 0, revenue: 0, conversionRate: 0 },
      ])
      const top = await get<{ campaigns: { campaignId: string }[] }>(app, `/v1/campaigns/top?${range}&metric=conversions&limit=1`)
      assert.deepEqual(top.campaigns.map((c) => c.campaignId), ['cmp1'])
    })

    test('top users by events and by revenue', async () => {
      const byEvents = await get(app, `/v1/users/top?${range}`)
      assert.deepEqual(byEvents.users, [
        { userId: 'u1', events: 4, revenue: 19.99 },
        { userId: 'u2', events: 3, revenue: 0 },
        { userId: 'u4', events: 3, revenue: 0.3 },
        { userId: 'u3', events: 1, revenue: 0 },
      ])
      const byRevenue = await get(app, `/v1/users/top?${range}&metric=revenue`)
      assert.deepEqual(byRevenue.users, [
        { userId: 'u1', events: 4, revenue: 19.99 },
        { userId: 'u4', events: 3, revenue: 0.3 },
      ])
    })

    test('revenue in total and grouped every way', async () => {
      const expect: Record<string, unknown[]> = {
        day: [
          { key: '2026-11-01', revenue: 19.99, events: 1 },
          { key: '2026-11-02', revenue: 0.3, events: 2 },
        ],
        source: [
          { key: 'facebook', revenue: 19.99, events: 1 },
          { key: 'tiktok', revenue: 0.3, events: 2 },
        ],
        campaign: [
          { key: 'cmp1', revenue: 19.99, events: 1 },
          { key: null, revenue: 0.3, events: 2 },
        ],
        country: [
          { key: 'US', revenue: 19.99, events: 1 },
          { key: null, revenue: 0.3, events: 2 },
        ],
        currency: [
          { key: 'USD', revenue: 19.99, events: 1 },
          { key: 'EUR', revenue: 0.3, events: 2 },
        ],
      }
      for (const [groupBy, groups] of Object.entries(expect)) {
        const body = await get(app, `/v1/revenue?${range}&groupBy=${groupBy}`)
        assert.equal(body.revenue, 20.29, groupBy)
        assert.equal(body.events, 3, groupBy)
        assert.deepEqual(body.groups, groups, groupBy)
      }
    })
  })
}

checks('with every delta pending')

describe('folding', () => {
  test('moves every delta into hour and day rows', async () => {
    await fold(client)
    const { rows } = await client.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM rollup_events_pending) + (SELECT count(*) FROM rollup_users_pending) + (SELECT count(*) FROM rollup_user_weeks_pending) AS n`,
    )
    assert.equal(rows[0]!.n, '0')
  })
})

checks('with every delta folded')
