-- Import messages carry many envelopes (one JSON line each). A row of such a message that
-- can never be stored is dead-lettered alone: row_index says which line of its message it
-- was (its payload is that line). NULL means the whole message, as before.
ALTER TABLE dead_letters ADD COLUMN row_index integer CHECK (row_index >= 0);

COMMENT ON COLUMN dead_letters.row_index IS 'Line of a multi-envelope (import) message this dead letter is; NULL for the whole message';

-- A redelivered poison row is recorded once, like a redelivered poison message.
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_stream_stream_seq_published_at_key;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_message_row_key UNIQUE NULLS NOT DISTINCT (stream, stream_seq, published_at, row_index);
