import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { testLogger } from '@sluice/testkit/env'
import { rebuildRollups } from '../src/rollups-rebuild.js'

/*
 * rollups:rebuild recomputes exactly what the trigger maintained, repairs damaged
 * rollups, picks up rows written with triggers off, and runs while events keep coming.
 */

// Random engagement and marketplace events over ten days, one statement per batch (the
// way the worker inserts), with a share of re-sent ones.
const BATCH = `
INSERT INTO events (source, event_id, event_type, funnel_stage, occurred_at, received_at, user_id, country, city,
                    campaign_id, provider_id, job_id, category, revenue, currency, data)
SELECT src, $1 || '-' || (g % $3), typ, CASE WHEN src IN ('facebook', 'tiktok') THEN (ARRAY['top', 'bottom'])[1 + (random() < 0.3)::int] END,
       ts, ts, CASE WHEN random() < 0.95 THEN 'u' || floor(random() * 300)::int END,
       (ARRAY['US', 'GB', 'DE', NULL])[1 + floor(random() * 4)::int], (ARRAY['A', 'B', NULL])[1 + floor(random() * 3)::int],
       CASE WHEN src = 'facebook' AND random() < 0.3 THEN 'c' || floor(random() * 5)::int END,
       CASE WHEN src = 'marketplace' THEN 'p' || floor(random() * 8)::int END,
       CASE WHEN src = 'marketplace' AND typ NOT LIKE 'provider.%' THEN 'j' || floor(random() * 60)::int END,
       CASE WHEN src = 'marketplace' THEN (ARRAY['plumbing', 'electrical'])[1 + floor(random() * 2)::int] END,
       CASE WHEN typ IN ('purchase', 'checkout.complete', 'payment.captured') THEN round((random() * 100)::numeric, 2) END,
       CASE WHEN typ IN ('purchase', 'checkout.complete', 'payment.captured') THEN 'USD' END,
       CASE WHEN typ = 'feedback.submitted' THEN jsonb_build_object('rating', 1 + floor(random() * 5)::int) ELSE '{}' END
FROM generate_series(1, $2) AS g,
LATERAL (SELECT (ARRAY['facebook', 'tiktok', 'web', 'marketplace'])[1 + floor(random() * 4)::int] AS src, g AS dummy) s,
LATERAL (SELECT CASE src
  WHEN 'facebook' THEN (ARRAY['ad.view', 'ad.click', 'checkout.complete'])[1 + floor(random() * 3)::int]
  WHEN 'tiktok' THEN (ARRAY['video.view', 'purchase'])[1 + floor(random() * 2)::int]
  WHEN 'web' THEN 'page_view'
  ELSE (ARRAY['job.posted', 'bid.placed', 'quote.sent', 'job.assigned', 'job.completed', 'job.cancelled', 'payment.captured',
              'feedback.submitted', 'provider.impression', 'provider.click'])[1 + floor(random() * 10)::int] END AS typ,
  timestamptz '2026-11-01 00:00Z' + random() * interval '10 days' + g * interval '0 s' AS ts) t
ON CONFLICT (source, event_id) DO NOTHING`

// Every rollup row as text, per table.
const SNAPSHOT = `
SELECT 'rollup_events' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS digest, count(*) AS n FROM rollup_events x
UNION ALL SELECT 'rollup_geo', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_geo x
UNION ALL SELECT 'rollup_campaigns', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_campaigns x
UNION ALL SELECT 'rollup_revenue', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_revenue x
UNION ALL SELECT 'rollup_user_revenue', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_user_revenue x
UNION ALL SELECT 'rollup_providers', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_providers x
UNION ALL SELECT 'rollup_users_daily', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_users_daily x
UNION ALL SELECT 'rollup_stage_users_daily', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_stage_users_daily x
UNION ALL SELECT 'rollup_place_users_daily', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_place_users_daily x
UNION ALL SELECT 'rollup_users_hourly', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_users_hourly x
UNION ALL SELECT 'rollup_users_hour_totals', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_users_hour_totals x
UNION ALL SELECT 'rollup_top_users', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM rollup_top_users x
UNION ALL SELECT 'mp_jobs', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM mp_jobs x
UNION ALL SELECT 'mp_job_providers', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')), count(*) FROM mp_job_providers x
UNION ALL SELECT 'pending', (
  (SELECT count(*) FROM rollup_events_pending) + (SELECT count(*) FROM rollup_geo_pending) + (SELECT count(*) FROM rollup_users_pending)
  + (SELECT count(*) FROM rollup_user_weeks_pending) + (SELECT count(*) FROM mp_jobs_pending)
  + (SELECT count(*) FROM rollup_user_revenue_pending))::text, 0`

let db: TestDatabase
let client: pg.Client
const log = testLogger('rollups')
let batches = 0

async function insertBatch(c: pg.ClientBase, rows = 400): Promise<void> {
  await c.query(BATCH, [`b${batches++}`, rows, rows - 20])
}

async function snapshot(): Promise<Record<string, string>> {
  const { rows } = await client.query<{ t: string; digest: string; n: string }>(SNAPSHOT)
  return Object.fromEntries(rows.map((r) => [r.t, `${r.n}:${r.digest}`]))
}

async function foldAll(): Promise<void> {
  await client.query('SELECT rollups_fold()')
}

before(async () => {
  db = await createTestDatabase()
  client = new pg.Client({ connectionString: db.url })
  await client.connect()
  for (let i = 0; i < 8; i++) await insertBatch(client)
  // The same ids again: the trigger only sees what the statement really inserted.
  await client.query(BATCH, ['b0', 400, 380])
  await foldAll()
})

after(async () => {
  await client?.end()
  await db?.drop()
})

test('a rebuild reproduces the rollups the trigger maintained', async () => {
  const maintained = await snapshot()
  assert.ok(Number(maintained.rollup_events!.split(':')[0]) > 100, 'there is something to compare')
  assert.ok(Number(maintained.rollup_user_revenue!.split(':')[0]) > 100, 'there is revenue per user to compare')
  const result = await rebuildRollups(db.url, log)
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM events')
  assert.equal(result.events, Number(rows[0]!.n))
  assert.deepEqual(await snapshot(), maintained)
  // The rewritten rollup tables are vacuumed and analysed, not left half dead tuples.
  const { rows: unvacuumed } = await client.query<{ relname: string }>(
    `SELECT relname FROM pg_stat_user_tables WHERE relname IN ('rollup_events', 'rollup_users_daily', 'mp_jobs', 'user_keys') AND (last_vacuum IS NULL OR last_analyze IS NULL)`,
  )
  assert.deepEqual(unvacuumed, [])
})

test('a rebuild repairs damaged rollups', async () => {
  const good = await snapshot()
  await client.query(`UPDATE rollup_events SET events = events + 1 WHERE ctid = (SELECT min(ctid) FROM rollup_events)`)
  await client.query(`DELETE FROM rollup_users_daily WHERE ctid = (SELECT min(ctid) FROM rollup_users_daily)`)
  await client.query(`UPDATE mp_jobs SET bids = bids + 5`)
  await client.query(`UPDATE rollup_user_revenue SET revenue = revenue + 1 WHERE ctid = (SELECT min(ctid) FROM rollup_user_revenue)`)
  assert.notDeepEqual(await snapshot(), good)
  await rebuildRollups(db.url, log)
  assert.deepEqual(await snapshot(), good)
})

test('a rebuild counts rows written with triggers off', async () => {
  await client.query('SET session_replication_role = replica')
  await insertBatch(client, 200)
  await client.query('RESET session_replication_role')
  await rebuildRollups(db.url, log)
  const { rows } = await client.query<{ rolled: string; events: string; users: string; bitmap_users: string; user_revenue: string; revenue: string }>(`
    SELECT (SELECT sum(events) FROM rollup_events WHERE level = 'd') AS rolled, (SELECT count(*) FROM events) AS events,
           (SELECT sum(revenue) FROM rollup_user_revenue WHERE level = 'd') AS user_revenue,
           (SELECT sum(revenue) FROM events WHERE user_id IS NOT NULL) AS revenue,
           (SELECT count(DISTINCT user_id) FROM events) AS users,
           (SELECT sum(bit_count(bits)) FROM (SELECT bit_or(bits) AS bits FROM rollup_users_daily WHERE source = '*' GROUP BY chunk) x) AS bitmap_users`)
  assert.equal(rows[0]!.rolled, rows[0]!.events)
  assert.equal(rows[0]!.bitmap_users, rows[0]!.users)
  assert.equal(rows[0]!.user_revenue, rows[0]!.revenue)
})

test('a rebuild runs while events keep arriving; nothing is lost or counted twice', async () => {
  const writer = new pg.Client({ connectionString: db.url })
  await writer.connect()
  try {
    let writing = true
    const writes = (async () => {
      let n = 0
      while (writing || n < 5) {
        await writer.query('BEGIN')
        await insertBatch(writer, 300)
        await writer.query('COMMIT')
        n++
      }
      return n
    })()
    await new Promise((r) => setTimeout(r, 50))
    await rebuildRollups(db.url, log)
    writing = false
    assert.ok((await writes) >= 5)
  } finally {
    await writer.end()
  }
  await foldAll()
  const afterIngestion = await snapshot()
  await rebuildRollups(db.url, log)
  assert.deepEqual(afterIngestion, await snapshot())
})
