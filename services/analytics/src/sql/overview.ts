import type { Pool } from '@sluice/kit/pg'

export interface OverviewParams {
  from: Date
  to: Date
  source: string | null
}

export interface OverviewGroupRow {
  source: string
  event_type: string
  funnel_stage: string | null
  events: string
}

export interface OverviewTotalsRow {
  events: string
  unique_users: string
  revenue: string
}

const GROUPS = `
SELECT source, event_type, funnel_stage, count(*) AS events
FROM events
WHERE occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)
GROUP BY source, event_type, funnel_stage`

const TOTALS = `
SELECT count(*) AS events, count(DISTINCT user_id) AS unique_users, coalesce(sum(revenue), 0) AS revenue
FROM events
WHERE occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR source = $3)`

export async function overviewGroups(pool: Pool, p: OverviewParams): Promise<OverviewGroupRow[]> {
  const { rows } = await pool.query<OverviewGroupRow>(GROUPS, [p.from, p.to, p.source])
  return rows
}

export async function overviewTotals(pool: Pool, p: OverviewParams): Promise<OverviewTotalsRow> {
  const { rows } = await pool.query<OverviewTotalsRow>(TOTALS, [p.from, p.to, p.source])
  return rows[0]!
}
