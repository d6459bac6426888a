import { withClient, type Pool, type PoolClient } from '@sluice/kit/pg'
import { DAY_MS, middleCut, splitParams, splitRange } from '../range.js'
import { withSnapshotReaders } from './readers.js'

/*
 * Marketplace figures describe the jobs posted in the range (a cohort): a job posted on
 * the 3rd that is completed on the 9th counts as completed in a range holding the 3rd.
 * A job's row is mp_jobs plus its deltas not folded yet (db/migrations/0021), merged the
 * way the fold merges them.
 */

/**
 * The CTEs up to `jobs`: the jobs posted in [from, to) with the filters. A job without
 * pending deltas is its mp_jobs row as it is; the few with deltas are merged with them
 * the way the fold would merge them. `materialized`: for a query that reads `jobs` more
 * than once; one that reads it once lets the planner inline it (the summary: a third
 * faster than writing 18,000 jobs to a tuplestore and reading them back).
 */
function jobsCte($: { from: string; to: string; source: string; category: string; city: string; materialized: boolean }): string {
  return `
pending AS MATERIALIZED (
  SELECT * FROM mp_jobs_pending WHERE ${$.source}::text IS NULL OR source = ${$.source}
),
merged AS (
  SELECT source, job_id,
         min(posted_at) AS posted_at,
         (array_agg(category ORDER BY posted_at, posted_event_id) FILTER (WHERE posted_at IS NOT NULL))[1] AS category,
         (array_agg(city ORDER BY posted_at, posted_event_id) FILTER (WHERE posted_at IS NOT NULL))[1] AS city,
         min(first_bid_at) AS first_bid_at, sum(bids) AS bids, sum(quotes) AS quotes,
         min(assigned_at) AS assigned_at, min(completed_at) AS completed_at, min(cancelled_at) AS cancelled_at,
         sum(gmv) AS gmv, sum(payments) AS payments
  FROM (
    SELECT j.* FROM mp_jobs j WHERE EXISTS (SELECT 1 FROM pending p WHERE p.source = j.source AND p.job_id = j.job_id)
    UNION ALL
    SELECT * FROM pending
  ) parts
  GROUP BY 1, 2
),
jobs AS ${$.materialized ? 'MATERIALIZED ' : ''}(
  SELECT source, job_id, posted_at, category, city, first_bid_at, bids, quotes, assigned_at, completed_at, cancelled_at, gmv, payments
  FROM mp_jobs j
  WHERE j.posted_at >= ${$.from} AND j.posted_at < ${$.to}
    AND (${$.source}::text IS NULL OR j.source = ${$.source})
    AND (${$.category}::text IS NULL OR j.category = ${$.category}) AND (${$.city}::text IS NULL OR j.city = ${$.city})
    AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.source = j.source AND p.job_id = j.job_id)
  UNION ALL
  SELECT * FROM merged
  WHERE posted_at >= ${$.from} AND posted_at < ${$.to}
    AND (${$.category}::text IS NULL OR category = ${$.category}) AND (${$.city}::text IS NULL OR city = ${$.city})
)`
}

export interface SummaryRow {
  posted: string
  with_bid: string
  assigned: string
  completed: string
  cancelled: string
  first_bid_p50: number | null
  first_bid_p90: number | null
  bids_p50: number | null
  gmv: string
  payments: string
}

// $1 from, $2 to, $3 source or null, $4 category or null, $5 city or null.
const SUMMARY = `
WITH ${jobsCte({ from: '$1', to: '$2', source: '$3', category: '$4', city: '$5', materialized: false })}
SELECT count(*) AS posted,
       count(*) FILTER (WHERE bids > 0) AS with_bid,
       count(*) FILTER (WHERE assigned_at IS NOT NULL) AS assigned,
       count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed,
       count(*) FILTER (WHERE cancelled_at IS NOT NULL) AS cancelled,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_bid_at - posted_at)) FILTER (WHERE first_bid_at IS NOT NULL) AS first_bid_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_bid_at - posted_at)) FILTER (WHERE first_bid_at IS NOT NULL) AS first_bid_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY bids) AS bids_p50,
       coalesce(sum(gmv), 0) AS gmv,
       coalesce(sum(payments), 0) AS payments
FROM jobs`

export interface JobFilters {
  from: Date
  to: Date
  source: string | null
  category: string | null
  city: string | null
}

export async function marketplaceSummary(pool: Pool, f: JobFilters): Promise<SummaryRow> {
  const { rows } = await pool.query<SummaryRow>(SUMMARY, [f.from, f.to, f.source, f.category, f.city])
  return rows[0]!
}

export interface ProviderRow {
  provider_id: string
  impressions: string
  clicks: string
  jobs_responded: string
  bids: string
  wins: string
  completed: string
  rating_sum: string
  ratings: string
  response_p50: number | null
}

// $1…$6 split (src/range.ts) for the search signals, $7 source or null, $8 category or
// null, $9 city or null. Impressions and clicks are counted when they happened, with the
// category and city of the search; the other signals are those of the jobs posted in
// [$1, $6) with that category and city.
const PROVIDERS = `
WITH ${jobsCte({ from: '$1', to: '$6', source: '$7', category: '$8', city: '$9', materialized: true })},
signals AS (
  SELECT provider_id, sum(impressions) AS impressions, sum(clicks) AS clicks
  FROM (
    -- day rows: the '*' row of each provider when nothing is filtered on (rollup_providers_any_idx)
    SELECT source, provider_id, impressions, clicks FROM rollup_providers
    WHERE $8::text IS NULL AND $9::text IS NULL
      AND level = 'd' AND bucket >= $3 AND bucket < $4 AND category = '*' AND city = '*'
    UNION ALL
    SELECT source, provider_id, impressions, clicks FROM rollup_providers
    WHERE NOT ($8::text IS NULL AND $9::text IS NULL)
      AND level = 'd' AND bucket >= $3 AND bucket < $4 AND category <> '*'
      AND ($8::text IS NULL OR category = $8) AND ($9::text IS NULL OR city = $9)
    UNION ALL
    SELECT source, provider_id, impressions, clicks FROM rollup_providers
    WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
      AND ($8::text IS NULL OR category = $8) AND ($9::text IS NULL OR city = $9)
    UNION ALL
    SELECT source, provider_id, impressions, clicks FROM rollup_providers_pending
    WHERE bucket >= $2 AND bucket < $5 AND ($8::text IS NULL OR category = $8) AND ($9::text IS NULL OR city = $9)
    UNION ALL
    SELECT sluice_dim(source) COLLATE "C", left(provider_id, 256) COLLATE "C",
           (event_type = 'provider.impression')::int, (event_type = 'provider.click')::int
    FROM events
    WHERE provider_id IS NOT NULL AND event_type IN ('provider.impression', 'provider.click')
      AND (occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6)
      AND ($8::text IS NULL OR sluice_dim(category) = $8) AND ($9::text IS NULL OR sluice_dim(city) = $9)
  ) x
  WHERE $7::text IS NULL OR source = $7
  GROUP BY 1
),
responses AS (
  SELECT p.provider_id, j.posted_at, p.first_response_at, p.bids, p.quotes, p.assigned_at, p.completed_at, p.rating_sum, p.ratings
  FROM jobs j CROSS JOIN LATERAL (
    -- by the primary key, job by job: a cohort is a small share of all jobs (OFFSET 0
    -- keeps the planner from turning this into a hash of the whole table)
    SELECT * FROM mp_job_providers p WHERE p.source = j.source AND p.job_id = j.job_id OFFSET 0
  ) p
  WHERE NOT EXISTS (
    SELECT 1 FROM mp_job_providers_pending q WHERE q.source = p.source AND q.job_id = p.job_id AND q.provider_id = p.provider_id
  )
  UNION ALL
  SELECT m.provider_id, j.posted_at, m.first_response_at, m.bids, m.quotes, m.assigned_at, m.completed_at, m.rating_sum, m.ratings
  FROM (
    SELECT source, job_id, provider_id, min(first_response_at) AS first_response_at, sum(bids) AS bids, sum(quotes) AS quotes,
           min(assigned_at) AS assigned_at, min(completed_at) AS completed_at, sum(rating_sum) AS rating_sum, sum(ratings) AS ratings
    FROM (
      SELECT p.* FROM mp_job_providers p
      WHERE EXISTS (SELECT 1 FROM mp_job_providers_pending q WHERE q.source = p.source AND q.job_id = p.job_id AND q.provider_id = p.provider_id)
      UNION ALL
      SELECT q.* FROM mp_job_providers_pending q
    ) parts
    GROUP BY 1, 2, 3
  ) m JOIN jobs j ON j.source = m.source AND j.job_id = m.job_id
),
-- Hashed per provider; the response times go back as an array per provider, whose median
-- is taken once the parts of a range are merged (providerSignals).
work AS (
  SELECT provider_id,
         count(*) FILTER (WHERE bids + quotes > 0) AS jobs_responded,
         sum(bids) AS bids,
         count(*) FILTER (WHERE assigned_at IS NOT NULL) AS wins,
         count(*) FILTER (WHERE assigned_at IS NOT NULL AND completed_at IS NOT NULL) AS completed,
         sum(rating_sum) AS rating_sum, sum(ratings) AS ratings,
         array_agg(extract(epoch FROM first_response_at - posted_at)::float8) FILTER (WHERE first_response_at IS NOT NULL) AS response_seconds
  FROM responses
  GROUP BY 1
)
SELECT coalesce(s.provider_id, w.provider_id) AS provider_id,
       coalesce(s.impressions, 0) AS impressions, coalesce(s.clicks, 0) AS clicks,
       coalesce(w.jobs_responded, 0) AS jobs_responded, coalesce(w.bids, 0) AS bids, coalesce(w.wins, 0) AS wins,
       coalesce(w.completed, 0) AS completed, coalesce(w.rating_sum, 0) AS rating_sum, coalesce(w.ratings, 0) AS ratings,
       coalesce(w.response_seconds, '{}') AS response_seconds
FROM signals s FULL JOIN work w ON w.provider_id = s.provider_id`

export interface ProviderPartRow extends Omit<ProviderRow, 'response_p50'> {
  response_seconds: number[]
}

/**
 * The signals of every provider over [from, to). A range of two days or more is counted
 * in two parts cut at a midnight at its middle (middleCut), on two connections at once
 * when the pool has a second one free (./readers.ts): every signal is of the jobs posted,
 * or the searches made, in one part, so the parts' counts add up, and a provider's median
 * response time is taken from both parts' response times together.
 */
export async function providerSignals(pool: Pool, range: { from: Date; to: Date }, source: string | null, category: string | null, city: string | null): Promise<ProviderRow[]> {
  const part = (from: Date, to: Date) => async (client: PoolClient) =>
    (await client.query<ProviderPartRow>(PROVIDERS, [...splitParams(splitRange({ from, to })), source, category, city])).rows
  const cut = middleCut(range, DAY_MS)
  if (!cut) return mergeProviderParts([await withClient(pool, part(range.from, range.to))])
  return withSnapshotReaders(pool, async (readers) => mergeProviderParts(await readers.both(part(range.from, cut), part(cut, range.to))))
}

const PART_SUMS = ['impressions', 'clicks', 'jobs_responded', 'bids', 'wins', 'completed', 'ratings'] as const

/** Sums each provider's counts over the parts, and takes the median of its response times (as percentile_cont(0.5) does). */
export function mergeProviderParts(parts: ProviderPartRow[][]): ProviderRow[] {
  const merged = new Map<string, ProviderPartRow>()
  for (const row of parts.flat()) {
    const seen = merged.get(row.provider_id)
    if (!seen) {
      merged.set(row.provider_id, { ...row })
      continue
    }
    for (const k of PART_SUMS) seen[k] = String(Number(seen[k]) + Number(row[k]))
    // Ratings have at most 6 decimals (the fold's pattern): their sums are exact to 6 too.
    seen.rating_sum = String(Number((Number(seen.rating_sum) + Number(row.rating_sum)).toFixed(6)))
    seen.response_seconds = seen.response_seconds.concat(row.response_seconds)
  }
  return [...merged.values()].map(({ response_seconds, ...row }) => ({ ...row, response_p50: median(response_seconds) }))
}

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = Float64Array.from(values).sort()
  const mid = (sorted.length - 1) / 2
  const lo = sorted[Math.floor(mid)]!
  const hi = sorted[Math.ceil(mid)]!
  return lo + (hi - lo) / 2
}
