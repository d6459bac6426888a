import pg from 'pg'
import type { Logger } from '@sluice/kit/logger'
import { assertPostgresReachable } from '@sluice/kit/pg'

export interface RebuildResult {
  events: number
  ms: number
}

/**
 * `sluice rollups:rebuild`: recomputes every rollup from `events` (after a rollup
 * definition changed, after rows were written with triggers off, or to prove they are
 * right) while ingestion goes on.
 *
 * The fold lock (db/migrations/0021) is taken first, as a session lock, so no fold runs
 * meanwhile; then one REPEATABLE READ transaction deletes every rollup row and every
 * delta its snapshot sees and recomputes them from the events that snapshot sees. Events
 * committed after the snapshot leave their deltas pending, to be folded once the lock is
 * released; readers see the old rollups until the rebuild commits.
 */
export async function rebuildRollups(databaseUrl: string, log: Logger): Promise<RebuildResult> {
  await assertPostgresReachable(databaseUrl)
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'sluice-rollups-rebuild' })
  await client.connect()
  const started = performance.now()
  try {
    log.info('waiting for the fold lock')
    await client.query('SELECT pg_advisory_lock(rollups_lock_key())')
    let events: number
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
      try {
        await client.query(`SET LOCAL statement_timeout = 0`)
        await client.query(`SET LOCAL work_mem = '256MB'`)
        log.info('recomputing every rollup from events')
        const { rows } = await client.query<{ events: string }>('SELECT rollups_rebuild() AS events')
        await client.query('COMMIT')
        events = Number(rows[0]!.events)
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(rollups_lock_key())').catch(() => undefined)
    }
    // The rebuild replaced every rollup row: half of each table is now dead tuples and the
    // planner's statistics describe the old rows. Reads slow down by up to 2× until a
    // vacuum runs (at once here, rather than whenever autovacuum, if it is on, gets to it).
    log.info('vacuuming and analysing the rollup tables')
    const { rows: tables } = await client.query<{ name: string }>(
      `SELECT quote_ident(relname) AS name FROM pg_stat_user_tables
        WHERE schemaname = current_schema() AND (relname LIKE 'rollup\\_%' OR relname LIKE 'mp\\_%' OR relname = 'user_keys')`,
    )
    await client.query('SET statement_timeout = 0')
    if (tables.length > 0) await client.query(`VACUUM (ANALYZE) ${tables.map((t) => t.name).join(', ')}`)
    const result = { events, ms: Math.round(performance.now() - started) }
    log.info(result, 'rollups rebuilt')
    return result
  } finally {
    await client.end().catch(() => undefined)
  }
}
