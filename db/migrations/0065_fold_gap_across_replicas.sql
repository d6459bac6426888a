-- One fold per interval across worker replicas, not one per replica.
--
-- Each replica's fold loop (services/worker/src/fold-loop.ts) used to fold every
-- ROLLUP_FOLD_INTERVAL_MS on its own clock: N replicas folded up to N times per interval,
-- each fold smaller, and a fold costs more per event the fewer events it folds (the
-- user-level work is per distinct user and fold). With `min_gap`, a replica whose turn
-- comes less than `min_gap` after anybody's last fold (rollup_state.folded_at) skips it,
-- and the loop's next turn comes an interval later. The gap is read after taking the fold
-- lock: whoever folded before has committed then, so two replicas cannot both pass the
-- check and fold one after the other. A replica that skips for the gap still renews the
-- promise (it holds the lock, so nobody is folding and no row lock is waited for):
-- otherwise inserting statements that fold often (the default: every 32 statements or
-- 2 seconds) would always have folded within the gap, and the loop would never take over.
--
-- The one-argument form (min_gap 0) stays valid for callers that fold on their own terms
-- (loadtest/src/analytics-write-bench.ts, a worker of the previous version).

DROP FUNCTION rollups_fold_pending(interval);

CREATE FUNCTION rollups_fold_pending(lease interval, min_gap interval DEFAULT '0 seconds') RETURNS boolean
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(rollups_lock_key()) THEN
    RETURN false;
  END IF;
  UPDATE rollup_state SET folder_until = clock_timestamp() + lease;
  IF min_gap > '0 seconds' AND (SELECT folded_at FROM rollup_state) > clock_timestamp() - min_gap THEN
    RETURN false;
  END IF;
  PERFORM rollups_fold();
  RETURN true;
END $$;

COMMENT ON FUNCTION rollups_fold_pending(interval, interval) IS 'Folds every pending rollup delta unless someone folded less than min_gap ago or holds the fold lock; promises to fold again within lease';
