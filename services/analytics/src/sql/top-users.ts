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
