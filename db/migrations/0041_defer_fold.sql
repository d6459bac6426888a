-- While an import runs, live batches leave folding to the import's statements: a fold of
-- an import's many new users takes hundreds of milliseconds, which the live batch that
-- happened to take the fold lock would add to its events' latency. A transaction opts out
-- with SET LOCAL sluice.defer_fold = 'on' (the worker's live lane does, while its import
-- lane is busy). Deltas stay pending until the next fold, and readers count pending
-- deltas, so answers stay exact.
CREATE OR REPLACE FUNCTION rollups_maybe_fold() RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  state rollup_state;
BEGIN
  IF current_setting('sluice.defer_fold', true) = 'on' THEN
    RETURN;
  END IF;
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
