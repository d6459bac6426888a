import { Readable } from 'node:stream'
import pg from 'pg'
import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'
import { copyInto } from '@sluice/kit/pg'
import { processTicks } from './cpu.js'

/**
 * The ceiling a benchmark quotes its rate against: a plain COPY of the same rows, one
 * statement per chunk (the worker's batch), into an empty copy of `events` — same
 * indexes, constraints and triggers (`LIKE … INCLUDING ALL` plus the triggers of
 * `events` that are enabled, so whatever later migrations add is priced too). It aborts on a duplicate:
 * it is what PostgreSQL can take at best. When the rollups exist, the run ends with a fold
 * of the deltas still pending (timed), so the ceiling pays for the same rollup work as the
 * pipeline does. `url` is a freshly migrated database.
 */

export interface Ceiling {
  eventsPerSecond: number
  seconds: number
  rows: number
  bytesPerRow: number
  /** CPU µs per row of the PostgreSQL backend doing the COPY (from /proc). */
  postgresCpuMicrosPerEvent?: number
}

const COLUMNS = ENVELOPE_COLUMNS.join(', ')

async function backendTicks(client: pg.Client): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return processTicks(rows[0]!.pid)
}

export async function measureCeiling(url: string, chunks: string[][]): Promise<Ceiling> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('CREATE TABLE events_ceiling (LIKE events INCLUDING ALL)')
    const { rows: triggers } = await client.query<{ name: string; def: string }>(
      `SELECT tgname AS name, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal AND tgenabled <> 'D'`,
    )
    for (const trigger of triggers) {
      const def = trigger.def.replace(`TRIGGER ${trigger.name} `, `TRIGGER ${trigger.name}_ceiling `).replace(/ ON (public\.)?events /, ' ON events_ceiling ')
      await client.query(def)
    }
    await client.query('CHECKPOINT').catch(() => undefined)
    const ticksBefore = await backendTicks(client)
    const started = performance.now()
    for (const chunk of chunks) {
      await copyInto(client as unknown as pg.PoolClient, `COPY events_ceiling (${COLUMNS}) FROM STDIN`, Readable.from([chunk.join('')]))
    }
    const { rows: fold } = await client.query<{ exists: boolean }>(`SELECT to_regproc('rollups_fold') IS NOT NULL AND to_regproc('rollups_lock_key') IS NOT NULL AS exists`)
    if (fold[0]?.exists) {
      await client.query('SELECT pg_advisory_lock(rollups_lock_key())')
      await client.query('SELECT rollups_fold()')
      await client.query('SELECT pg_advisory_unlock(rollups_lock_key())')
    }
    const seconds = (performance.now() - started) / 1000
    const ticksAfter = await backendTicks(client)
    const { rows: size } = await client.query<{ bytes: string; n: string }>(`SELECT pg_total_relation_size('events_ceiling') AS bytes, (SELECT count(*) FROM events_ceiling) AS n`)
    const n = Number(size[0]!.n)
    return {
      eventsPerSecond: Math.round(n / seconds),
      seconds: Math.round(seconds * 100) / 100,
      rows: n,
      bytesPerRow: Math.round(Number(size[0]!.bytes) / n),
      ...(ticksBefore !== undefined && ticksAfter !== undefined ? { postgresCpuMicrosPerEvent: Math.round(((ticksAfter - ticksBefore) * 10_000) / n) } : {}),
    }
  } finally {
    await client.end()
  }
}
