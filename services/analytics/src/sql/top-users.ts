import type { Pool } from '@sluice/kit/pg'

export type UserMetric = 'events' | 'revenue'

export interface SummaryRow {
  week: Date
  source: string
  delta: string
  users: string[]
  counters: string[]
  /** The (m+1)-th largest counter of the summary, null when it holds m users or fewer. */
  next: string | null
}

// $1 weeks, $2 source or null, $3 metric, $4 m: the m users with the largest counters of
// each week's Misra-Gries summary (db/migrations/0020), kept in descending order.
const SUMMARIES = `
SELECT week, source,
       CASE WHEN $3 = 'events' THEN events_delta::numeric ELSE revenue_delta END AS delta,
       CASE WHEN $3 = 'events' THEN events_users[1:$4] ELSE revenue_users[1:$4] END AS users,
       CASE WHEN $3 = 'events' THEN events_counts[1:$4]::numeric[] ELSE revenue_amounts[1:$4] END AS counters,
       CASE WHEN $3 = 'events' THEN events_counts[$4 + 1]::numeric ELSE revenue_amounts[$4 + 1] END AS next
FROM rollup_top_users
WHERE week = ANY ($1::timestamptz[]) AND ($2::text IS NULL OR source = $2)`

export async function topUserSummaries(pool: Pool, weeks: Date[], source: string | null, metric: UserMetric, m: number): Promise<SummaryRow[]> {
  const { rows } = await pool.query<SummaryRow>(SUMMARIES, [weeks, source, metric, m])
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
const TOP_USERS_FROM_EVENTS = `
SELECT user_id, count(*) AS events, coalesce(sum(revenue), 0) AS revenue
FROM events
WHERE user_id IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)
GROUP BY 1
HAVING $4 = 'events' OR sum(revenue) > 0
ORDER BY CASE WHEN $4 = 'events' THEN count(*) ELSE coalesce(sum(revenue), 0) END DESC, user_id COLLATE "C"
LIMIT $5`

export async function topUsersFromEvents(pool: Pool, from: Date, to: Date, source: string | null, metric: UserMetric, limit: number): Promise<UserTotalRow[]> {
  const { rows } = await pool.query<UserTotalRow>(TOP_USERS_FROM_EVENTS, [from, to, source, metric, limit])
  return rows
}
