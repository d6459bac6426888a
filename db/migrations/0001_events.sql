-- One row per accepted event (design.md §2). (source, event_id) is the idempotency key:
-- redeliveries, re-sends and re-imports hit the primary key and are dropped.
CREATE TABLE events (
  source        text        NOT NULL,
  event_id      text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
  event_type    text        NOT NULL,
  funnel_stage  text,
  occurred_at   timestamptz NOT NULL,
  received_at   timestamptz NOT NULL,
  stored_at     timestamptz NOT NULL DEFAULT now(),
  user_id       text,
  session_id    text,
  device_id     text,
  country       text,
  city          text,
  campaign_id   text,
  provider_id   text,
  job_id        text,
  category      text,
  revenue       numeric,
  currency      text,
  request_id    text,
  data          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (source, event_id)
);

COMMENT ON TABLE events IS 'Every accepted event, stored once per (source, event_id)';
COMMENT ON COLUMN events.stored_at IS 'Start of the worker transaction that stored the row';
COMMENT ON COLUMN events.data IS 'The rest of the payload, as sent';

CREATE INDEX events_occurred_at_idx ON events (occurred_at);
