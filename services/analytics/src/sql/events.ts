import type { Pool } from '@sluice/kit/pg'
import { splitParams, type Split } from '../range.js'

export interface EventCountRow {
  /** Which grouping: 'source', 'eventType', 'funnelStage', 'sourceStage' or 'total'. */
  grouping: 'source' | 'eventType' | 'funnelStage' | 'sourceStage' | 'total'
  source: string | null
  event_type: string | null
  funnel_stage: string | null
  events: string
  revenue: string
}

// $1 from, $2 h1, $3 d1, $4 d2, $5 h2, $6 to (src/range.ts), $7 source or null.
// Day rows, hour rows at the ends, unfolded deltas, and events of the partial hours;
// summed in SQL (numeric, exact) per source, event type, funnel stage, (source, stage)
// and in total.
const EVENT_COUNTS = `
SELECT CASE grouping(source, event_type, funnel_stage)
         WHEN 3 THEN 'source' WHEN 5 THEN 'eventType' WHEN 6 THEN 'funnelStage' WHEN 2 THEN 'sourceStage' ELSE 'total' END AS grouping,
       source, event_type, funnel_stage, sum(events) AS events, sum(revenue) AS revenue
FROM (
  SELECT source, event_type, funnel_stage, events, revenue FROM rollup_events
  WHERE level = 'd' AND bucket >= $3 AND bucket < $4
  UNION ALL
  SELECT source, event_type, funnel_stage, events, revenue FROM rollup_events
  WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
  UNION ALL
  SELECT source, event_type, funnel_stage, events, revenue FROM rollup_events_pending
  WHERE bucket >= $2 AND bucket < $5
  UNION ALL
  SELECT sluice_dim(source) COLLATE "C", sluice_dim(event_type) COLLATE "C", sluice_dim(funnel_stage) COLLATE "C", 1, coalesce(revenue, 0)
  FROM events
  WHERE occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6
) x
WHERE $7::text IS NULL OR source = $7
GROUP BY GROUPING SETS ((source), (event_type), (funnel_stage), (source, funnel_stage), ())`

/** Events and revenue by source, event type, funnel stage ('' = none), (source, stage), and in total. */
export async function eventCounts(pool: Pool, split: Split, source: string | null): Promise<EventCountRow[]> {
  const { rows } = await pool.query<EventCountRow>(EVENT_COUNTS, [...splitParams(split), source])
  return rows
}

export interface EventSeriesRow {
  bucket: Date
  events: string
  revenue: string
}

// As EVENT_COUNTS, per bucket of $8 ('1 day', '1 hour' or '1 minute'), with filters
// $9 event type and $10 funnel stage ('' = none).
const EVENT_SERIES = `
SELECT sluice_bucket($8::interval, bucket) AS bucket, sum(events) AS events, sum(revenue) AS revenue
FROM (
  SELECT bucket, source, event_type, funnel_stage, events, revenue FROM rollup_events
  WHERE level = 'd' AND bucket >= $3 AND bucket < $4
  UNION ALL
  SELECT bucket, source, event_type, funnel_stage, events, revenue FROM rollup_events
  WHERE level = 'h' AND (bucket >= $2 AND bucket < $3 OR bucket >= $4 AND bucket < $5)
  UNION ALL
  SELECT bucket, source, event_type, funnel_stage, events, revenue FROM rollup_events_pending
  WHERE bucket >= $2 AND bucket < $5
  UNION ALL
  SELECT occurred_at, sluice_dim(source) COLLATE "C", sluice_dim(event_type) COLLATE "C", sluice_dim(funnel_stage) COLLATE "C", 1, coalesce(revenue, 0)
  FROM events
  WHERE occurred_at >= $1 AND occurred_at < $2 OR occurred_at >= $5 AND occurred_at < $6
) x
WHERE ($7::text IS NULL OR source = $7) AND ($9::text IS NULL OR event_type = $9) AND ($10::text IS NULL OR funnel_stage = $10)
GROUP BY 1`

export interface SeriesFilters {
  source: string | null
  eventType: string | null
  funnelStage: string | null
}

export async function eventSeries(pool: Pool, split: Split, stride: string, f: SeriesFilters): Promise<EventSeriesRow[]> {
  const { rows } = await pool.query<EventSeriesRow>(EVENT_SERIES, [...splitParams(split), f.source, stride, f.eventType, f.funnelStage])
  return rows
}
