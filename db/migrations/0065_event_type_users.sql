-- Unique users per day and event type: time series filtered by an event type.
--
-- They counted distinct users per day from `events` (events_type_time_idx): ~160,000
-- `ad.click` events for 30 days at 10 M events, ~150 ms. Now each day keeps the users of
-- each event type and source as bitmaps, like the other day bitmaps (0020): the fold ORs
-- one more target ('t') from the keys it already looked up, and the pending user rows
-- carry each entry's event type beside its user (event_types[i] is the type of the event
-- of user_ids[i]), so no pending row is added. Unfiltered series ('*') OR the sources.
--
-- Existing pending rows have no event types: the migration folds them first, with inserts
-- into `events` held off until it commits, then fills the new bitmaps from the events
-- stored so far (every user of them has a key after that fold).

CREATE TABLE rollup_type_users_daily (
  event_type text COLLATE "C" NOT NULL,
  bucket     timestamptz      NOT NULL,
  source     text COLLATE "C" NOT NULL,
  chunk      integer          NOT NULL,
  bits       bit(4096)        NOT NULL,
  PRIMARY KEY (event_type, bucket, source, chunk)
) WITH (fillfactor = 70);

COMMENT ON TABLE rollup_type_users_daily IS 'The users of each day, event type and source, as 4,096-key bitmap chunks (0020)';

LOCK TABLE events IN SHARE MODE;
SELECT pg_advisory_xact_lock(rollups_lock_key());
SELECT rollups_fold();

ALTER TABLE rollup_users_pending ADD COLUMN event_types text[] COLLATE "C";

-- 0064's staging statement, with the event types of the pending users.
CREATE OR REPLACE FUNCTION rollups_stage_sql(rel text) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN format($sql$
    WITH r AS MATERIALIZED (
      SELECT sluice_bucket('1 hour', occurred_at) AS bucket, sluice_dim(source) AS source, event_id,
             sluice_dim(event_type) AS event_type, sluice_dim(funnel_stage) AS funnel_stage,
             sluice_dim(country) AS country, sluice_dim(city) AS city,
             left(campaign_id, 256) AS campaign_id, left(provider_id, 256) AS provider_id,
             left(job_id, 256) AS job_id, left(category, 256) AS category, left(currency, 256) AS currency,
             revenue, left(user_id, 256) AS user_id, occurred_at,
             CASE WHEN event_type = 'feedback.submitted' AND data->>'rating' ~ '^\s*[0-9]{1,6}(\.[0-9]{1,6})?\s*$'
                  THEN (data->>'rating')::numeric END AS rating
      FROM %1$s
    ),
    e AS (
      INSERT INTO rollup_events_pending (bucket, source, event_type, funnel_stage, events, revenue)
      SELECT bucket, source, event_type, funnel_stage, count(*), coalesce(sum(revenue), 0)
      FROM r GROUP BY 1, 2, 3, 4
    ),
    g AS (
      INSERT INTO rollup_geo_pending (bucket, source, country, city, events, revenue)
      SELECT bucket, source, country, city, count(*), coalesce(sum(revenue), 0)
      FROM r GROUP BY 1, 2, 3, 4
    ),
    c AS (
      INSERT INTO rollup_campaigns_pending (bucket, source, campaign_id, event_type, events, revenue)
      SELECT bucket, source, campaign_id, event_type, count(*), coalesce(sum(revenue), 0)
      FROM r WHERE campaign_id IS NOT NULL GROUP BY 1, 2, 3, 4
    ),
    v AS (
      INSERT INTO rollup_revenue_pending (bucket, source, campaign_id, country, currency, events, revenue)
      SELECT bucket, source, coalesce(campaign_id, ''), country, coalesce(currency, ''), count(*), sum(revenue)
      FROM r WHERE revenue IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ),
    rv AS (
      INSERT INTO rollup_user_revenue_pending (bucket, user_id, revenue, gross)
      SELECT bucket, user_id, sum(revenue), sum(greatest(revenue, 0))
      FROM r WHERE revenue IS NOT NULL AND user_id IS NOT NULL GROUP BY 1, 2
    ),
    p AS (
      INSERT INTO rollup_providers_pending (bucket, source, provider_id, category, city, impressions, clicks)
      SELECT bucket, source, provider_id, coalesce(category, ''), city,
             count(*) FILTER (WHERE event_type = 'provider.impression'),
             count(*) FILTER (WHERE event_type = 'provider.click')
      FROM r WHERE provider_id IS NOT NULL AND event_type IN ('provider.impression', 'provider.click')
      GROUP BY 1, 2, 3, 4, 5
    ),
    u AS (
      INSERT INTO rollup_users_pending (bucket, source, funnel_stage, country, city, user_ids, event_types)
      SELECT bucket, source, funnel_stage, country, city, array_agg(user_id), array_agg(event_type)
      FROM r WHERE user_id IS NOT NULL
      GROUP BY 1, 2, 3, 4, 5
    ),
    w AS (
      INSERT INTO rollup_user_weeks_pending (week, source, user_ids, events)
      SELECT week, source, array_agg(user_id), array_agg(events)
      FROM (
        SELECT sluice_bucket('7 days', bucket) AS week, source, user_id, count(*) AS events
        FROM r WHERE user_id IS NOT NULL GROUP BY 1, 2, 3
      ) x
      GROUP BY 1, 2
    ),
    j AS (
      INSERT INTO mp_jobs_pending (source, job_id, posted_at, posted_event_id, category, city, first_bid_at, bids, quotes,
                                   assigned_at, completed_at, cancelled_at, gmv, payments)
      SELECT source, job_id,
             min(occurred_at) FILTER (WHERE event_type = 'job.posted'),
             (array_agg(event_id ORDER BY occurred_at, event_id) FILTER (WHERE event_type = 'job.posted'))[1],
             (array_agg(category ORDER BY occurred_at, event_id) FILTER (WHERE event_type = 'job.posted'))[1],
             (array_agg(nullif(city, '') ORDER BY occurred_at, event_id) FILTER (WHERE event_type = 'job.posted'))[1],
             min(occurred_at) FILTER (WHERE event_type = 'bid.placed'),
             count(*) FILTER (WHERE event_type = 'bid.placed'),
             count(*) FILTER (WHERE event_type = 'quote.sent'),
             min(occurred_at) FILTER (WHERE event_type = 'job.assigned'),
             min(occurred_at) FILTER (WHERE event_type = 'job.completed'),
             min(occurred_at) FILTER (WHERE event_type = 'job.cancelled'),
             coalesce(sum(revenue) FILTER (WHERE event_type = 'payment.captured'), 0),
             count(*) FILTER (WHERE event_type = 'payment.captured')
      FROM r
      WHERE job_id IS NOT NULL
        AND event_type IN ('job.posted', 'bid.placed', 'quote.sent', 'job.assigned', 'job.completed', 'job.cancelled', 'payment.captured')
      GROUP BY source, job_id
    ),
    jp AS (
      INSERT INTO mp_job_providers_pending (source, job_id, provider_id, first_response_at, bids, quotes, assigned_at,
                                            completed_at, rating_sum, ratings)
      SELECT source, job_id, provider_id,
             min(occurred_at) FILTER (WHERE event_type IN ('bid.placed', 'quote.sent')),
             count(*) FILTER (WHERE event_type = 'bid.placed'),
             count(*) FILTER (WHERE event_type = 'quote.sent'),
             min(occurred_at) FILTER (WHERE event_type = 'job.assigned'),
             min(occurred_at) FILTER (WHERE event_type = 'job.completed'),
             coalesce(sum(rating), 0),
             count(rating)
      FROM r
      WHERE job_id IS NOT NULL AND provider_id IS NOT NULL
        AND event_type IN ('bid.placed', 'quote.sent', 'job.assigned', 'job.completed', 'feedback.submitted')
      GROUP BY source, job_id, provider_id
    )
    SELECT 1
  $sql$, rel);

-- 0063's user fold, plus the 't' target.
CREATE OR REPLACE FUNCTION rollups_fold_users(pending_users tid[]) RETURNS void
  LANGUAGE plpgsql
  SET work_mem = '64MB'
  AS $$
BEGIN
  -- Users: each key as chunk (key >> 12), offset in the chunk, 64-bit word of the chunk
  -- and its bit in that word (bit 0 of a chunk is its leftmost, as set_bit() counts).
  WITH moved AS (DELETE FROM rollup_users_pending WHERE ctid = ANY (pending_users) RETURNING *),
  keyed AS MATERIALIZED (
    SELECT m.bucket, sluice_bucket('1 day', m.bucket) AS day, m.source, m.funnel_stage, m.country, m.city, u.event_type,
           k.key >> 12 AS chunk, (k.key & 4095)::smallint AS off, (k.key >> 6) & 63 AS word, 1::bigint << (63 - (k.key & 63)) AS w
    FROM moved m CROSS JOIN LATERAL unnest(m.user_ids, m.event_types) AS u(user_id, event_type) JOIN user_keys k ON k.user_id = u.user_id
  ),
  -- The words of every target: 'h' hour, 'd' day, 's' day and stage, 'p' day and place,
  -- 't' day and event type;
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
    UNION ALL SELECT 't', day, source, event_type, '', chunk, word, bit_or(w) FROM keyed WHERE event_type IS NOT NULL GROUP BY day, source, event_type, chunk, word
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
    ON CONFLICT (bucket, source, funnel_stage, chunk) DO UPDATE SET bits = t.bits | excluded.bits  ),
  t_up AS (
    INSERT INTO rollup_type_users_daily AS t (event_type, bucket, source, chunk, bits)
    SELECT a, bucket, source, chunk, bits FROM chunks WHERE kind = 't' ORDER BY 1, 2, 3, 4
    ON CONFLICT (event_type, bucket, source, chunk) DO UPDATE SET bits = t.bits | excluded.bits
  )
  INSERT INTO rollup_place_users_daily AS t (bucket, source, country, city, chunk, bits)
  SELECT bucket, source, a, b, chunk, bits FROM chunks WHERE kind = 'p' ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (bucket, source, country, city, chunk) DO UPDATE SET bits = t.bits | excluded.bits;
END $$;

-- 0064's TRUNCATE trigger function and rebuild, plus the new table.
CREATE OR REPLACE FUNCTION events_rollups_on_truncate() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE rollup_events, rollup_events_pending, rollup_geo, rollup_geo_pending, rollup_campaigns, rollup_campaigns_pending,
           rollup_revenue, rollup_revenue_pending, rollup_user_revenue, rollup_user_revenue_pending,
           rollup_providers, rollup_providers_pending, rollup_users_daily,
           rollup_stage_users_daily, rollup_place_users_daily, rollup_type_users_daily, rollup_users_hourly, rollup_users_hour_totals, rollup_users_pending, rollup_top_users,
           rollup_user_weeks_pending,
           mp_jobs, mp_jobs_pending, mp_job_providers, mp_job_providers_pending;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rollups_rebuild() RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'repeatable read' THEN
    RAISE EXCEPTION 'rollups_rebuild() must run in a REPEATABLE READ transaction';
  END IF;
  DELETE FROM rollup_events; DELETE FROM rollup_events_pending;
  DELETE FROM rollup_geo; DELETE FROM rollup_geo_pending;
  DELETE FROM rollup_campaigns; DELETE FROM rollup_campaigns_pending;
  DELETE FROM rollup_revenue; DELETE FROM rollup_revenue_pending;
  DELETE FROM rollup_user_revenue; DELETE FROM rollup_user_revenue_pending;
  DELETE FROM rollup_providers; DELETE FROM rollup_providers_pending;
  DELETE FROM rollup_users_daily; DELETE FROM rollup_stage_users_daily; DELETE FROM rollup_place_users_daily; DELETE FROM rollup_type_users_daily;
  DELETE FROM rollup_users_hourly; DELETE FROM rollup_users_hour_totals; DELETE FROM rollup_users_pending;
  DELETE FROM rollup_top_users; DELETE FROM rollup_user_weeks_pending;
  DELETE FROM mp_jobs; DELETE FROM mp_jobs_pending;
  DELETE FROM mp_job_providers; DELETE FROM mp_job_providers_pending;
  EXECUTE rollups_stage_sql('events');
  PERFORM rollups_fold();
  SELECT count(*) INTO total FROM events;
  RETURN total;
END $$;

-- The events stored so far.
INSERT INTO rollup_type_users_daily (event_type, bucket, source, chunk, bits)
SELECT event_type, bucket, source, chunk, bit_or((w::bit(64) || repeat('0', 4032)::bit(4032)) >> (word * 64))
FROM (
  SELECT x.event_type, x.bucket, x.source, k.key >> 12 AS chunk, (k.key >> 6) & 63 AS word, bit_or(1::bigint << (63 - (k.key & 63))) AS w
  FROM (
    SELECT DISTINCT sluice_dim(event_type) AS event_type, sluice_bucket('1 day', occurred_at) AS bucket, sluice_dim(source) AS source,
           left(user_id, 256) AS user_id
    FROM events WHERE user_id IS NOT NULL
  ) x JOIN user_keys k ON k.user_id = x.user_id
  GROUP BY 1, 2, 3, 4, 5
) y
GROUP BY 1, 2, 3, 4;
