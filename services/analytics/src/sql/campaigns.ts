import type { Pool } from '@sluice/kit/pg'
import { splitParams, type Split } from '../range.js'

/** Event types counted as campaign clicks and conversions (formats.md §1). */
export const CLICK_TYPES = ['ad.click']
export const CONVERSION_TYPES = ['form.submission', 'checkout.complete', 'purchase']

export interface CampaignRow {
  campaign_id: string
  events: string
  clicks: string
  conversions: string
  revenue: string
}

// $1…$6 split, $7 source or null, $8 click types, $9 conversion types, $10 sort column
// ('events', 'clicks', 'conversions' or 'revenue'), $11 limit.
const TOP_CAMPAIGNS = `
SELECT campaign_id,
       sum(events) AS events,
       sum(events) FILTER (WHERE event_type = ANY ($8::text[])) AS clicks,
       sum(events) FILTER (WHERE event_type = ANY ($9::text[])) AS conversions,
       sum(revenue) AS revenue
FROM (
  SELECT source, campaign_id, event_type, events, revenue FROM rollup_campaigns
  WHERE level = 'd' AND bucket >= $3 AND bucket < $4
  UNION ALL
  SELECT source, campaign_id, event_type, events, revenue FROM rollup_campaigns
  WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
  UNION ALL
  SELECT source, campaign_id, event_type, events, revenue FROM rollup_campaigns_pending
  WHERE bucket >= $2 AND bucket < $5
  UNION ALL
  SELECT sluice_dim(source) COLLATE "C", left(campaign_id, 256) COLLATE "C", sluice_dim(event_type) COLLATE "C", 1, coalesce(revenue, 0)
  FROM events
  WHERE campaign_id IS NOT NULL AND (occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6)
) x
WHERE $7::text IS NULL OR source = $7
GROUP BY 1
ORDER BY CASE $10 WHEN 'events' THEN sum(events)
                  WHEN 'clicks' THEN coalesce(sum(events) FILTER (WHERE event_type = ANY ($8::text[])), 0)
                  WHEN 'conversions' THEN coalesce(sum(events) FILTER (WHERE event_type = ANY ($9::text[])), 0)
                  ELSE sum(revenue) END DESC,
         campaign_id
LIMIT $11`

export type CampaignMetric = 'events' | 'clicks' | 'conversions' | 'revenue'

export async function topCampaigns(pool: Pool, split: Split, source: string | null, metric: CampaignMetric, limit: number): Promise<CampaignRow[]> {
  const { rows } = await pool.query<CampaignRow>(TOP_CAMPAIGNS, [...splitParams(split), source, CLICK_TYPES, CONVERSION_TYPES, metric, limit])
  return rows
}
