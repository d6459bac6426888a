import { Counter, Histogram, type Registry } from 'prom-client'
import type { Logger } from '@sluice/kit/logger'
import { withTransaction, type Pool } from '@sluice/kit/pg'

/** What the worker's lanes are doing, for choosing when to fold. */
export interface StoringActivity {
  /** A batch is being stored now. */
  storing: boolean
  /** When a batch last started or finished (performance.now()); -Infinity before the first. */
  lastAt: number
}

export interface FoldLoopOptions {
  pool: Pool
  log: Logger
  registry: Registry
  /** Shortest time between two folds (the longest is twice that). */
  intervalMs: number
  /**
   * Once `intervalMs` has passed, the fold waits (up to another `intervalMs`) until the
   * worker has stored nothing for this long, so that a burst of events is stored with no
   * fold in its way and the fold runs in the quiet after it. 0: fold every `intervalMs`.
   */
  quietMs: number
  /** Longest one fold may run. */
  timeoutMs: number
  /**
   * A turn that comes less than this long after anybody's last fold (another replica's:
   * rollup_state.folded_at) is skipped, so that replicas together fold about once per
   * interval, not once each. Default `intervalMs`; 0: no such check.
   */
  minGapMs?: number
  activity: () => StoringActivity
  /** The clock `activity().lastAt` is read on (tests set their own). */
  now?: () => number
}

export interface FoldLoop {
  stop(): Promise<void>
}

/**
 * Folds the rollup deltas the trigger on `events` appends (db/migrations/0021, 0062) in a
 * transaction of its own, so that batches never wait for a fold: `intervalMs` after the
 * end of the last fold, in the first moment the worker has been quiet for `quietMs`, or
 * after twice `intervalMs`. Each replica runs one. A replica skips its turn when another
 * holds the fold lock or folded less than `minGapMs` ago (db/migrations/0065), so N
 * replicas do not fold N times as often. While the folder's promise (rollup_state.folder_until)
 * holds, triggers leave folding to it; when it stops or keeps failing, they fold again.
 * A failed fold leaves its deltas pending, and readers count pending deltas, so answers
 * stay exact either way.
 */
export function startFoldLoop({ pool, log, registry, intervalMs, quietMs, timeoutMs, minGapMs = intervalMs, activity, now = () => performance.now() }: FoldLoopOptions): FoldLoop {
  const registers = [registry]
  const duration = new Histogram({
    name: 'sluice_worker_fold_duration_seconds',
    help: 'Folds of rollup deltas run by this worker',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })
  const failures = new Counter({ name: 'sluice_worker_fold_failures_total', help: 'Folds of rollup deltas that failed (their deltas stay pending)', registers })
  const skipped = new Counter({ name: 'sluice_worker_fold_skips_total', help: 'Turns of the fold loop skipped because another replica was folding or had just folded', registers })
  // The promise outlives a few missed turns, so a busy or briefly failing folder does not
  // hand folding back to the inserting transactions at once.
  const lease = `${Math.max(10_000, intervalMs * 5 + timeoutMs)} milliseconds`
  // How often the worker's activity is looked at.
  const tickMs = quietMs > 0 ? Math.max(5, Math.min(intervalMs, quietMs / 4)) : intervalMs
  let stopped = false
  let wake: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined

  async function foldOnce(): Promise<void> {
    const started = performance.now()
    try {
      const folded = await withTransaction(pool, async (client) => {
        await client.query(`SET LOCAL statement_timeout = ${Math.round(timeoutMs)}`)
        const { rows } = await client.query<{ folded: boolean }>('SELECT rollups_fold_pending($1::interval, $2::interval) AS folded', [lease, `${Math.round(minGapMs)} milliseconds`])
        return rows[0]!.folded
      })
      if (folded) duration.observe((performance.now() - started) / 1000)
      else skipped.inc()
    } catch (err) {
      failures.inc()
      log.warn({ err }, 'folding rollup deltas failed; they stay pending')
    }
  }

  /**
   * Whether to fold now: once `intervalMs` has passed since the last turn ended, at the
   * first quiet moment, and at the latest after twice that.
   */
  function due(lastFold: number): boolean {
    const at = now()
    const since = at - lastFold
    if (since < intervalMs) return false
    if (quietMs === 0 || since >= 2 * intervalMs) return true
    const { storing, lastAt } = activity()
    return !storing && at - lastAt >= quietMs
  }

  const done = (async () => {
    let lastFold = -Infinity
    while (!stopped) {
      if (due(lastFold)) {
        await foldOnce()
        // Counted from the end of the fold, as rollup_state.folded_at is: the next turn of
        // this replica then finds its own fold at least an interval old.
        lastFold = now()
      }
      if (stopped) break
      await new Promise<void>((resolve) => {
        wake = resolve
        timer = setTimeout(resolve, tickMs)
      })
    }
  })()

  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      wake?.()
      await done
    },
  }
}
