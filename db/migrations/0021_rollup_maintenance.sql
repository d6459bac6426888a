-- How rollups follow `events` (tables in 0020).
--
-- 1. A statement-level AFTER INSERT trigger sees exactly the rows a statement inserted
--    (the worker's INSERT … ON CONFLICT DO NOTHING leaves duplicates out; COPY fires it
--    too) and appends one delta row per hour bucket and dimensions to each *_pending
--    table: aggregation and plain inserts, no lookups, no row locks shared with other
--    worker replicas, in the inserting transaction, so a delta exists iff its events do.
-- 2. Every rollup_state.fold_every statements, or when the last fold is older than
--    rollup_state.fold_after, the statement that gets the fold lock (never waiting for it) folds every pending delta
--    into the hour and day rows: DELETE … RETURNING and upsert in one transaction, so a
--    reader sees each event either as a delta or folded, never both, never neither.
--    Users get their bitmap keys here, one folder at a time. A failed fold is rolled
--    back alone (a warning) and leaves its deltas pending.
-- 3. rollups_rebuild() recomputes everything from `events` in one snapshot while
--    ingestion goes on (see packages/cli/src/rollups-rebuild.ts).

CREATE FUNCTION sluice_zero_chunk() RETURNS bit(4096)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN repeat('0', 4096)::bit(4096);

-- Advisory lock key held by whoever folds or rebuilds ("sluice rollups").
CREATE FUNCTION rollups_lock_key() RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN 5426735127010001;

-- Gives each new user a key from the current block of the place of its first event.
-- new_users must be distinct; new_places[i] is the place of new_users[i].
CREATE FUNCTION user_keys_assign(new_users text[], new_places text[]) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  chunk   CONSTANT integer := 4096;
  p       record;
  cur_block integer;
  cur_used  integer;
  n         integer;
  blocks  integer[];
  ids     text[] := '{}';
  keys    integer[] := '{}';
BEGIN
  FOR p IN
    SELECT place, array_agg(user_id ORDER BY user_id) AS users
    FROM unnest(new_users, new_places) AS t(user_id, place)
    GROUP BY place
    ORDER BY place
  LOOP
    SELECT b.block, b.used INTO cur_block, cur_used FROM user_key_blocks b WHERE b.place = p.place FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO user_key_blocks (place, block, used)
      VALUES (p.place, nextval('user_key_block_seq'), 0)
      ON CONFLICT (place) DO NOTHING;
      SELECT b.block, b.used INTO cur_block, cur_used FROM user_key_blocks b WHERE b.place = p.place FOR UPDATE;
    END IF;
    n := cardinality(p.users);
    -- Slots cur_used .. cur_used+n-1 of the current block and as many fresh blocks as they overflow into.
    blocks := ARRAY[cur_block] || ARRAY(SELECT nextval('user_key_block_seq')::integer FROM generate_series(1, (cur_used + n - 1) / chunk));
    ids := ids || p.users;
    keys := keys || ARRAY(
      SELECT blocks[1 + (cur_used + o - 1) / chunk] * chunk + (cur_used + o - 1) % chunk
      FROM generate_series(1, n) AS o ORDER BY o);
    UPDATE user_key_blocks SET block = blocks[cardinality(blocks)], used = (cur_used + n - 1) % chunk + 1
    WHERE place = p.place;
  END LOOP;
  -- A user another transaction keyed meanwhile keeps that key; the slot given here stays unused.
  INSERT INTO user_keys (user_id, key)
  SELECT t.user_id, t.key FROM unnest(ids, keys) AS t(user_id, key) ORDER BY t.user_id
  ON CONFLICT (user_id) DO NOTHING;
END $$;

-- One statement appending the deltas of every rollup for the rows of `rel` (the trigger's
-- transition table, or `events` for a rebuild).
CREATE FUNCTION rollups_stage_sql(rel text) RETURNS text
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

-- Folds every pending delta into the hour and day rows. The caller holds the fold lock.
-- Folds hash tens of thousands of users at a time: give them memory for it.
CREATE FUNCTION rollups_fold() RETURNS void
  LANGUAGE plpgsql
  SET work_mem = '64MB'
  AS $$
DECLARE
  pending_users tid[];
  new_users     text[];
  new_places    text[];
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
  SELECT array_agg(user_id ORDER BY user_id), array_agg(place ORDER BY user_id) INTO new_users, new_places
  FROM (
    SELECT DISTINCT ON (u.user_id) u.user_id, p.country || '/' || p.city AS place
    FROM rollup_users_pending p, unnest(p.user_ids) AS u(user_id)
    WHERE p.ctid = ANY (pending_users)
      AND NOT EXISTS (SELECT 1 FROM user_keys k WHERE k.user_id = u.user_id)
    ORDER BY u.user_id, p.bucket, p.country, p.city
  ) n;
  IF new_users IS NOT NULL THEN
    PERFORM user_keys_assign(new_users, new_places);
  END IF;

  -- Users: the keys of each hour and day merged into their chunks (offsets or bitmaps for
  -- hours, bitmaps for days). '*' rows (every source) come from the same keys.
  WITH moved AS (DELETE FROM rollup_users_pending WHERE ctid = ANY (pending_users) RETURNING *),
  listed AS MATERIALIZED (
    SELECT DISTINCT m.bucket, m.source, m.funnel_stage, m.country, m.city, u.user_id
    FROM moved m, unnest(m.user_ids) AS u(user_id)
  ),
  keyed AS MATERIALIZED (
    SELECT l.bucket, l.source, l.funnel_stage, l.country, l.city, k.key
    FROM listed l JOIN user_keys k ON k.user_id = l.user_id
  ),
  hourly AS (
    SELECT bucket, source, key >> 12 AS chunk, array_agg((key & 4095)::smallint) AS offsets
    FROM (SELECT bucket, source, key FROM keyed UNION SELECT bucket, '*', key FROM keyed) x
    GROUP BY 1, 2, 3
  ),
  -- Each touched chunk with its new users: offsets while it holds 256 users or fewer,
  -- a bitmap from then on.
  hourly_merged AS MATERIALIZED (
    SELECT h.bucket, h.source, h.chunk, coalesce(o.users, 0) AS users_before,
           CASE WHEN o.bits IS NULL AND cardinality(u.offsets) <= 256 THEN u.offsets END AS offsets,
           CASE WHEN o.bits IS NOT NULL OR cardinality(u.offsets) > 256
                THEN coalesce(o.bits, sluice_zero_chunk()) | (SELECT bit_or(set_bit(sluice_zero_chunk(), x, 1)) FROM unnest(u.offsets) AS x) END AS bits
    FROM hourly h
    LEFT JOIN LATERAL (
      SELECT t.offsets, t.bits, t.users FROM rollup_users_hourly t WHERE t.bucket = h.bucket AND t.source = h.source AND t.chunk = h.chunk
    ) o ON true
    CROSS JOIN LATERAL (
      SELECT ARRAY(SELECT DISTINCT x FROM unnest(coalesce(o.offsets, '{}') || h.offsets) AS x ORDER BY x) AS offsets
    ) u
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
  daily AS MATERIALIZED (
    SELECT DISTINCT sluice_bucket('1 day', bucket) AS bucket, source, funnel_stage, country, city, key FROM keyed
  ),
  g_up AS (
    INSERT INTO rollup_users_daily AS t (bucket, source, chunk, bits)
    SELECT bucket, source, key >> 12, bit_or(set_bit(sluice_zero_chunk(), key & 4095, 1))
    FROM (
      SELECT DISTINCT bucket, source, key FROM daily
      UNION ALL SELECT DISTINCT bucket, '*', key FROM daily
    ) x
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (bucket, source, chunk) DO UPDATE SET bits = t.bits | excluded.bits
  ),
  s_up AS (
    INSERT INTO rollup_stage_users_daily AS t (bucket, source, funnel_stage, chunk, bits)
    SELECT bucket, source, funnel_stage, key >> 12, bit_or(set_bit(sluice_zero_chunk(), key & 4095, 1))
    FROM (SELECT DISTINCT bucket, source, funnel_stage, key FROM daily WHERE funnel_stage <> '') x
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (bucket, source, funnel_stage, chunk) DO UPDATE SET bits = t.bits | excluded.bits
  )
  INSERT INTO rollup_place_users_daily AS t (bucket, source, country, city, chunk, bits)
  SELECT bucket, source, country, city, key >> 12, bit_or(set_bit(sluice_zero_chunk(), key & 4095, 1))
  FROM (
    SELECT DISTINCT bucket, source, country, city, key FROM daily
    UNION ALL SELECT DISTINCT bucket, '*', country, city, key FROM daily
  ) x
  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (bucket, source, country, city, chunk) DO UPDATE SET bits = t.bits | excluded.bits;

  -- Top users: merge each week's pending counts into its Misra-Gries summary (add the
  -- counts, subtract the 2,001st largest counter from every counter, keep the counters
  -- still positive; delta grows by what was subtracted).
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
         coalesce(array_agg(c.user_id ORDER BY c.n DESC, c.user_id) FILTER (WHERE c.n > k.cut), '{}'),
         coalesce(array_agg(c.n - k.cut ORDER BY c.n DESC, c.user_id) FILTER (WHERE c.n > k.cut), '{}')
  FROM cuts k JOIN counters c ON c.week = k.week AND c.source = k.source
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

-- Folds when it is time and nobody else is folding. Called by the trigger.
CREATE FUNCTION rollups_maybe_fold() RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  state rollup_state;
BEGIN
  SELECT * INTO state FROM rollup_state;
  IF nextval('rollup_statement_seq') % state.fold_every <> 0 AND state.folded_at >= clock_timestamp() - state.fold_after THEN
    RETURN;
  END IF;
  IF NOT pg_try_advisory_xact_lock(rollups_lock_key()) THEN
    RETURN; -- someone else is folding or rebuilding
  END IF;
  BEGIN
    PERFORM rollups_fold();
  EXCEPTION WHEN OTHERS THEN
    -- The deltas stay pending and readers still count them: nothing is lost by skipping.
    RAISE WARNING 'sluice rollups: fold failed, deltas stay pending: % (%)', SQLERRM, SQLSTATE;
  END;
END $$;

CREATE FUNCTION events_rollups_on_insert() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM inserted) THEN
    RETURN NULL; -- every row was a duplicate
  END IF;
  EXECUTE rollups_stage_sql('inserted');
  PERFORM rollups_maybe_fold();
  RETURN NULL;
END $$;

CREATE TRIGGER events_rollups AFTER INSERT ON events
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION events_rollups_on_insert();

-- TRUNCATE events empties what was derived from it.
CREATE FUNCTION events_rollups_on_truncate() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE rollup_events, rollup_events_pending, rollup_geo, rollup_geo_pending, rollup_campaigns, rollup_campaigns_pending,
           rollup_revenue, rollup_revenue_pending, rollup_providers, rollup_providers_pending, rollup_users_daily,
           rollup_stage_users_daily, rollup_place_users_daily, rollup_users_hourly, rollup_users_hour_totals, rollup_users_pending, rollup_top_users,
           rollup_user_weeks_pending,
           mp_jobs, mp_jobs_pending, mp_job_providers, mp_job_providers_pending;
  RETURN NULL;
END $$;

CREATE TRIGGER events_rollups_truncate AFTER TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_rollups_on_truncate();

-- Rebuild: run in a REPEATABLE READ transaction whose snapshot was taken after the fold
-- lock (the CLI takes it as a session lock first, so no fold runs meanwhile). Deletes every rollup row and
-- every delta this snapshot sees (those of the events it sees) and recomputes them from
-- the events it sees; deltas committed later stay pending and fold afterwards.
CREATE FUNCTION rollups_rebuild() RETURNS bigint
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
