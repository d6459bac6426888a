-- Chunks of the user bitmaps assembled by shifting words, and the user part of a fold as a
-- function of its own (later changes replace it alone).
--
-- 0060 assembled each touched chunk as text (its words in order, zeros between them) parsed
-- back into a bit string: 4,096 characters per chunk whatever the number of its words, which
-- made small folds (the worker folds every second) cost about twice as much per event as
-- large ones. ORing each word shifted into place costs per word instead, and needs no sort:
-- half the time for the same bitmaps.

CREATE FUNCTION rollups_fold_users(pending_users tid[]) RETURNS void
  LANGUAGE plpgsql
  SET work_mem = '64MB'
  AS $$
BEGIN
  -- Users: each key as chunk (key >> 12), offset in the chunk, 64-bit word of the chunk
  -- and its bit in that word (bit 0 of a chunk is its leftmost, as set_bit() counts).
  WITH moved AS (DELETE FROM rollup_users_pending WHERE ctid = ANY (pending_users) RETURNING *),
  keyed AS MATERIALIZED (
    SELECT m.bucket, sluice_bucket('1 day', m.bucket) AS day, m.source, m.funnel_stage, m.country, m.city,
           k.key >> 12 AS chunk, (k.key & 4095)::smallint AS off, (k.key >> 6) & 63 AS word, 1::bigint << (63 - (k.key & 63)) AS w
    FROM moved m CROSS JOIN LATERAL unnest(m.user_ids) AS u(user_id) JOIN user_keys k ON k.user_id = u.user_id
  ),
  -- The words of every target: 'h' hour, 'd' day, 's' day and stage, 'p' day and place;
  -- source '*' = every source.
  words AS (
    SELECT 'h'::"char" AS kind, bucket, source, ''::text COLLATE "C" AS a, ''::text COLLATE "C" AS b, chunk, word, bit_or(w) AS w
    FROM keyed GROUP BY bucket, source, chunk, word
    UNION ALL SELECT 'h', bucket, '*', '', '', chunk, word, bit_or(w) FROM keyed GROUP BY bucket, chunk, word
    UNION ALL SELECT 'd', day, source, '', '', chunk, word, bit_or(w) FROM keyed GROUP BY day, source, chunk, word
    UNION ALL SELECT 'd', day, '*', '', '', chunk, word, bit_or(w) FROM keyed GROUP BY day, chunk, word
    UNION ALL SELECT 's', day, source, funnel_stage, '', chunk, word, bit_or(w) FROM keyed WHERE funnel_stage <> '' GROUP BY day, source, funnel_stage, chunk, word
    UNION ALL SELECT 'p', day, source, country, city, chunk, word, bit_or(w) FROM keyed GROUP BY day, source, country, city, chunk, word
    UNION ALL SELECT 'p', day, '*', country, city, chunk, word, bit_or(w) FROM keyed GROUP BY day, country, city, chunk, word
  ),
  -- Each touched chunk of each target as a bitmap: the OR of its words, each shifted to
  -- its place in a chunk of zeros.
  chunks AS MATERIALIZED (
    SELECT kind, bucket, source, a, b, chunk, bit_or((w::bit(64) || repeat('0', 4032)::bit(4032)) >> (word * 64)) AS bits
    FROM words
    GROUP BY 1, 2, 3, 4, 5, 6
  ),
  hour_offsets AS (
    SELECT bucket, source, chunk, array_agg(off) AS offsets FROM keyed GROUP BY 1, 2, 3
    UNION ALL
    SELECT bucket, '*', chunk, array_agg(off) FROM keyed GROUP BY 1, 3
  ),
  -- Each touched hour chunk with its new users: offsets while it holds 256 users or
  -- fewer, a bitmap from then on.
  hourly_merged AS MATERIALIZED (
    SELECT c.bucket, c.source, c.chunk, coalesce(o.users, 0) AS users_before,
           CASE WHEN o.bits IS NULL AND cardinality(u.offsets) <= 256 THEN u.offsets END AS offsets,
           CASE WHEN o.bits IS NOT NULL THEN o.bits | c.bits
                WHEN cardinality(u.offsets) > 256
                THEN c.bits | coalesce((SELECT bit_or(set_bit(sluice_zero_chunk(), x, 1)) FROM unnest(o.offsets) AS x), sluice_zero_chunk()) END AS bits
    FROM chunks c
    JOIN hour_offsets h ON h.bucket = c.bucket AND h.source = c.source AND h.chunk = c.chunk
    LEFT JOIN rollup_users_hourly o ON o.bucket = c.bucket AND o.source = c.source AND o.chunk = c.chunk
    CROSS JOIN LATERAL (
      SELECT CASE WHEN o.bits IS NULL THEN ARRAY(SELECT DISTINCT x FROM unnest(coalesce(o.offsets, '{}') || h.offsets) AS x ORDER BY x) END AS offsets
    ) u
    WHERE c.kind = 'h'
  ),
  hourly_up AS (
    INSERT INTO rollup_users_hourly AS t (bucket, source, chunk, offsets, bits, users)
    SELECT bucket, source, chunk, offsets, bits, coalesce(bit_count(bits)::integer, cardinality(offsets))
    FROM hourly_merged ORDER BY 1, 2, 3
    ON CONFLICT (bucket, source, chunk)
    DO UPDATE SET offsets = excluded.offsets, bits = excluded.bits, users = excluded.users
  ),
  hour_totals AS (
    INSERT INTO rollup_users_hour_totals AS t (bucket, source, users)
    SELECT bucket, source, sum(coalesce(bit_count(bits)::integer, cardinality(offsets)) - users_before)
    FROM hourly_merged GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (bucket, source) DO UPDATE SET users = t.users + excluded.users
  ),
  g_up AS (
    INSERT INTO rollup_users_daily AS t (bucket, source, chunk, bits)
    SELECT bucket, source, chunk, bits FROM chunks WHERE kind = 'd' ORDER BY 1, 2, 3
    ON CONFLICT (bucket, source, chunk) DO UPDATE SET bits = t.bits | excluded.bits
  ),
  s_up AS (
    INSERT INTO rollup_stage_users_daily AS t (bucket, source, funnel_stage, chunk, bits)
    SELECT bucket, source, a, chunk, bits FROM chunks WHERE kind = 's' ORDER BY 1, 2, 3, 4
    ON CONFLICT (bucket, source, funnel_stage, chunk) DO UPDATE SET bits = t.bits | excluded.bits
  )
  INSERT INTO rollup_place_users_daily AS t (bucket, source, country, city, chunk, bits)
  SELECT bucket, source, a, b, chunk, bits FROM chunks WHERE kind = 'p' ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (bucket, source, country, city, chunk) DO UPDATE SET bits = t.bits | excluded.bits;
END $$;

CREATE OR REPLACE FUNCTION rollups_fold() RETURNS void
  LANGUAGE plpgsql
  SET work_mem = '64MB'
  AS $$
DECLARE
  pending_users tid[];
BEGIN
  WITH moved AS (DELETE FROM rollup_events_pending RETURNING *)
  INSERT INTO rollup_events AS t (level, bucket, source, event_type, funnel_stage, events, revenue)
  SELECT * FROM (
    SELECT 'h'::"char", bucket, source, event_type, funnel_stage, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, event_type, funnel_stage, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
  ) x ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (level, bucket, source, event_type, funnel_stage)
  DO UPDATE SET events = t.events + excluded.events, revenue = t.revenue + excluded.revenue;

  WITH moved AS (DELETE FROM rollup_geo_pending RETURNING *)
  INSERT INTO rollup_geo AS t (level, bucket, source, country, city, events, revenue)
  SELECT * FROM (
    SELECT 'h'::"char", bucket, source, country, city, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, country, city, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
  ) x ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (level, bucket, source, country, city)
  DO UPDATE SET events = t.events + excluded.events, revenue = t.revenue + excluded.revenue;

  WITH moved AS (DELETE FROM rollup_campaigns_pending RETURNING *)
  INSERT INTO rollup_campaigns AS t (level, bucket, source, campaign_id, event_type, events, revenue)
  SELECT * FROM (
    SELECT 'h'::"char", bucket, source, campaign_id, event_type, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, campaign_id, event_type, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5
  ) x ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (level, bucket, source, campaign_id, event_type)
  DO UPDATE SET events = t.events + excluded.events, revenue = t.revenue + excluded.revenue;

  WITH moved AS (DELETE FROM rollup_revenue_pending RETURNING *)
  INSERT INTO rollup_revenue AS t (level, bucket, source, campaign_id, country, currency, events, revenue)
  SELECT * FROM (
    SELECT 'h'::"char", bucket, source, campaign_id, country, currency, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5, 6
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, campaign_id, country, currency, sum(events), sum(revenue) FROM moved GROUP BY 2, 3, 4, 5, 6
  ) x ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (level, bucket, source, campaign_id, country, currency)
  DO UPDATE SET events = t.events + excluded.events, revenue = t.revenue + excluded.revenue;

  -- Day rows of providers also get one row with category '*' and city '*': an unfiltered
  -- ranking then reads one row per provider and day.
  WITH moved AS (DELETE FROM rollup_providers_pending RETURNING *)
  INSERT INTO rollup_providers AS t (level, bucket, source, provider_id, category, city, impressions, clicks)
  SELECT * FROM (
    SELECT 'h'::"char", bucket, source, provider_id, category, city, sum(impressions), sum(clicks) FROM moved GROUP BY 2, 3, 4, 5, 6
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, provider_id, category, city, sum(impressions), sum(clicks) FROM moved GROUP BY 2, 3, 4, 5, 6
    UNION ALL
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), source, provider_id, '*', '*', sum(impressions), sum(clicks) FROM moved GROUP BY 2, 3, 4
  ) x ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (level, bucket, source, provider_id, category, city)
  DO UPDATE SET impressions = t.impressions + excluded.impressions, clicks = t.clicks + excluded.clicks;

  -- The pending user rows this fold takes: their users get keys first (a statement of
  -- its own), then exactly these rows are folded, not rows committed in between.
  SELECT array_agg(ctid) INTO pending_users FROM rollup_users_pending;
  PERFORM rollups_key_new_users(pending_users);

  PERFORM rollups_fold_users(pending_users);

  -- Top users: merge each week's pending counts into its Misra-Gries summary (add the
  -- counts, subtract the 2,001st largest counter from every counter, keep the counters
  -- still positive; delta grows by what was subtracted). Only the survivors are sorted.
  WITH moved AS (DELETE FROM rollup_user_weeks_pending RETURNING *),
  weeks AS MATERIALIZED (
    SELECT k.week, k.source, coalesce(t.delta, 0) AS delta, coalesce(t.users, '{}') AS users, coalesce(t.counts, '{}') AS counts
    FROM (SELECT DISTINCT week, source FROM moved) k LEFT JOIN rollup_top_users t USING (week, source)
  ),
  counters AS MATERIALIZED (
    SELECT week, source, user_id, sum(n) AS n FROM (
      SELECT m.week, m.source, u.user_id, u.n FROM moved m, unnest(m.user_ids, m.events) AS u(user_id, n)
      UNION ALL
      SELECT w.week, w.source, x.user_id, x.n FROM weeks w, unnest(w.users, w.counts) AS x(user_id, n)
    ) y GROUP BY 1, 2, 3
  ),
  cuts AS MATERIALIZED (
    SELECT w.week, w.source, w.delta, coalesce((
      SELECT c.n FROM counters c WHERE c.week = w.week AND c.source = w.source ORDER BY c.n DESC OFFSET 2000 LIMIT 1
    ), 0) AS cut
    FROM weeks w
  )
  INSERT INTO rollup_top_users AS t (week, source, delta, users, counts)
  SELECT k.week, k.source, k.delta + k.cut,
         coalesce(array_agg(c.user_id ORDER BY c.n DESC, c.user_id) FILTER (WHERE c.user_id IS NOT NULL), '{}'),
         coalesce(array_agg(c.n - k.cut ORDER BY c.n DESC, c.user_id) FILTER (WHERE c.user_id IS NOT NULL), '{}')
  FROM cuts k LEFT JOIN counters c ON c.week = k.week AND c.source = k.source AND c.n > k.cut
  GROUP BY k.week, k.source, k.delta, k.cut
  ORDER BY 1, 2
  ON CONFLICT (week, source) DO UPDATE SET delta = excluded.delta, users = excluded.users, counts = excluded.counts;

  WITH moved AS (DELETE FROM mp_jobs_pending RETURNING *),
  merged AS (
    SELECT source, job_id,
           min(posted_at) AS posted_at,
           (array_agg(posted_event_id ORDER BY posted_at, posted_event_id) FILTER (WHERE posted_at IS NOT NULL))[1] AS posted_event_id,
           (array_agg(category ORDER BY posted_at, posted_event_id) FILTER (WHERE posted_at IS NOT NULL))[1] AS category,
           (array_agg(city ORDER BY posted_at, posted_event_id) FILTER (WHERE posted_at IS NOT NULL))[1] AS city,
           min(first_bid_at) AS first_bid_at, sum(bids) AS bids, sum(quotes) AS quotes,
           min(assigned_at) AS assigned_at, min(completed_at) AS completed_at, min(cancelled_at) AS cancelled_at,
           sum(gmv) AS gmv, sum(payments) AS payments
    FROM moved GROUP BY source, job_id
  )
  INSERT INTO mp_jobs AS t
  SELECT * FROM merged ORDER BY source, job_id
  ON CONFLICT (source, job_id) DO UPDATE SET
    posted_at = CASE WHEN excluded.posted_at IS NOT NULL AND (t.posted_at IS NULL OR (excluded.posted_at, excluded.posted_event_id) < (t.posted_at, t.posted_event_id))
                     THEN excluded.posted_at ELSE t.posted_at END,
    posted_event_id = CASE WHEN excluded.posted_at IS NOT NULL AND (t.posted_at IS NULL OR (excluded.posted_at, excluded.posted_event_id) < (t.posted_at, t.posted_event_id))
                           THEN excluded.posted_event_id ELSE t.posted_event_id END,
    category = CASE WHEN excluded.posted_at IS NOT NULL AND (t.posted_at IS NULL OR (excluded.posted_at, excluded.posted_event_id) < (t.posted_at, t.posted_event_id))
                    THEN excluded.category ELSE t.category END,
    city = CASE WHEN excluded.posted_at IS NOT NULL AND (t.posted_at IS NULL OR (excluded.posted_at, excluded.posted_event_id) < (t.posted_at, t.posted_event_id))
                THEN excluded.city ELSE t.city END,
    first_bid_at = least(t.first_bid_at, excluded.first_bid_at),
    bids = t.bids + excluded.bids,
    quotes = t.quotes + excluded.quotes,
    assigned_at = least(t.assigned_at, excluded.assigned_at),
    completed_at = least(t.completed_at, excluded.completed_at),
    cancelled_at = least(t.cancelled_at, excluded.cancelled_at),
    gmv = t.gmv + excluded.gmv,
    payments = t.payments + excluded.payments;

  WITH moved AS (DELETE FROM mp_job_providers_pending RETURNING *)
  INSERT INTO mp_job_providers AS t
  SELECT source, job_id, provider_id, min(first_response_at), sum(bids), sum(quotes), min(assigned_at), min(completed_at),
         sum(rating_sum), sum(ratings)
  FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (source, job_id, provider_id) DO UPDATE SET
    first_response_at = least(t.first_response_at, excluded.first_response_at),
    bids = t.bids + excluded.bids,
    quotes = t.quotes + excluded.quotes,
    assigned_at = least(t.assigned_at, excluded.assigned_at),
    completed_at = least(t.completed_at, excluded.completed_at),
    rating_sum = t.rating_sum + excluded.rating_sum,
    ratings = t.ratings + excluded.ratings;

  UPDATE rollup_state SET folded_at = clock_timestamp();
END $$;
