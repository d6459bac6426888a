-- Messages the worker could never store (design.md §4): bad JSON, an envelope
-- violation, a value PostgreSQL rejects, or too many deliveries. Each is also published
-- to stream EVENTS_DLQ; this table is the record `npm run dlq` lists and replays from.
CREATE TABLE dead_letters (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dead_lettered_at timestamptz NOT NULL DEFAULT now(),
  reason           text        NOT NULL CHECK (reason IN ('invalid_json', 'invalid_envelope', 'rejected_by_database', 'max_deliver')),
  error            text        NOT NULL,
  subject          text        NOT NULL,
  stream           text        NOT NULL,
  stream_seq       bigint      NOT NULL,
  published_at     timestamptz NOT NULL,
  delivery_count   integer     NOT NULL,
  source           text,
  event_id         text,
  payload          bytea       NOT NULL,
  replayed_at      timestamptz,
  replay_count     integer     NOT NULL DEFAULT 0,
  -- A redelivered poison message (the worker died before its ack) is recorded once.
  UNIQUE (stream, stream_seq, published_at)
);

COMMENT ON TABLE dead_letters IS 'Messages the worker could not store, with why; replayed with npm run dlq';
COMMENT ON COLUMN dead_letters.payload IS 'The message exactly as it was on the stream';
COMMENT ON COLUMN dead_letters.published_at IS 'When JetStream stored the original message';

CREATE INDEX dead_letters_pending_idx ON dead_letters (id) WHERE replayed_at IS NULL;
