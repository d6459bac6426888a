import type { Pool, PoolClient } from '@sluice/kit/pg'
import { DAY_MS, HOUR_MS, middleCut, splitParams, type Split } from '../range.js'
import { withSnapshotReaders } from './readers.js'

type Queryable = Pick<Pool | PoolClient, 'query'>

/*
 * Distinct users. Whole days come from the day bitmaps, whole hours at the ends from the
 * hourly key arrays; users not folded yet (pending) and users of the partial hours (events)
 * are looked up by id: those with a key join the bitmaps, those without one have never
 * been folded so are in no bitmap and are counted by id. The union is exact.
 */

export interface UsersBySourceRow {
  source: string
  users: string
}

// $1…$6 split, $7 source or null, $8 and $9 the chunks [$8, $9) to count, $10 whether to
// count users without a key (in no chunk). One row per source, and source '*' for all of
// them when $7 is null.
const USERS_BY_SOURCE = `
WITH ids AS (
  SELECT p.source, u.user_id
  FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
  WHERE p.bucket >= $2 AND p.bucket < $5 AND ($7::text IS NULL OR p.source = $7)
  UNION
  SELECT sluice_dim(e.source) COLLATE "C", left(e.user_id, 256) COLLATE "C"
  FROM events e
  WHERE e.user_id IS NOT NULL
    AND (e.occurred_at >= $1 AND e.occurred_at < $2 OR e.occurred_at >= $5 AND e.occurred_at < $6)
    AND ($7::text IS NULL OR e.source = $7)
),
looked_up AS MATERIALIZED (
  SELECT i.source, i.user_id, k.key FROM ids i LEFT JOIN user_keys k ON k.user_id = i.user_id
),
tagged AS MATERIALIZED (
  SELECT source, user_id, key FROM (
    SELECT source, user_id, key FROM looked_up
    UNION ALL
    SELECT DISTINCT '*', user_id, key FROM looked_up WHERE $7::text IS NULL
  ) t
  WHERE CASE WHEN key IS NULL THEN $10 ELSE key >> 12 >= $8 AND key >> 12 < $9 END
),
days AS MATERIALIZED (
  SELECT source, chunk, bit_or(bits) AS bits FROM rollup_users_daily
  WHERE bucket >= $3 AND bucket < $4 AND ($7::text IS NULL OR source = $7) AND chunk >= $8 AND chunk < $9
  GROUP BY 1, 2
),
-- Users of the hours at the ends, pending and of the partial hours who are in none of
-- the days count on top of them; chunk by chunk, testing bits (cheaper than ORing a
-- bitmap per user). Hour chunks are offsets or bitmaps (db/migrations/0020).
edge AS MATERIALIZED (
  SELECT source, chunk, offsets, bits FROM rollup_users_hourly
  WHERE (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5) AND ($7::text IS NULL OR source = $7)
    AND chunk >= $8 AND chunk < $9
),
edge_bits AS (
  SELECT source, chunk, bit_or(bits) AS bits FROM edge WHERE bits IS NOT NULL GROUP BY 1, 2
),
edge_offsets AS (
  SELECT source, chunk, array_agg(o) AS offsets
  FROM (
    SELECT e.source, e.chunk, o FROM edge e, unnest(e.offsets) AS o WHERE e.offsets IS NOT NULL
    UNION ALL
    SELECT source, key >> 12, (key & 4095)::smallint FROM tagged WHERE key IS NOT NULL
  ) x
  GROUP BY 1, 2
),
outside AS (
  SELECT coalesce(b.source, f.source) AS source,
         coalesce(bit_count(b.bits & ~coalesce(d.bits, sluice_zero_chunk())), 0)
         + coalesce((SELECT count(DISTINCT o) FROM unnest(f.offsets) AS o
                     WHERE (d.bits IS NULL OR get_bit(d.bits, o) = 0) AND (b.bits IS NULL OR get_bit(b.bits, o) = 0)), 0) AS users
  FROM edge_bits b
  FULL JOIN edge_offsets f ON f.source = b.source AND f.chunk = b.chunk
  LEFT JOIN days d ON d.source = coalesce(b.source, f.source) AND d.chunk = coalesce(b.chunk, f.chunk)
)
SELECT source, sum(users) AS users FROM (
  SELECT source, sum(bit_count(bits)) AS users FROM days GROUP BY 1
  UNION ALL
  SELECT source, users FROM outside
  UNION ALL
  -- never folded, so in no bitmap
  SELECT source, count(*) FROM tagged WHERE key IS NULL GROUP BY 1
) z
GROUP BY 1`

/** Every chunk of the user-key space, [first, end). */
export const ALL_CHUNKS = [0, 2 ** 31 - 1] as const

/**
 * Where to cut the user-key space in two halves of about equal work: the median chunk of
 * `table`'s bitmap rows of `day` (chunks differ a lot in rows: old keys are the busy
 * users), else the middle of the keys handed out. Any cut gives the same answers.
 */
export async function keyCut(client: PoolClient, table: 'rollup_users_daily' | 'rollup_place_users_daily', day: Date | null, source: string | null): Promise<number> {
  const { rows } = await client.query<{ middle: number }>(
    `SELECT coalesce((SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY chunk) FROM ${table} WHERE bucket = $1 AND source = coalesce($2, '*')),
                     (SELECT (max(block) + 1) / 2 FROM user_key_blocks), 0) AS middle`,
    [day, source],
  )
  return rows[0]!.middle
}

/**
 * Distinct users per source (and '*' = all sources, when no source is given).
 *
 * A range with whole days and hours at its ends (not on midnights) tests every user of
 * its end hours against the days' bitmaps, chunk by chunk: ~100 ms for the ~180,000 user
 * hours of a 30-day range at 10 M events, against ~15 ms for whole days alone. Such a range
 * is counted in two halves of the user-key space, on two connections at once when the
 * pool has a second one free (./readers.ts): a user's key is in one chunk, so the halves'
 * counts add up; users without a key are counted in the first.
 */
export async function usersBySource(pool: Pool, split: Split, source: string | null): Promise<UsersBySourceRow[]> {
  const params = [...splitParams(split), source]
  const ends = split.from.getTime() < split.d1.getTime() || split.d2.getTime() < split.to.getTime()
  if (!ends || split.d1.getTime() >= split.d2.getTime()) {
    const { rows } = await pool.query<UsersBySourceRow>(USERS_BY_SOURCE, [...params, ...ALL_CHUNKS, true])
    return rows
  }
  return withSnapshotReaders(pool, async (readers) => {
    const middle = await keyCut(readers.first, 'rollup_users_daily', new Date(split.d2.getTime() - DAY_MS), source)
    const half = (lo: number, hi: number, unkeyed: boolean) => async (client: PoolClient) =>
      (await client.query<UsersBySourceRow>(USERS_BY_SOURCE, [...params, lo, hi, unkeyed])).rows
    const halves = await readers.both(half(ALL_CHUNKS[0], middle, true), half(middle, ALL_CHUNKS[1], false))
    return addHalves(halves, (r) => r.source)
  })
}

/** The rows of the two halves of the key space added up: one row per key, its users summed. */
export function addHalves<R extends { users: string }>(halves: R[][], keyOf: (row: R) => string): R[] {
  const sums = new Map<string, R>()
  for (const r of halves.flat()) {
    const key = keyOf(r)
    const seen = sums.get(key)
    sums.set(key, seen ? { ...seen, users: String(Number(seen.users) + Number(r.users)) } : r)
  }
  return [...sums.values()]
}

export interface UsersByBucketRow {
  bucket: Date
  users: string
}

// Whole days [$1, $2) of source $3 (or '*' when null): each day's bitmap ORed with its
// pending users.
const USERS_BY_DAY = `
WITH ids AS (
  SELECT sluice_bucket('1 day', p.bucket) AS bucket, u.user_id
  FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
  WHERE p.bucket >= $1 AND p.bucket < $2 AND ($3::text IS NULL OR p.source = $3)
  GROUP BY 1, 2
),
unkeyed AS (
  SELECT i.bucket, count(*) AS users FROM ids i
  WHERE NOT EXISTS (SELECT 1 FROM user_keys k WHERE k.user_id = i.user_id)
  GROUP BY 1
),
parts AS (
  SELECT bucket, chunk, bits FROM rollup_users_daily
  WHERE bucket >= $1 AND bucket < $2 AND source = coalesce($3, '*')
  UNION ALL
  SELECT i.bucket, k.key >> 12, set_bit(sluice_zero_chunk(), k.key & 4095, 1)
  FROM ids i JOIN user_keys k ON k.user_id = i.user_id
),
counted AS (
  SELECT bucket, sum(bit_count(bits)) AS users
  FROM (SELECT bucket, chunk, bit_or(bits) AS bits FROM parts GROUP BY 1, 2) y
  GROUP BY 1
)
SELECT coalesce(c.bucket, u.bucket) AS bucket, coalesce(c.users, 0) + coalesce(u.users, 0) AS users
FROM counted c FULL JOIN unkeyed u ON u.bucket = c.bucket`

export async function usersByDay(pool: Pool, from: Date, to: Date, source: string | null): Promise<UsersByBucketRow[]> {
  const { rows } = await pool.query<UsersByBucketRow>(USERS_BY_DAY, [from, to, source])
  return rows
}

// Whole hours [$1, $2) of source $3 (or '*'): each hour's total, or, for hours with
// pending users, the size of the union of its chunks with them.
const USERS_BY_HOUR = `
WITH ids AS (
  SELECT p.bucket, u.user_id
  FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
  WHERE p.bucket >= $1 AND p.bucket < $2 AND ($3::text IS NULL OR p.source = $3)
  GROUP BY 1, 2
),
looked_up AS MATERIALIZED (
  SELECT i.bucket, i.user_id, k.key FROM ids i LEFT JOIN user_keys k ON k.user_id = i.user_id
),
touched AS MATERIALIZED (SELECT DISTINCT bucket FROM ids)
SELECT bucket, users
FROM rollup_users_hour_totals
WHERE bucket >= $1 AND bucket < $2 AND source = coalesce($3, '*') AND bucket NOT IN (SELECT bucket FROM touched)
UNION ALL
SELECT bucket, sum(users) FROM (
  SELECT bucket, bit_count(bit_or(bits)) AS users
  FROM (
    SELECT h.bucket, h.chunk, coalesce(h.bits, (SELECT bit_or(set_bit(sluice_zero_chunk(), o, 1)) FROM unnest(h.offsets) AS o)) AS bits
    FROM rollup_users_hourly h
    WHERE h.bucket IN (SELECT bucket FROM touched) AND h.source = coalesce($3, '*')
    UNION ALL
    SELECT bucket, key >> 12, set_bit(sluice_zero_chunk(), key & 4095, 1) FROM looked_up WHERE key IS NOT NULL
  ) c
  GROUP BY bucket, chunk
  UNION ALL
  SELECT bucket, count(*) FROM looked_up WHERE key IS NULL GROUP BY 1
) t
GROUP BY 1`

export async function usersByHour(pool: Pool, from: Date, to: Date, source: string | null): Promise<UsersByBucketRow[]> {
  const { rows } = await pool.query<UsersByBucketRow>(USERS_BY_HOUR, [from, to, source])
  return rows
}

// Straight from events: distinct users per bucket of $3 in [$1, $2), with filters $4
// source, $5 event type, $6 funnel stage ('' = none). For minutes, and for series
// filtered by event type or stage, which no user rollup is keyed by. Ids are counted in
// byte order (COLLATE "C": the same equality, abbreviated keys, no strcoll).
//
// Hours and days: one range scan per bucket, whose ids are sorted on their own (the scan
// comes in time order, so nothing sorts the range's rows by bucket first): 15 days of one
// event type at 10 M events in ~26 ms, against ~43 grouping the range's rows by bucket.
const USERS_PER_BUCKET_FROM_EVENTS = `
SELECT b AS bucket,
       (SELECT count(DISTINCT user_id COLLATE "C") FROM events
        WHERE occurred_at >= greatest(b, $1) AND occurred_at < least(b + $3::interval, $2) AND user_id IS NOT NULL
          AND ($4::text IS NULL OR source = $4)
          AND ($5::text IS NULL OR event_type = $5)
          AND ($6::text IS NULL OR coalesce(funnel_stage, '') = $6)) AS users
FROM generate_series(sluice_bucket($3::interval, $1), $2::timestamptz - interval '1 microsecond', $3::interval) AS b`

// Minutes: up to 10,000 buckets of a few events each, cheaper grouped in one scan.
const USERS_BY_BUCKET_FROM_EVENTS = `
SELECT sluice_bucket($3::interval, occurred_at) AS bucket, count(DISTINCT user_id COLLATE "C") AS users
FROM events
WHERE occurred_at >= $1 AND occurred_at < $2 AND user_id IS NOT NULL
  AND ($4::text IS NULL OR source = $4)
  AND ($5::text IS NULL OR event_type = $5)
  AND ($6::text IS NULL OR coalesce(funnel_stage, '') = $6)
GROUP BY 1`

export interface EventFilters {
  source: string | null
  eventType: string | null
  funnelStage: string | null
}

/**
 * A range of two days or more is counted in two parts cut at a bucket boundary ($3,
 * `strideMs` long) at its middle (middleCut): every bucket is in one part, so the parts' rows
 * are the answer; on two connections at once when the pool has a second one free
 * (./readers.ts).
 */
export async function usersByBucketFromEvents(pool: Pool, from: Date, to: Date, stride: string, strideMs: number, f: EventFilters): Promise<UsersByBucketRow[]> {
  const sql = strideMs >= HOUR_MS ? USERS_PER_BUCKET_FROM_EVENTS : USERS_BY_BUCKET_FROM_EVENTS
  const part = (a: Date, b: Date) => async (client: Queryable) =>
    (await client.query<UsersByBucketRow>(sql, [a, b, stride, f.source, f.eventType, f.funnelStage])).rows
  const cut = middleCut({ from, to }, strideMs)
  if (!cut) return part(from, to)(pool)
  return withSnapshotReaders(pool, async (readers) => (await readers.both(part(from, cut), part(cut, to))).flat())
}
