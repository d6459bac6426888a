import type { Pool } from '@sluice/kit/pg'
import { splitParams, type Split } from '../range.js'

export type RevenueGroup = 'day' | 'source' | 'campaign' | 'country' | 'currency'

export interface RevenueRow {
  key: string
  events: string
  revenue: string
}

// $1…$6 split, $7 source or null, $8 group: revenue and the number of events carrying
// revenue per day (UTC, as an ISO date), source, campaign, country or currency.
const REVENUE = `
SELECT CASE $8
         WHEN 'day' THEN to_char(sluice_bucket('1 day', bucket) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
         WHEN 'source' THEN source
         WHEN 'campaign' THEN campaign_id
         WHEN 'country' THEN country
         ELSE currency END AS key,
       sum(events) AS events, sum(revenue) AS revenue
FROM (
  SELECT bucket, source, campaign_id, country, currency, events, revenue FROM rollup_revenue
  WHERE level = 'd' AND bucket >= $3 AND bucket < $4
  UNION ALL
  SELECT bucket, source, campaign_id, country, currency, events, revenue FROM rollup_revenue
  WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
  UNION ALL
  SELECT bucket, source, campaign_id, country, currency, events, revenue FROM rollup_revenue_pending
  WHERE bucket >= $2 AND bucket < $5
  UNION ALL
  SELECT occurred_at, sluice_dim(source) COLLATE "C", sluice_dim(campaign_id) COLLATE "C", sluice_dim(country) COLLATE "C",
         sluice_dim(currency) COLLATE "C", 1, revenue
  FROM events
  WHERE revenue IS NOT NULL AND (occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6)
) x
WHERE $7::text IS NULL OR source = $7
GROUP BY 1`

export async function revenueGroups(pool: Pool, split: Split, source: string | null, group: RevenueGroup): Promise<RevenueRow[]> {
  const { rows } = await pool.query<RevenueRow>(REVENUE, [...splitParams(split), source, group])
  return rows
}
