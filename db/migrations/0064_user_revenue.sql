-- Revenue per user, for the top users by revenue without reading every event with revenue.
--
-- Reading it from `events` (events_revenue_time_idx) hashed ~128,000 events of ~90,000
-- users for 30 days at 10 M events: ~170 ms. Only events with revenue and a user (a few
-- per cent of all) get rows here, at two levels:
--   'd'  per UTC day and user: the exact sum of revenue (what a candidate's total is made of);
--   'w'  per 7-day week (Monday, as sluice_bucket) and user: the sum of the POSITIVE amounts
--        only, an upper bound of that user's revenue in any part of the week (refunds are
--        negative amounts and could otherwise make a part of a week larger than all of it).
-- The read API (services/analytics/src/sql/top-users.ts) takes the m largest 'w' rows of
-- each week the range touches (rollup_user_revenue_week_idx) and every user with pending
-- deltas there as candidates, sums their exact revenue in the range from 'd' rows, pending
-- deltas and the events of the partial days at its ends, and knows that nobody else can
-- beat the k-th candidate when its total exceeds the sum over those weeks of the (m+1)-th
-- largest 'w' row; otherwise it takes more candidates, in the end every event with revenue.
-- Rows for every source together (source-filtered top users read `events` as before).
--
-- Deltas are appended by the trigger like every other rollup's (rollups_stage_sql) and
-- folded by rollups_fold(); rollups_rebuild() recomputes them; TRUNCATE events empties
-- them. Existing events are folded in below, with inserts into `events` held off meanwhile.

CREATE TABLE rollup_user_revenue (
  level   "char"           NOT NULL CHECK (level IN ('d', 'w')),
  bucket  timestamptz      NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  revenue numeric          NOT NULL,
  PRIMARY KEY (level, user_id, bucket)
) WITH (fillfactor = 70);

CREATE INDEX rollup_user_revenue_week_idx ON rollup_user_revenue (bucket, revenue DESC) INCLUDE (user_id) WHERE level = 'w';

COMMENT ON TABLE rollup_user_revenue IS 'Revenue per user: ''d'' exact per day, ''w'' sum of positive amounts per week (a bound)';

-- One row per statement, hour bucket and user; gross = the sum of the positive amounts.
CREATE TABLE rollup_user_revenue_pending (
  bucket  timestamptz      NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  revenue numeric          NOT NULL,
  gross   numeric          NOT NULL
);

-- 0021's staging statement plus the `rv` step.
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
      INSERT INTO rollup_users_pending (bucket, source, funnel_stage, country, city, user_ids)
      SELECT bucket, source, funnel_stage, country, city, array_agg(user_id)
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

-- Folds the pending revenue deltas into the day and week rows. Called by rollups_fold().
CREATE FUNCTION rollups_fold_user_revenue() RETURNS void
  LANGUAGE sql AS $$
  WITH moved AS (DELETE FROM rollup_user_revenue_pending RETURNING *)
  INSERT INTO rollup_user_revenue AS t (level, bucket, user_id, revenue)
  SELECT * FROM (
    SELECT 'd'::"char", sluice_bucket('1 day', bucket), user_id, sum(revenue) FROM moved GROUP BY 2, 3
    UNION ALL
    SELECT 'w'::"char", sluice_bucket('7 days', bucket), user_id, sum(gross) FROM moved GROUP BY 2, 3
  ) x ORDER BY 1, 3, 2
  ON CONFLICT (level, user_id, bucket) DO UPDATE SET revenue = t.revenue + excluded.revenue;
$$;

-- 0063's fold, plus rollups_fold_user_revenue() after the counts.
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

  PERFORM rollups_fold_user_revenue();

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

-- 0021's TRUNCATE trigger function, plus the new tables.
CREATE OR REPLACE FUNCTION events_rollups_on_truncate() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE rollup_events, rollup_events_pending, rollup_geo, rollup_geo_pending, rollup_campaigns, rollup_campaigns_pending,
           rollup_revenue, rollup_revenue_pending, rollup_user_revenue, rollup_user_revenue_pending,
           rollup_providers, rollup_providers_pending, rollup_users_daily,
           rollup_stage_users_daily, rollup_place_users_daily, rollup_users_hourly, rollup_users_hour_totals, rollup_users_pending, rollup_top_users,
           rollup_user_weeks_pending,
           mp_jobs, mp_jobs_pending, mp_job_providers, mp_job_providers_pending;
  RETURN NULL;
END $$;

-- 0021's rebuild, plus the new tables.
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
  DELETE FROM rollup_users_daily; DELETE FROM rollup_stage_users_daily; DELETE FROM rollup_place_users_daily;
  DELETE FROM rollup_users_hourly; DELETE FROM rollup_users_hour_totals; DELETE FROM rollup_users_pending;
  DELETE FROM rollup_top_users; DELETE FROM rollup_user_weeks_pending;
  DELETE FROM mp_jobs; DELETE FROM mp_jobs_pending;
  DELETE FROM mp_job_providers; DELETE FROM mp_job_providers_pending;
  EXECUTE rollups_stage_sql('events');
  PERFORM rollups_fold();
  SELECT count(*) INTO total FROM events;
  RETURN total;
END $$;

-- The events already stored: with inserts held off until this migration commits (SHARE
-- lets readers on), every committed event is either folded in here or, once the new
-- staging statement is in place, appended as a delta; never both, never neither.
LOCK TABLE events IN SHARE MODE;

INSERT INTO rollup_user_revenue (level, bucket, user_id, revenue)
SELECT 'd', sluice_bucket('1 day', occurred_at), left(user_id, 256), sum(revenue)
FROM events WHERE revenue IS NOT NULL AND user_id IS NOT NULL
GROUP BY 2, 3
UNION ALL
SELECT 'w', sluice_bucket('7 days', occurred_at), left(user_id, 256), sum(greatest(revenue, 0))
FROM events WHERE revenue IS NOT NULL AND user_id IS NOT NULL
GROUP BY 2, 3;
