import { Readable } from 'node:stream'
import pg from 'pg'
import { migrate } from '@sluice/db/migrate'
import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'
import { commonSchema, loadConfigOrExit } from '@sluice/kit/config'
import { createLogger } from '@sluice/kit/logger'
import { copyInto } from '@sluice/kit/pg'
import { copyLine, DAY_MS, dayEvents } from './analytics-data.js'

/**
 * `npm run seed:analytics`: writes a realistic event history (analytics-data.ts) into a
 * database of its own with COPY, bypassing ingestion and the worker but not the rollup
 * trigger (each COPY statement is one batch for it, so the rollups are kept the way live
 * ingestion keeps them), then folds and vacuums. Kept between runs: the benchmark reads it.
 */

const config = loadConfigOrExit({
  logLevel: commonSchema.logLevel,
  databaseUrl: { ...commonSchema.databaseUrl, default: 'postgres://root@127.0.0.1:5432/sluice_bench10m', env: 'BENCH_DATABASE_URL' },
  events: { doc: 'Events to write', format: 'positive-int', default: 10_000_000, env: 'SEED_EVENTS' },
  days: { doc: 'Days of history, ending at SEED_END', format: 'positive-int', default: 90, env: 'SEED_DAYS' },
  end: { doc: 'End of the history (exclusive), a UTC date; default: 2026-11-22', format: String, default: '2026-11-22', env: 'SEED_END' },
  seed: { doc: 'Random seed', format: 'positive-int', default: 42, env: 'SEED_RANDOM' },
  copyRows: { doc: 'Rows per COPY statement (one trigger batch)', format: 'positive-int', default: 50_000, env: 'SEED_COPY_ROWS' },
})
const log = createLogger({ service: 'seed', level: config.logLevel })

const end = Date.parse(`${config.end}T00:00:00Z`)
if (Number.isNaN(end)) throw new Error(`SEED_END: not a date: ${config.end}`)

await migrate(config.databaseUrl, log)
const pool = new pg.Pool({ connectionString: config.databaseUrl, application_name: 'sluice-seed', max: 1 })
const client = await pool.connect()
try {
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM events')
  if (Number(rows[0]!.n) > 0) {
    log.error({ events: Number(rows[0]!.n) }, `${new URL(config.databaseUrl).pathname.slice(1)} already holds events: drop the database to seed it again`)
    process.exit(1)
  }
  const started = performance.now()
  const copySql = `COPY events (${ENVELOPE_COLUMNS.join(', ')}) FROM STDIN`
  let written = 0
  let chunk: string[] = []
  const flush = async () => {
    if (chunk.length === 0) return
    await copyInto(client, copySql, Readable.from([chunk.join('')]))
    written += chunk.length
    chunk = []
  }
  for (let day = 0; day < config.days; day++) {
    for (const row of dayEvents({ events: config.events, days: config.days, end, seed: config.seed }, day)) {
      chunk.push(copyLine(row))
      if (chunk.length >= config.copyRows) await flush()
    }
    await flush()
    const s = (performance.now() - started) / 1000
    log.info({ day: new Date(end - (config.days - day) * DAY_MS).toISOString().slice(0, 10), written, perSecond: Math.round(written / s) }, 'seeded a day')
  }
  const copied = (performance.now() - started) / 1000
  await client.query('SELECT pg_advisory_lock(rollups_lock_key())')
  await client.query('SELECT rollups_fold()')
  await client.query('SELECT pg_advisory_unlock(rollups_lock_key())')
  const folded = (performance.now() - started) / 1000
  log.info('vacuuming (index-only scans need the visibility map)')
  await client.query('VACUUM (ANALYZE)')
  const { rows: sizes } = await client.query<{ events: string; rollups: string; indexes: string }>(`
    SELECT pg_size_pretty(pg_table_size('events')) AS events, pg_size_pretty(pg_indexes_size('events')) AS indexes,
           pg_size_pretty((SELECT sum(pg_total_relation_size(oid)) FROM pg_class WHERE relkind = 'r' AND (relname LIKE 'rollup_%' OR relname LIKE 'mp_%' OR relname LIKE 'user_key%'))::bigint) AS rollups`)
  log.info(
    { events: written, copySeconds: Math.round(copied), foldSeconds: Math.round(folded - copied), totalSeconds: Math.round((performance.now() - started) / 1000), perSecond: Math.round(written / copied), eventsTable: sizes[0]!.events, eventIndexes: sizes[0]!.indexes, rollups: sizes[0]!.rollups },
    'seeded',
  )
} finally {
  client.release()
  await pool.end()
}
