-- Folds outside the inserting transactions.
--
-- Folding inside whichever worker transaction's trigger got the fold lock made that batch
-- wait for the fold (a second or more for a busy fold: BENCHMARKS.md) and kept its rows
-- locked meanwhile. A process that folds on its own (the worker's fold loop,
-- services/worker/src/fold-loop.ts) now calls rollups_fold_pending() in a transaction of
-- its own, which also promises to fold again before rollup_state.folder_until; while that
-- promise holds, the trigger only appends deltas. When no folder keeps its promise (no
-- worker running: the seeder, tests, a stopped worker), triggers fold as before. Readers
-- add pending deltas either way, so answers stay exact.

ALTER TABLE rollup_state ADD COLUMN folder_until timestamptz NOT NULL DEFAULT '-infinity';

COMMENT ON COLUMN rollup_state.folder_until IS 'Until when a background folder (the worker) has promised to fold: triggers leave folding to it';

-- Folds every pending delta if nobody else is folding or rebuilding, and promises to fold
-- again within `lease`. Returns false when the fold lock was taken. Run it in its own
-- transaction (the lock is held until it commits).
CREATE FUNCTION rollups_fold_pending(lease interval) RETURNS boolean
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(rollups_lock_key()) THEN
    RETURN false;
  END IF;
  UPDATE rollup_state SET folder_until = clock_timestamp() + lease;
  PERFORM rollups_fold();
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION rollups_maybe_fold() RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  state rollup_state;
BEGIN
  IF current_setting('sluice.defer_fold', true) = 'on' THEN
    RETURN; -- a live batch while an import runs: the import's statements fold (0041)
  END IF;
  SELECT * INTO state FROM rollup_state;
  IF state.folder_until > clock_timestamp() THEN
    RETURN; -- a background folder folds
  END IF;
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
