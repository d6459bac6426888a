-- Indexes for the analytics queries that must read `events` itself.
--
-- Funnels (and time series filtered by event type) read the events of a few types in a
-- time range, needing only who and which source: an index-only scan.
CREATE INDEX events_type_time_idx ON events (event_type, occurred_at) INCLUDE (user_id, source);

-- The exact totals of the candidate top users, and funnel steps looked up per user.
CREATE INDEX events_user_time_idx ON events (user_id, occurred_at) INCLUDE (source, revenue)
  WHERE user_id IS NOT NULL;

-- Events with revenue are a few per cent of all: top users by revenue, and the revenue
-- of partial hours at the ends of a range, read them alone.
CREATE INDEX events_revenue_time_idx ON events (occurred_at) INCLUDE (source, user_id, revenue, currency, campaign_id, country)
  WHERE revenue IS NOT NULL;
