import type { Pool } from '@sluice/kit/pg'
import type { Split } from '../range.js'

export interface StageUsersRow {
  source: string
  funnel_stage: string
  users: string
}

// $1 from, $2 d1, $3 d2, $4 to (src/range.ts), $5 source or null. Distinct users per
// (source, funnel stage), from the day bitmaps of [$2, $3), their pending users, and the
// events of the partial days [$1, $2) and [$3, $4). The extra rows with funnel_stage '→' count the users seen both
// at 'top' and at 'bottom': bitmaps ANDed chunk by chunk, plus never-folded users by id.
const STAGE_USERS = `
WITH ids AS (
  SELECT p.source, p.funnel_stage, u.user_id
  FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
  WHERE p.funnel_stage <> '' AND p.bucket >= $2 AND p.bucket < $3 AND ($5::text IS NULL OR p.source = $5)
  UNION
  SELECT sluice_dim(e.source) COLLATE "C", sluice_dim(e.funnel_stage) COLLATE "C", left(e.user_id, 256) COLLATE "C"
  FROM events e
  WHERE e.user_id IS NOT NULL AND e.funnel_stage <> ''
    AND (e.occurred_at >= $1 AND e.occurred_at < $2 OR e.occurred_at >= $3 AND e.occurred_at < $4)
    AND ($5::text IS NULL OR e.source = $5)
),
unkeyed AS (
  SELECT i.source, i.funnel_stage, i.user_id FROM ids i
  WHERE NOT EXISTS (SELECT 1 FROM user_keys k WHERE k.user_id = i.user_id)
),
parts AS (
  SELECT source, funnel_stage, chunk, bits FROM rollup_stage_users_daily
  WHERE bucket >= $2 AND bucket < $3 AND ($5::text IS NULL OR source = $5)
  UNION ALL
  SELECT i.source, i.funnel_stage, k.key >> 12, set_bit(sluice_zero_chunk(), k.key & 4095, 1)
  FROM ids i JOIN user_keys k ON k.user_id = i.user_id
),
sets AS MATERIALIZED (
  SELECT source, funnel_stage, chunk, bit_or(bits) AS bits FROM parts GROUP BY 1, 2, 3
)
SELECT source, funnel_stage, sum(users) AS users FROM (
  SELECT source, funnel_stage, bit_count(bits) AS users FROM sets
  UNION ALL
  SELECT source, funnel_stage, count(*) FROM unkeyed GROUP BY 1, 2
  UNION ALL
  SELECT t.source, '→', bit_count(t.bits & b.bits)
  FROM sets t JOIN sets b ON b.source = t.source AND b.chunk = t.chunk
  WHERE t.funnel_stage = 'top' AND b.funnel_stage = 'bottom'
  UNION ALL
  SELECT t.source, '→', count(*)
  FROM unkeyed t JOIN unkeyed b ON b.source = t.source AND b.user_id = t.user_id
  WHERE t.funnel_stage = 'top' AND b.funnel_stage = 'bottom'
  GROUP BY 1
) x
GROUP BY 1, 2`

/** Distinct users per source and stage, and ('→') users seen at both top and bottom. */
export async function stageUsers(pool: Pool, split: Split, source: string | null): Promise<StageUsersRow[]> {
  const { rows } = await pool.query<StageUsersRow>(STAGE_USERS, [split.from, split.d1, split.d2, split.to, source])
  return rows
}
