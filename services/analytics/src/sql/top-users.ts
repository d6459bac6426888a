import type { Pool } from '@sluice/kit/pg'

export type UserMetric = 'events' | 'revenue'

export interface SummaryRow {
  week: Date
  source: string
  delta: string
  users: string[]
  /** The (m+1)-th largest counter of the summary, null when it holds m users or fewer. */
  next: string | null
}

// $1 weeks, $2 source or null, $3 m: the m users with the largest counters of each week's
// Misra-Gries summary (db/migrations/0020), kept in descending order.
const SUMMARIES = `
SELECT week, source, delta, users[1:$3] AS users, counts[$3 + 1] AS next
FROM rollup_top_users
WHERE week = ANY ($1::timestamptz[]) AND ($2::text IS NULL OR source = $2)`

export async function topUserSummaries(pool: Pool, weeks: Date[], source: string | null, m: number): Promise<SummaryRow[]> {
  const { rows } = await pool.query<SummaryRow>(SUMMARIES, [weeks, source, m])
  return rows
}

// Users whose counts of weeks $1 are not folded into the summaries yet.
const PENDING_USERS = `
SELECT DISTINCT u.user_id
FROM rollup_user_weeks_pending p, unnest(p.user_ids) AS u(user_id)
WHERE p.week = ANY ($1::timestamptz[]) AND ($2::text IS NULL OR p.source = $2)`

export async function pendingTopUsers(pool: Pool, weeks: Date[], source: string | null): Promise<string[]> {
  const { rows } = await pool.query<{ user_id: string }>(PENDING_USERS, [weeks, source])
  return rows.map((r) => r.user_id)
}

export interface UserTotalRow {
  user_id: string
  events: string
  revenue: string
}

// Exact totals of the users $1 in [$2, $3), through events_user_time_idx.
const USER_TOTALS = `
SELECT user_id, count(*) AS events, coalesce(sum(revenue), 0) AS revenue
FROM events
WHERE user_id = ANY ($1::text[]) AND occurred_at >= $2 AND occurred_at < $3 AND ($4::text IS NULL OR source = $4)
GROUP BY 1`

export async function userTotals(pool: Pool, users: string[], from: Date, to: Date, source: string | null): Promise<UserTotalRow[]> {
  const { rows } = await pool.query<UserTotalRow>(USER_TOTALS, [users, from, to, source])
  return rows
}

// The last resort when the summaries cannot rule enough users out: every user of the range.
const TOP_USERS_BY_EVENTS_FROM_EVENTS = `
SELECT user_id, count(*) AS events, coalesce(sum(revenue), 0) AS revenue
FROM events
WHERE user_id IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)
GROUP BY 1
ORDER BY count(*) DESC, user_id COLLATE "C"
LIMIT $4`

export async function topUsersByEventsFromEvents(pool: Pool, from: Date, to: Date, source: string | null, limit: number): Promise<UserTotalRow[]> {
  const { rows } = await pool.query<UserTotalRow>(TOP_USERS_BY_EVENTS_FROM_EVENTS, [from, to, source, limit])
  return rows
}

// Users with the most revenue in [$1, $2): only events with revenue, through
// events_revenue_time_idx; their event counts come from userTotals.
const TOP_USERS_BY_REVENUE = `
SELECT user_id, sum(revenue) AS revenue
FROM events
WHERE revenue IS NOT NULL AND user_id IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)
GROUP BY 1
HAVING sum(revenue) > 0
ORDER BY 2 DESC, user_id COLLATE "C"
LIMIT $4`

export async function topUsersByRevenue(pool: Pool, from: Date, to: Date, source: string | null, limit: number): Promise<{ user_id: string; revenue: string }[]> {
  const { rows } = await pool.query<{ user_id: string; revenue: string }>(TOP_USERS_BY_REVENUE, [from, to, source, limit])
  return rows
}

export interface RevenueRound {
  rows: { user_id: string; revenue: string }[]
  /** No user outside the candidates has more revenue in the range than this. */
  bound: string
}

// One round of top users by revenue from rollup_user_revenue (db/migrations/0064), in one
// statement (one snapshot: a fold between the parts cannot count a delta twice or not at
// all). $1 from, $2 to, $3 first whole day, $4 end of the last whole day ($3 = $4 = $2
// when there is none), $5 the weeks the range touches, $6 m, $7 limit.
// Candidates: the m users with the largest week rows of each week, and every user with
// pending deltas in those weeks. A user outside them has in each week at most that week's
// (m+1)-th largest row (0 for a week with m rows or fewer), and week rows add positive
// amounts only, so the sum of those is a bound of anybody else's revenue in the range.
// Exact totals of the candidates: day rows of the whole days, pending deltas of those
// days, the events with revenue of the partial days at the ends.
const TOP_USERS_BY_REVENUE_ROUND = `
WITH tops AS MATERIALIZED (
  SELECT t.user_id, t.revenue, t.rank
  FROM unnest($5::timestamptz[]) AS w(week)
  CROSS JOIN LATERAL (
    SELECT r.user_id, r.revenue, row_number() OVER (ORDER BY r.revenue DESC) AS rank
    FROM rollup_user_revenue r
    WHERE r.level = 'w' AND r.bucket = w.week
    ORDER BY r.revenue DESC
    LIMIT $6 + 1
  ) t
),
pending AS MATERIALIZED (
  SELECT bucket, user_id, revenue FROM rollup_user_revenue_pending
  WHERE bucket >= ($5::timestamptz[])[1] AND bucket < ($5::timestamptz[])[cardinality($5::timestamptz[])] + interval '7 days'
),
candidates AS MATERIALIZED (
  SELECT user_id FROM tops WHERE rank <= $6
  UNION
  SELECT user_id FROM pending
),
totals AS (
  SELECT user_id, sum(revenue) AS revenue
  FROM (
    SELECT r.user_id, r.revenue
    FROM candidates c JOIN rollup_user_revenue r ON r.level = 'd' AND r.user_id = c.user_id AND r.bucket >= $3 AND r.bucket < $4
    UNION ALL
    SELECT user_id, revenue FROM pending WHERE bucket >= $3 AND bucket < $4
    UNION ALL
    SELECT left(e.user_id, 256) COLLATE "C", e.revenue
    FROM events e
    WHERE e.revenue IS NOT NULL AND e.user_id IS NOT NULL
      AND (e.occurred_at >= $1 AND e.occurred_at < $3 OR e.occurred_at >= $4 AND e.occurred_at < $2)
      AND left(e.user_id, 256) COLLATE "C" IN (SELECT user_id FROM candidates)
  ) x
  GROUP BY 1
  HAVING sum(revenue) > 0
)
SELECT t.user_id, t.revenue, b.bound
FROM (SELECT coalesce(sum(greatest(revenue, 0)), 0) AS bound FROM tops WHERE rank = $6 + 1) b
LEFT JOIN LATERAL (SELECT * FROM totals ORDER BY revenue DESC, user_id LIMIT $7) t ON true`

export async function topUsersByRevenueRound(
  pool: Pool,
  range: { from: Date; to: Date; d1: Date; d2: Date; weeks: Date[] },
  m: number,
  limit: number,
): Promise<RevenueRound> {
  const { rows } = await pool.query<{ user_id: string | null; revenue: string | null; bound: string }>(TOP_USERS_BY_REVENUE_ROUND, [
    range.from, range.to, range.d1, range.d2, range.weeks, m, limit,
  ])
  return {
    rows: rows.filter((r) => r.user_id !== null).map((r) => ({ user_id: r.user_id!, revenue: r.revenue! })),
    bound: rows[0]?.bound ?? '0',
  }
}
