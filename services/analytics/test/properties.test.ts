import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, get, holdDeltas, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * Every answer served from rollups equals the same answer computed from `events` alone,
 * on random data, random ranges (whole days, whole hours and arbitrary instants) and
 * random source filters; with deltas pending, half folded, and folded.
 */

// A failing assertion names its seed: put it here to replay that run.
const SEED = Math.floor(Math.random() * 2 ** 31)
function mulberry32(seed: number) {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = mulberry32(SEED)
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
const chance = (p: number) => random() < p

const T0 = Date.UTC(2026, 9, 27) // a Tuesday: weeks and days do not line up with the data
const SPAN = 12 * 86_400_000
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'BR'] as const
const CITIES: Record<string, readonly string[]> = { US: ['NYC', 'Boston'], GB: ['London', 'Leeds'], DE: ['Berlin'], FR: ['Paris'], BR: ['Rio'] }
const TYPES: Record<'facebook' | 'tiktok' | 'web', readonly (readonly [string, string | null])[]> = {
  facebook: [['ad.view', 'top'], ['page.like', 'top'], ['ad.click', 'bottom'], ['checkout.complete', 'bottom'], ['form.submission', 'bottom']],
  tiktok: [['video.view', 'top'], ['like', 'top'], ['purchase', 'bottom'], ['follow', 'bottom']],
  web: [['page_view', null], ['signup', null]],
}

let n = 0
function engagement(): TestEvent {
  const source = pick(['facebook', 'facebook', 'tiktok', 'web'] as const)
  const [type, stage] = pick(TYPES[source])
  const country = chance(0.85) ? pick(COUNTRIES) : undefined
  const user = chance(0.93) ? `${source === 'web' ? 'w' : ''}u${Math.floor(random() ** 2 * 150)}` : undefined
  const money = type === 'checkout.complete' || type === 'purchase' || (source === 'web' && chance(0.02))
  return {
    source,
    id: `e${++n}`,
    type,
    at: new Date(T0 + Math.floor(random() * SPAN)).toISOString(),
    ...(stage ? { stage } : {}),
    ...(user ? { user } : {}),
    ...(country ? { country, ...(chance(0.8) ? { city: pick(CITIES[country]!) } : {}) } : {}),
    ...(source === 'facebook' && stage === 'bottom' ? { campaign: `c${Math.floor(random() * 6)}` } : {}),
    ...(money ? { revenue: (Math.floor(random() * 20000) / 100).toFixed(2), currency: pick(['USD', 'EUR']) } : {}),
  }
}

function job(j: number): TestEvent[] {
  const posted = T0 + Math.floor(random() * SPAN)
  const at = (offsetMinutes: number) => new Date(posted + offsetMinutes * 60_000).toISOString()
  const category = pick(['plumbing', 'electrical', 'carpentry'])
  const city = pick(['Leeds', 'York', 'Hull'])
  const job = `j${j}`
  const out: TestEvent[] = [{ source: 'marketplace', id: `p${j}`, type: 'job.posted', at: at(0), job, category, city, user: `c${j % 40}` }]
  const providers = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].filter(() => chance(0.35))
  providers.forEach((provider, i) => {
    out.push({ source: 'marketplace', id: `b${j}-${i}`, type: chance(0.8) ? 'bid.placed' : 'quote.sent', at: at(5 + Math.floor(random() * 600)), job, provider })
    if (chance(0.3)) out.push({ source: 'marketplace', id: `b${j}-${i}x`, type: 'bid.placed', at: at(700), job, provider })
  })
  if (providers.length > 0 && chance(0.6)) {
    const provider = pick(providers)
    out.push({ source: 'marketplace', id: `a${j}`, type: 'job.assigned', at: at(800), job, provider })
    if (chance(0.7)) {
      out.push({ source: 'marketplace', id: `d${j}`, type: 'job.completed', at: at(2000), job, provider })
      out.push({ source: 'marketplace', id: `m${j}`, type: 'payment.captured', at: at(2010), job, provider, revenue: String(50 + j), currency: 'GBP' })
      out.push({ source: 'marketplace', id: `r${j}`, type: 'feedback.submitted', at: at(2100), job, provider, data: { rating: 1 + Math.floor(random() * 5) } })
    }
  } else if (chance(0.3)) {
    out.push({ source: 'marketplace', id: `x${j}`, type: 'job.cancelled', at: at(900), job })
  }
  return out
}

function searches(count: number): TestEvent[] {
  return Array.from({ length: count }, () => ({
    source: 'marketplace',
    id: `s${++n}`,
    type: chance(0.85) ? 'provider.impression' : 'provider.click',
    at: new Date(T0 + Math.floor(random() * SPAN)).toISOString(),
    provider: pick(['p1', 'p2', 'p3', 'p4', 'p5', 'p6']),
    ...(chance(0.8) ? { category: pick(['plumbing', 'electrical', 'carpentry']) } : {}),
    ...(chance(0.8) ? { city: pick(['Leeds', 'York', 'Hull']) } : {}),
  }))
}

function batch(): TestEvent[] {
  const events = Array.from({ length: 250 }, engagement)
  for (let i = 0; i < 6; i++) events.push(...job(++n))
  events.push(...searches(40))
  // Some re-sent events: the same (source, event id) again.
  return events.concat(events.filter(() => chance(0.05)))
}

function randomInstant(): number {
  const ms = T0 - 86_400_000 + Math.floor(random() * (SPAN + 2 * 86_400_000))
  const kind = random()
  if (kind < 0.35) return ms - (ms % 86_400_000)
  if (kind < 0.7) return ms - (ms % 3_600_000)
  return ms
}

function randomRange(): { from: string; to: string; source: string | null; query: string } {
  let a = randomInstant()
  let b = randomInstant()
  while (a === b) b = randomInstant()
  if (a > b) [a, b] = [b, a]
  const source = chance(0.35) ? pick(['facebook', 'tiktok', 'web', 'marketplace']) : null
  const from = new Date(a).toISOString()
  const to = new Date(b).toISOString()
  return { from, to, source, query: `from=${from}&to=${to}${source ? `&source=${source}` : ''}` }
}

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await holdDeltas(client)
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

async function truth<T>(sql: string, params: unknown[]): Promise<T[]> {
  return (await client.query(sql, params)).rows as T[]
}

const money = (v: string | null) => (v === null ? 0 : Number(v))
const byKey = <T>(rows: T[], key: (r: T) => string) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))

const RANGE = `occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)`

async function checkRange(r: ReturnType<typeof randomRange>) {
  const where = `seed ${SEED}, ${r.query}`
  const params = [r.from, r.to, r.source]

  // Overview
  const overview = await get<Record<string, unknown>>(app, `/v1/stats/overview?${r.query}`)
  const [total] = await truth<{ events: string; users: string; revenue: string | null }>(
    `SELECT count(*) AS events, count(DISTINCT user_id) AS users, sum(revenue) AS revenue FROM events WHERE ${RANGE}`,
    params,
  )
  assert.equal(overview.events, Number(total!.events), where)
  assert.equal(overview.uniqueUsers, Number(total!.users), where)
  assert.equal(overview.revenue, money(total!.revenue), where)
  const bySource = await truth<{ source: string; events: string; users: string; revenue: string | null }>(
    `SELECT source, count(*) AS events, count(DISTINCT user_id) AS users, sum(revenue) AS revenue FROM events WHERE ${RANGE} GROUP BY 1`,
    params,
  )
  assert.deepEqual(
    byKey(overview.bySource as { source: string }[], (x) => x.source),
    byKey(bySource, (x) => x.source).map((x) => ({ source: x.source, events: Number(x.events), uniqueUsers: Number(x.users), revenue: money(x.revenue) })),
    where,
  )
  const byType = await truth<{ k: string; events: string; revenue: string | null }>(
    `SELECT event_type AS k, count(*) AS events, sum(revenue) AS revenue FROM events WHERE ${RANGE} GROUP BY 1`,
    params,
  )
  assert.deepEqual(
    byKey(overview.byEventType as { eventType: string }[], (x) => x.eventType),
    byKey(byType, (x) => x.k).map((x) => ({ eventType: x.k, events: Number(x.events), revenue: money(x.revenue) })),
    where,
  )
  const byStage = await truth<{ k: string | null; events: string; revenue: string | null }>(
    `SELECT funnel_stage AS k, count(*) AS events, sum(revenue) AS revenue FROM events WHERE ${RANGE} GROUP BY 1`,
    params,
  )
  assert.deepEqual(
    byKey(overview.byFunnelStage as { funnelStage: string | null }[], (x) => String(x.funnelStage)),
    byKey(byStage, (x) => String(x.k)).map((x) => ({ funnelStage: x.k, events: Number(x.events), revenue: money(x.revenue) })),
    where,
  )

  // Time series: days always, hours for ranges up to 4 days, and by event type
  const span = Date.parse(r.to) - Date.parse(r.from)
  for (const [interval, stride, extra] of [
    ['day', '1 day', ''],
    ...(span <= 4 * 86_400_000 ? [['hour', '1 hour', ''], ['hour', '1 hour', '&eventType=ad.view']] : []),
    ['day', '1 day', '&eventType=ad.view'],
    ['day', '1 day', '&funnelStage=bottom'],
  ] as const) {
    const series = await get<{ buckets: { start: string; events: number; uniqueUsers: number; revenue: number }[] }>(
      app,
      `/v1/stats/timeseries?${r.query}&interval=${interval}${extra}`,
    )
    const filter = extra.includes('eventType') ? `AND event_type = 'ad.view'` : extra.includes('funnelStage') ? `AND funnel_stage = 'bottom'` : ''
    const rows = await truth<{ b: Date; events: string; users: string; revenue: string | null }>(
      `SELECT date_bin('${stride}', occurred_at, '2000-01-03Z') AS b, count(*) AS events, count(DISTINCT user_id) AS users, sum(revenue) AS revenue
       FROM events WHERE ${RANGE} ${filter} GROUP BY 1`,
      params,
    )
    const expected = new Map(rows.map((x) => [x.b.toISOString(), x]))
    for (const b of series.buckets) {
      const x = expected.get(b.start)
      expected.delete(b.start)
      assert.deepEqual(
        [b.events, b.uniqueUsers, b.revenue],
        [Number(x?.events ?? 0), Number(x?.users ?? 0), money(x?.revenue ?? null)],
        `${where} ${interval}${extra} ${b.start}`,
      )
    }
    assert.equal(expected.size, 0, `${where}: every bucket with events is in the series`)
  }

  // Funnel stages
  const stages = await get<{ sources: { source: string; stages: { funnelStage: string; events: number; uniqueUsers: number }[]; reachedBottom: number; topUsers: number }[] }>(
    app,
    `/v1/funnel/stages?${r.query}`,
  )
  const stageRows = await truth<{ source: string; stage: string; events: string; users: string }>(
    `SELECT source, funnel_stage AS stage, count(*) AS events, count(DISTINCT user_id) AS users FROM events WHERE ${RANGE} AND funnel_stage IS NOT NULL GROUP BY 1, 2`,
    params,
  )
  assert.deepEqual(
    byKey(stages.sources.flatMap((s) => s.stages.map((st) => ({ source: s.source, ...st }))), (x) => `${x.source}/${x.funnelStage}`),
    byKey(stageRows, (x) => `${x.source}/${x.stage}`).map((x) => ({ source: x.source, funnelStage: x.stage, events: Number(x.events), uniqueUsers: Number(x.users) })),
    where,
  )
  const reached = await truth<{ source: string; users: string }>(
    `SELECT source, count(*) AS users FROM (
       SELECT source, user_id FROM events WHERE ${RANGE} AND funnel_stage = 'top' AND user_id IS NOT NULL
       INTERSECT SELECT source, user_id FROM events WHERE ${RANGE} AND funnel_stage = 'bottom'
     ) x GROUP BY 1`,
    params,
  )
  for (const s of stages.sources) assert.equal(s.reachedBottom, Number(reached.find((x) => x.source === s.source)?.users ?? 0), `${where} ${s.source}`)

  // Geo
  for (const level of ['country', 'city'] as const) {
    const geo = await get<{ places: { country: string | null; city?: string | null; events: number; uniqueUsers: number; revenue: number }[] }>(
      app,
      `/v1/geo?${r.query}&level=${level}&limit=10000`,
    )
    const rows = await truth<{ country: string | null; city: string | null; events: string; users: string; revenue: string | null }>(
      `SELECT country, ${level === 'city' ? 'city' : 'NULL::text'} AS city, count(*) AS events, count(DISTINCT user_id) AS users, sum(revenue) AS revenue
       FROM events WHERE ${RANGE} GROUP BY 1, 2`,
      params,
    )
    assert.deepEqual(
      byKey(geo.places, (x) => `${x.country}/${x.city}`),
      byKey(rows, (x) => `${x.country}/${level === 'city' ? x.city : undefined}`).map((x) => ({
        country: x.country,
        ...(level === 'city' ? { city: x.city } : {}),
        events: Number(x.events),
        uniqueUsers: Number(x.users),
        revenue: money(x.revenue),
      })),
      `${where} ${level}`,
    )
  }

  // Campaigns
  const campaigns = await get<{ campaigns: unknown[] }>(app, `/v1/campaigns/top?${r.query}&limit=1000`)
  const campaignRows = await truth<{ id: string; events: string; clicks: string; conversions: string; revenue: string | null }>(
    `SELECT campaign_id AS id, count(*) AS events, count(*) FILTER (WHERE event_type = 'ad.click') AS clicks,
            count(*) FILTER (WHERE event_type IN ('form.submission', 'checkout.complete', 'purchase')) AS conversions, sum(revenue) AS revenue
     FROM events WHERE ${RANGE} AND campaign_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1`,
    params,
  )
  assert.deepEqual(
    campaigns.campaigns,
    campaignRows.map((x) => ({
      campaignId: x.id,
      events: Number(x.events),
      clicks: Number(x.clicks),
      conversions: Number(x.conversions),
      revenue: money(x.revenue),
      conversionRate: Number(x.clicks) > 0 ? Number(x.conversions) / Number(x.clicks) : null,
    })),
    where,
  )

  // Top users
  for (const metric of ['events', 'revenue'] as const) {
    const top = await get<{ users: unknown[] }>(app, `/v1/users/top?${r.query}&metric=${metric}&limit=5`)
    const rows = await truth<{ u: string; events: string; revenue: string | null }>(
      `SELECT user_id AS u, count(*) AS events, sum(revenue) AS revenue FROM events WHERE ${RANGE} AND user_id IS NOT NULL GROUP BY 1
       ${metric === 'revenue' ? 'HAVING sum(revenue) > 0' : ''}
       ORDER BY ${metric === 'events' ? 'count(*)' : 'sum(revenue)'} DESC, user_id COLLATE "C" LIMIT 5`,
      params,
    )
    assert.deepEqual(top.users, rows.map((x) => ({ userId: x.u, events: Number(x.events), revenue: money(x.revenue) })), `${where} ${metric}`)
  }

  // Revenue
  for (const [groupBy, key] of [
    ['day', `to_char(date_bin('1 day', occurred_at, '2000-01-03Z') AT TIME ZONE 'UTC', 'YYYY-MM-DD')`],
    ['source', 'source'],
    ['campaign', 'campaign_id'],
    ['country', 'country'],
    ['currency', 'currency'],
  ] as const) {
    const body = await get<{ revenue: number; events: number; groups: { key: string | null }[] }>(app, `/v1/revenue?${r.query}&groupBy=${groupBy}`)
    const rows = await truth<{ k: string | null; events: string; revenue: string }>(
      `SELECT ${key} AS k, count(*) AS events, sum(revenue) AS revenue FROM events WHERE ${RANGE} AND revenue IS NOT NULL GROUP BY 1`,
      params,
    )
    assert.deepEqual(
      byKey(body.groups, (x) => String(x.key)),
      byKey(rows, (x) => String(x.k)).map((x) => ({ key: x.k, revenue: Number(x.revenue), events: Number(x.events) })),
      `${where} ${groupBy}`,
    )
    assert.equal(body.events, rows.reduce((a, x) => a + Number(x.events), 0), where)
  }

  // Marketplace: the jobs posted in the range, from their events
  const category = chance(0.5) ? pick(['plumbing', 'electrical']) : null
  const jobsSql = `
    WITH posted AS (
      SELECT DISTINCT ON (source, job_id) source, job_id, occurred_at AS posted_at, category, city
      FROM events WHERE event_type = 'job.posted' AND job_id IS NOT NULL ORDER BY source, job_id, occurred_at, event_id
    ),
    jobs AS (
      SELECT p.*,
        (SELECT min(occurred_at) FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'bid.placed') AS first_bid,
        (SELECT count(*) FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'bid.placed') AS bids,
        EXISTS (SELECT 1 FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'job.assigned') AS assigned,
        EXISTS (SELECT 1 FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'job.completed') AS completed,
        EXISTS (SELECT 1 FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'job.cancelled') AS cancelled,
        (SELECT coalesce(sum(revenue), 0) FROM events e WHERE e.source = p.source AND e.job_id = p.job_id AND e.event_type = 'payment.captured') AS gmv
      FROM posted p
      WHERE p.posted_at >= $1 AND p.posted_at < $2 AND ($3::text IS NULL OR p.source = $3) AND ($4::text IS NULL OR p.category = $4)
    )`
  const summary = await get<Record<string, unknown>>(app, `/v1/marketplace/summary?${r.query}${category ? `&category=${category}` : ''}`)
  const [s] = await truth<Record<string, string | number | null>>(
    `${jobsSql}
     SELECT count(*) AS posted, count(*) FILTER (WHERE bids > 0) AS with_bid, count(*) FILTER (WHERE assigned) AS assigned,
            count(*) FILTER (WHERE completed) AS completed, count(*) FILTER (WHERE cancelled) AS cancelled,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_bid - posted_at)) AS p50,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_bid - posted_at)) AS p90,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY bids) AS bids_p50, coalesce(sum(gmv), 0) AS gmv
     FROM jobs`,
    [...params, category],
  )
  assert.deepEqual(
    [summary.jobsPosted, summary.jobsWithBid, summary.jobsAssigned, summary.jobsCompleted, summary.jobsCancelled, summary.timeToFirstBid, summary.medianBidsPerJob, summary.gmv],
    [Number(s!.posted), Number(s!.with_bid), Number(s!.assigned), Number(s!.completed), Number(s!.cancelled), { medianSeconds: s!.p50, p90Seconds: s!.p90 }, s!.bids_p50, Number(s!.gmv)],
    `${where} ${category}`,
  )

  const ranking = await get<{ providers: Record<string, unknown>[] }>(app, `/v1/ranking/providers?${r.query}&limit=1000${category ? `&category=${category}` : ''}`)
  const providers = await truth<Record<string, string | number | null>>(
    `${jobsSql},
     signals AS (
       SELECT provider_id, count(*) FILTER (WHERE event_type = 'provider.impression') AS impressions, count(*) FILTER (WHERE event_type = 'provider.click') AS clicks
       FROM events WHERE ${RANGE} AND event_type IN ('provider.impression', 'provider.click') AND ($4::text IS NULL OR category = $4) GROUP BY 1
     ),
     responses AS (
       SELECT j.job_id, j.posted_at, e.provider_id,
              min(e.occurred_at) FILTER (WHERE e.event_type IN ('bid.placed', 'quote.sent')) AS first_response,
              count(*) FILTER (WHERE e.event_type = 'bid.placed') AS bids,
              count(*) FILTER (WHERE e.event_type IN ('bid.placed', 'quote.sent')) AS responses,
              bool_or(e.event_type = 'job.assigned') AS won, bool_or(e.event_type = 'job.completed') AS completed,
              sum((e.data->>'rating')::numeric) FILTER (WHERE e.event_type = 'feedback.submitted') AS rating_sum,
              count(*) FILTER (WHERE e.event_type = 'feedback.submitted') AS ratings
       FROM jobs j JOIN events e ON e.source = j.source AND e.job_id = j.job_id AND e.provider_id IS NOT NULL
       GROUP BY 1, 2, 3
     ),
     work AS (
       SELECT provider_id, count(*) FILTER (WHERE responses > 0) AS jobs, sum(bids) AS bids, count(*) FILTER (WHERE won) AS wins,
              count(*) FILTER (WHERE won AND completed) AS completed, sum(rating_sum) AS rating_sum, sum(ratings) AS ratings,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response - posted_at)) AS response
       FROM responses GROUP BY 1
     )
     SELECT coalesce(s.provider_id, w.provider_id) AS provider, coalesce(s.impressions, 0) AS impressions, coalesce(s.clicks, 0) AS clicks,
            coalesce(w.jobs, 0) AS jobs, coalesce(w.bids, 0) AS bids, coalesce(w.wins, 0) AS wins, coalesce(w.completed, 0) AS completed,
            w.rating_sum, coalesce(w.ratings, 0) AS ratings, w.response
     FROM signals s FULL JOIN work w ON w.provider_id = s.provider_id`,
    [...params, category],
  )
  assert.deepEqual(
    byKey(ranking.providers, (x) => String(x.providerId)).map((p) => [p.providerId, p.impressions, p.clicks, p.jobsResponded, p.bids, p.wins, p.medianResponseSeconds, p.averageRating]),
    byKey(providers, (x) => String(x.provider)).map((x) => [
      x.provider,
      Number(x.impressions),
      Number(x.clicks),
      Number(x.jobs),
      Number(x.bids),
      Number(x.wins),
      x.response,
      Number(x.ratings) > 0 ? Number(x.rating_sum) / Number(x.ratings) : null,
    ]),
    `${where} ${category}`,
  )
}

const RANGES_PER_STATE = 5

describe(`rollups equal events (seed ${SEED})`, () => {
  test('with every delta pending', async () => {
    for (let i = 0; i < 4; i++) await insertEvents(client, batch())
    for (let i = 0; i < RANGES_PER_STATE; i++) await checkRange(randomRange())
  })

  test('half folded: folded rows and newer deltas together', async () => {
    await fold(client)
    for (let i = 0; i < 4; i++) await insertEvents(client, batch())
    for (let i = 0; i < RANGES_PER_STATE; i++) await checkRange(randomRange())
  })

  test('a busy hour: chunks past 256 users turn from offsets into bitmaps', async () => {
    const hour = T0 + 5 * 86_400_000 + 7 * 3_600_000
    const burst = (from: number, to: number): TestEvent[] =>
      Array.from({ length: to - from }, (_, i) => ({
        source: i % 2 ? 'facebook' : 'tiktok',
        id: `burst-${from + i}`,
        type: 'ad.view',
        stage: 'top',
        at: new Date(hour + (from + i) * 1000).toISOString(),
        user: `burst-user-${from + i}`,
        country: 'FR',
        city: 'Paris',
      }))
    await insertEvents(client, burst(0, 200))
    await fold(client)
    await insertEvents(client, burst(200, 700))
    await fold(client)
    await insertEvents(client, burst(700, 760)) // pending on top of a bitmap chunk
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM rollup_users_hourly WHERE bits IS NOT NULL`)
    assert.ok(Number(rows[0]!.n) > 0, 'some hour chunk is a bitmap')
    for (const [a, b] of [
      [hour - 3_600_000 + 17 * 60_000, hour + 2 * 3_600_000],
      [hour - 7 * 3_600_000, hour + 17 * 3_600_000],
      [hour + 60_000, hour + 30 * 3_600_000 + 1234],
    ] as const) {
      for (const source of [null, 'facebook']) {
        const from = new Date(a).toISOString()
        const to = new Date(b).toISOString()
        await checkRange({ from, to, source, query: `from=${from}&to=${to}${source ? `&source=${source}` : ''}` })
      }
    }
  })

  test('with every delta folded', async () => {
    await fold(client)
    for (let i = 0; i < RANGES_PER_STATE; i++) await checkRange(randomRange())
    await checkRange({ from: new Date(T0 - 86_400_000).toISOString(), to: new Date(T0 + SPAN + 86_400_000).toISOString(), source: null, query: `from=${new Date(T0 - 86_400_000).toISOString()}&to=${new Date(T0 + SPAN + 86_400_000).toISOString()}` })
  })
})
