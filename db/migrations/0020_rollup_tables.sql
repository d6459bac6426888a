-- Rollups: what the analytics service reads instead of scanning `events`.
--
-- Every rollup is a pair of tables:
--   rollup_x          folded rows, keyed by (level, bucket, dimensions): level 'h' holds
--                     UTC hours, level 'd' UTC days (the same events counted at both levels);
--   rollup_x_pending  deltas appended by the trigger on `events` (0021), one row per
--                     statement and hour bucket, folded into rollup_x now and then.
-- A reader always adds both, so every committed event is counted exactly once whether
-- or not its delta has been folded yet. Appending instead of upserting keeps the write
-- path cheap and free of row locks between worker replicas; folding merges many
-- statements' deltas into one upsert per key. Text dimensions use '' for "none" so they
-- can be part of a primary key; the read API turns '' back into null.
--
-- Buckets come from sluice_bucket(): date_bin from a Monday origin, so hours, days and
-- 7-day weeks are UTC and independent of the session time zone.

CREATE FUNCTION sluice_bucket(stride interval, ts timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN date_bin(stride, ts, timestamptz '2000-01-03 00:00:00+00');

COMMENT ON FUNCTION sluice_bucket IS 'UTC bucket start of ts for an hour, day or 7-day (Monday) stride';

-- A text dimension as rollups key it: '' for none, and never longer than an index row
-- can hold (the envelope allows at most 256 characters anyway).
CREATE FUNCTION sluice_dim(value text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN coalesce(left(value, 256), '');

-- Events, revenue by source, event type and funnel stage: overview, timeseries, stages.
CREATE TABLE rollup_events (
  level        "char"      NOT NULL CHECK (level IN ('h', 'd')),
  bucket       timestamptz NOT NULL,
  source       text COLLATE "C"        NOT NULL,
  event_type   text COLLATE "C"        NOT NULL,
  funnel_stage text COLLATE "C"        NOT NULL,
  events       bigint      NOT NULL,
  revenue      numeric     NOT NULL,
  PRIMARY KEY (level, bucket, source, event_type, funnel_stage)
) WITH (fillfactor = 70);

CREATE TABLE rollup_events_pending (
  bucket       timestamptz NOT NULL,
  source       text COLLATE "C"        NOT NULL,
  event_type   text COLLATE "C"        NOT NULL,
  funnel_stage text COLLATE "C"        NOT NULL,
  events       bigint      NOT NULL,
  revenue      numeric     NOT NULL
);

-- Events, revenue by place: geo.
CREATE TABLE rollup_geo (
  level   "char"      NOT NULL CHECK (level IN ('h', 'd')),
  bucket  timestamptz NOT NULL,
  source  text COLLATE "C"        NOT NULL,
  country text COLLATE "C"        NOT NULL,
  city    text COLLATE "C"        NOT NULL,
  events  bigint      NOT NULL,
  revenue numeric     NOT NULL,
  PRIMARY KEY (level, bucket, source, country, city)
) WITH (fillfactor = 70);

CREATE TABLE rollup_geo_pending (
  bucket  timestamptz NOT NULL,
  source  text COLLATE "C"        NOT NULL,
  country text COLLATE "C"        NOT NULL,
  city    text COLLATE "C"        NOT NULL,
  events  bigint      NOT NULL,
  revenue numeric     NOT NULL
);

-- Events, revenue by campaign and event type (clicks and conversions are event types).
CREATE TABLE rollup_campaigns (
  level       "char"      NOT NULL CHECK (level IN ('h', 'd')),
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  campaign_id text COLLATE "C"        NOT NULL,
  event_type  text COLLATE "C"        NOT NULL,
  events      bigint      NOT NULL,
  revenue     numeric     NOT NULL,
  PRIMARY KEY (level, bucket, source, campaign_id, event_type)
) WITH (fillfactor = 70);

CREATE TABLE rollup_campaigns_pending (
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  campaign_id text COLLATE "C"        NOT NULL,
  event_type  text COLLATE "C"        NOT NULL,
  events      bigint      NOT NULL,
  revenue     numeric     NOT NULL
);

-- Events that carry revenue, by campaign, country and currency: the revenue endpoint.
CREATE TABLE rollup_revenue (
  level       "char"      NOT NULL CHECK (level IN ('h', 'd')),
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  campaign_id text COLLATE "C"        NOT NULL,
  country     text COLLATE "C"        NOT NULL,
  currency    text COLLATE "C"        NOT NULL,
  events      bigint      NOT NULL,
  revenue     numeric     NOT NULL,
  PRIMARY KEY (level, bucket, source, campaign_id, country, currency)
) WITH (fillfactor = 70);

CREATE TABLE rollup_revenue_pending (
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  campaign_id text COLLATE "C"        NOT NULL,
  country     text COLLATE "C"        NOT NULL,
  currency    text COLLATE "C"        NOT NULL,
  events      bigint      NOT NULL,
  revenue     numeric     NOT NULL
);

-- Marketplace search signals: provider impressions and clicks by the category and city
-- the search carried; day rows also hold category '*' and city '*' (any), one per provider.
CREATE TABLE rollup_providers (
  level       "char"      NOT NULL CHECK (level IN ('h', 'd')),
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  provider_id text COLLATE "C"        NOT NULL,
  category    text COLLATE "C"        NOT NULL,
  city        text COLLATE "C"        NOT NULL,
  impressions bigint      NOT NULL,
  clicks      bigint      NOT NULL,
  PRIMARY KEY (level, bucket, source, provider_id, category, city)
) WITH (fillfactor = 70);

CREATE INDEX rollup_providers_any_idx ON rollup_providers (bucket) INCLUDE (source, provider_id, impressions, clicks)
  WHERE level = 'd' AND category = '*' AND city = '*';

CREATE TABLE rollup_providers_pending (
  bucket      timestamptz NOT NULL,
  source      text COLLATE "C"        NOT NULL,
  provider_id text COLLATE "C"        NOT NULL,
  category    text COLLATE "C"        NOT NULL,
  city        text COLLATE "C"        NOT NULL,
  impressions bigint      NOT NULL,
  clicks      bigint      NOT NULL
);

-- Unique users. Counts of distinct users cannot be added across buckets, so each user
-- gets a small integer key and each day keeps the set of its users as bitmaps: the users
-- of a range of days are the OR of their bitmaps, counted with bit_count. A bitmap is
-- split into chunks of 4,096 keys (512 bytes); only chunks with a user in them are stored.
--
-- Keys are handed out in blocks of 4,096 per place (country/city where the user was first
-- seen), so the users of one place share few chunks: geo bitmaps stay dense however many
-- places there are. Chunk number = key >> 12 = block number. A user without a key has
-- never been folded, so is in no bitmap: readers count such users by id.
--
-- Hours keep their users too (rollup_users_hourly), for hourly series and for the
-- partial days at the ends of a range that does not start and end on UTC midnights.
CREATE TABLE user_keys (
  user_id text COLLATE "C" PRIMARY KEY,
  key     integer NOT NULL
);

CREATE TABLE user_key_blocks (
  place text COLLATE "C" PRIMARY KEY,
  block integer NOT NULL,
  used  integer NOT NULL CHECK (used BETWEEN 0 AND 4096)
);

CREATE SEQUENCE user_key_block_seq AS integer MINVALUE 0 START 0;

COMMENT ON TABLE user_keys IS 'Dense integer key per user_id, for the unique-user bitmaps';
COMMENT ON TABLE user_key_blocks IS 'The block of 4,096 keys each place is currently filling';

-- source '*' holds every source together.
CREATE TABLE rollup_users_daily (
  bucket timestamptz      NOT NULL,
  source text COLLATE "C" NOT NULL,
  chunk  integer          NOT NULL,
  bits   bit(4096)        NOT NULL,
  PRIMARY KEY (bucket, source, chunk)
) WITH (fillfactor = 70);

-- Events without a funnel stage are in no row.
CREATE TABLE rollup_stage_users_daily (
  bucket       timestamptz      NOT NULL,
  source       text COLLATE "C" NOT NULL,
  funnel_stage text COLLATE "C" NOT NULL,
  chunk        integer          NOT NULL,
  bits         bit(4096)        NOT NULL,
  PRIMARY KEY (bucket, source, funnel_stage, chunk)
) WITH (fillfactor = 70);

-- source '*' = every source.
CREATE TABLE rollup_place_users_daily (
  bucket  timestamptz      NOT NULL,
  source  text COLLATE "C" NOT NULL,
  country text COLLATE "C" NOT NULL,
  city    text COLLATE "C" NOT NULL,
  chunk   integer          NOT NULL,
  bits    bit(4096)        NOT NULL,
  PRIMARY KEY (bucket, source, country, city, chunk)
) WITH (fillfactor = 70);

-- One chunk of an hour's users per row, source '*' = every source. A chunk with few users
-- keeps their offsets in the chunk (key & 4095, sorted), a fuller one (over 256) the bitmap,
-- like Roaring bitmaps' array and bitmap containers: a quiet hour costs a few bytes per
-- user, a busy one at most 512 bytes per chunk, and a fold rewrites only the chunks it
-- touches.
CREATE TABLE rollup_users_hourly (
  bucket  timestamptz      NOT NULL,
  source  text COLLATE "C" NOT NULL,
  chunk   integer          NOT NULL,
  offsets smallint[],
  bits    bit(4096),
  users   integer          NOT NULL,
  PRIMARY KEY (bucket, source, chunk),
  CHECK ((offsets IS NULL) <> (bits IS NULL))
) WITH (fillfactor = 70);

-- The number of users of each hour and source ('*' = every source), kept with the chunks.
CREATE TABLE rollup_users_hour_totals (
  bucket timestamptz      NOT NULL,
  source text COLLATE "C" NOT NULL,
  users  bigint           NOT NULL,
  PRIMARY KEY (bucket, source)
) WITH (fillfactor = 70);

-- Pending users are user ids: they get their keys when folded (user_keys_assign in 0021).
CREATE TABLE rollup_users_pending (
  bucket       timestamptz        NOT NULL,
  source       text COLLATE "C"   NOT NULL,
  funnel_stage text COLLATE "C"   NOT NULL,
  country      text COLLATE "C"   NOT NULL,
  city         text COLLATE "C"   NOT NULL,
  user_ids     text[] COLLATE "C" NOT NULL
);

-- Top users by events. Per 7-day week and source, a Misra-Gries summary: at most 2,000
-- users with counters, and `delta`, the total subtracted so far, such that every user's
-- true count is at most its counter (0 when absent) + delta, and delta <= (the week's
-- events) / 2,001 whatever the order of arrival. The read API takes the users with the
-- largest counters as candidates, gets their exact totals from `events`
-- (events_user_time_idx), and knows nobody else can beat them when the k-th exact total
-- exceeds the sum of the bounds of the weeks involved; otherwise it takes more
-- candidates (users/top in the README). Top users by revenue need no summary: events
-- with revenue are few and have an index of their own (0022).
CREATE TABLE rollup_top_users (
  week   timestamptz        NOT NULL,
  source text COLLATE "C"   NOT NULL,
  delta  bigint             NOT NULL,
  users  text[] COLLATE "C" NOT NULL,
  counts bigint[]           NOT NULL,
  PRIMARY KEY (week, source)
);

CREATE TABLE rollup_user_weeks_pending (
  week     timestamptz        NOT NULL,
  source   text COLLATE "C"   NOT NULL,
  user_ids text[] COLLATE "C" NOT NULL,
  events   bigint[]           NOT NULL
);

-- Marketplace: one row per job and one per (job, provider), merged from their events in
-- any order (min of times, sums of counts; the job's category and city come from its
-- earliest job.posted, ties broken by event id).
CREATE TABLE mp_jobs (
  source          text COLLATE "C"        NOT NULL,
  job_id          text COLLATE "C"        NOT NULL,
  posted_at       timestamptz,
  posted_event_id text COLLATE "C",
  category        text COLLATE "C",
  city            text COLLATE "C",
  first_bid_at    timestamptz,
  bids            bigint      NOT NULL,
  quotes          bigint      NOT NULL,
  assigned_at     timestamptz,
  completed_at    timestamptz,
  cancelled_at    timestamptz,
  gmv             numeric     NOT NULL,
  payments        bigint      NOT NULL,
  PRIMARY KEY (source, job_id)
) WITH (fillfactor = 80);

CREATE INDEX mp_jobs_posted_at_idx ON mp_jobs (posted_at);

CREATE TABLE mp_jobs_pending (LIKE mp_jobs);

CREATE TABLE mp_job_providers (
  source            text COLLATE "C"        NOT NULL,
  job_id            text COLLATE "C"        NOT NULL,
  provider_id       text COLLATE "C"        NOT NULL,
  first_response_at timestamptz,
  bids              bigint      NOT NULL,
  quotes            bigint      NOT NULL,
  assigned_at       timestamptz,
  completed_at      timestamptz,
  rating_sum        numeric     NOT NULL,
  ratings           bigint      NOT NULL,
  PRIMARY KEY (source, job_id, provider_id)
) WITH (fillfactor = 80);

CREATE TABLE mp_job_providers_pending (LIKE mp_job_providers);

-- When deltas were last folded, and when to fold next: every `fold_every` statements
-- that insert events, or on the first one `fold_after` after the last fold. Operators may
-- tune both (UPDATE rollup_state SET …); deltas are counted by readers either way.
CREATE TABLE rollup_state (
  singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  folded_at  timestamptz NOT NULL DEFAULT '-infinity',
  fold_every integer     NOT NULL DEFAULT 32 CHECK (fold_every > 0),
  fold_after interval    NOT NULL DEFAULT '2 seconds'
);
INSERT INTO rollup_state DEFAULT VALUES;

CREATE SEQUENCE rollup_statement_seq;
