import type { Pool, PoolClient } from '@sluice/kit/pg'
import { DAY_MS, splitParams, type Split } from '../range.js'
import { withSnapshotReaders } from './readers.js'
import { addHalves, ALL_CHUNKS, keyCut } from './users.js'

export interface GeoCountRow {
  country: string
  city: string
  events: string
  revenue: string
}

// $1…$6 split, $7 source or null, $8 true = by city, false = by country (city '').
const GEO_COUNTS = `
SELECT country, CASE WHEN $8 THEN city ELSE '' END AS city, sum(events) AS events, sum(revenue) AS revenue
FROM (
  SELECT source, country, city, events, revenue FROM rollup_geo
  WHERE level = 'd' AND bucket >= $3 AND bucket < $4
  UNION ALL
  SELECT source, country, city, events, revenue FROM rollup_geo
  WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
  UNION ALL
  SELECT source, country, city, events, revenue FROM rollup_geo_pending
  WHERE bucket >= $2 AND bucket < $5
  UNION ALL
  SELECT sluice_dim(source) COLLATE "C", sluice_dim(country) COLLATE "C", sluice_dim(city) COLLATE "C", 1, coalesce(revenue, 0)
  FROM events
  WHERE occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6
) x
WHERE $7::text IS NULL OR source = $7
GROUP BY 1, 2`

export async function geoCounts(pool: Pool, split: Split, source: string | null, byCity: boolean): Promise<GeoCountRow[]> {
  const { rows } = await pool.query<GeoCountRow>(GEO_COUNTS, [...splitParams(split), source, byCity])
  return rows
}

export interface GeoUsersRow {
  country: string
  city: string
  users: string
}

// $1 from, $2 d1, $3 d2, $4 to, $5 source or null, $6 by city, $7 and $8 the chunks
// [$7, $8) to count, $9 whether to count users without a key (in no chunk). Distinct users
// per place: day bitmaps of [$2, $3) (of the source, or '*' for all) ORed chunk by chunk,
// pending users of those days, and users of the partial days [$1, $2) and [$3, $4) from
// events (src/sql/users.ts).
const GEO_USERS = `
WITH ids AS (
  SELECT p.country, CASE WHEN $6 THEN p.city ELSE '' END AS city, u.user_id
  FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
  WHERE p.bucket >= $2 AND p.bucket < $3 AND ($5::text IS NULL OR p.source = $5)
  UNION
  SELECT sluice_dim(e.country) COLLATE "C", CASE WHEN $6 THEN sluice_dim(e.city) ELSE '' END COLLATE "C", left(e.user_id, 256) COLLATE "C"
  FROM events e
  WHERE e.user_id IS NOT NULL
    AND (e.occurred_at >= $1 AND e.occurred_at < $2 OR e.occurred_at >= $3 AND e.occurred_at < $4)
    AND ($5::text IS NULL OR e.source = $5)
),
unkeyed AS (
  SELECT country, city, count(*) AS users FROM ids i
  WHERE $9 AND NOT EXISTS (SELECT 1 FROM user_keys k WHERE k.user_id = i.user_id)
  GROUP BY 1, 2
),
parts AS (
  SELECT country, CASE WHEN $6 THEN city ELSE '' END AS city, chunk, bits FROM rollup_place_users_daily
  WHERE bucket >= $2 AND bucket < $3 AND source = coalesce($5, '*') AND chunk >= $7 AND chunk < $8
  UNION ALL
  SELECT i.country, i.city, k.key >> 12, set_bit(sluice_zero_chunk(), k.key & 4095, 1)
  FROM ids i JOIN user_keys k ON k.user_id = i.user_id
  WHERE k.key >> 12 >= $7 AND k.key >> 12 < $8
),
counted AS (
  SELECT country, city, sum(bit_count(bits)) AS users
  FROM (SELECT country, city, chunk, bit_or(bits) AS bits FROM parts GROUP BY 1, 2, 3) y
  GROUP BY 1, 2
)
SELECT coalesce(c.country, u.country) AS country, coalesce(c.city, u.city) AS city,
       coalesce(c.users, 0) + coalesce(u.users, 0) AS users
FROM counted c FULL JOIN unkeyed u ON u.country = c.country AND u.city = c.city`

/**
 * Distinct users per place, counted in two halves of the key space: a user's key is in one
 * chunk, so the halves' counts add up. ORing 30 days of place bitmaps (~28,000 chunks at
 * 10 M events) is most of a geo request; on two connections at once (./readers.ts), both
 * cores share one request, and both halves read one snapshot.
 */
export async function geoUsers(pool: Pool, split: Split, source: string | null, byCity: boolean): Promise<GeoUsersRow[]> {
  // Cut at the median chunk of the range's last whole day, if it has one.
  const day = split.d1.getTime() < split.d2.getTime() ? new Date(split.d2.getTime() - DAY_MS) : null
  return withSnapshotReaders(pool, async (readers) => {
    const middle = await keyCut(readers.first, 'rollup_place_users_daily', day, source)
    const half = (lo: number, hi: number, unkeyed: boolean) => async (client: PoolClient) =>
      (await client.query<GeoUsersRow>(GEO_USERS, [split.from, split.d1, split.d2, split.to, source, byCity, lo, hi, unkeyed])).rows
    const halves = await readers.both(half(ALL_CHUNKS[0], middle, true), half(middle, ALL_CHUNKS[1], false))
    return addHalves(halves, (r) => `${r.country}\u0000${r.city}`)
  })
}
