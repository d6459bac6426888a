import { readFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { migrate } from '@sluice/db/migrate'
import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'
import { commonSchema, loadConfigOrExit } from '@sluice/kit/config'
import { createLogger } from '@sluice/kit/logger'
import { copyInto } from '@sluice/kit/pg'
import { copyLine, DAY_MS, dayEvents } from './analytics-data.js'

/**
 * `npm run bench:analytics:writes`: what the rollups and the analytics indexes cost the
 * worker. A database of its own is prefilled with history, then batches of live events
 * (5,000 new + 250 re-sent, a day of the generator squeezed into a minute) are stored
 * the way the worker stores them: one transaction, COPY into a temporary staging table,
 * INSERT … SELECT … ON CONFLICT DO NOTHING. Five variants on the same table: everything
 * (trigger + indexes) folded by the trigger, the same folded by a second connection every
 * second (as the worker's fold loop does), the trigger alone, neither (the foundation's
 * table), the analytics indexes alone. Besides wall time (noisy on a shared machine), the
 * CPU time of the PostgreSQL backends doing the inserts and the folds is read from /proc.
 * Each variant ends with a fold of whatever is still pending, counted in its mean.
 */

const config = loadConfigOrExit({
  logLevel: commonSchema.logLevel,
  databaseUrl: { ...commonSchema.databaseUrl, default: 'postgres://root@127.0.0.1:5432/sluice_bench_writes', env: 'BENCH_WRITES_DATABASE_URL' },
  prefill: { doc: 'Events written before measuring', format: 'positive-int', default: 1_000_000, env: 'WRITE_PREFILL' },
  batches: { doc: 'Batches per variant', format: 'positive-int', default: 40, env: 'WRITE_BATCHES' },
  foldEvery: { doc: 'rollup_state.fold_every while measuring', format: 'positive-int', default: 32, env: 'WRITE_FOLD_EVERY' },
  foldIntervalMs: { doc: 'Pause between background folds (the worker fold loop variant)', format: 'positive-int', default: 2_000, env: 'WRITE_FOLD_INTERVAL_MS' },
  foldAfter: { doc: 'rollup_state.fold_after while measuring', format: String, default: '2 seconds', env: 'WRITE_FOLD_AFTER' },
})
const log = createLogger({ service: 'write-bench', level: config.logLevel })
const COLUMNS = ENVELOPE_COLUMNS.join(', ')
const BATCH = 5_000
const RESENT = 250

const adminUrl = new URL(config.databaseUrl)
const name = adminUrl.pathname.slice(1)
adminUrl.pathname = '/postgres'
const admin = new pg.Client({ connectionString: adminUrl.toString() })
await admin.connect()
await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
await admin.end()
await migrate(config.databaseUrl, log)

const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 })
const client = await pool.connect()
// A second connection folds in the background the way the worker's fold loop does
// (services/worker/src/fold-loop.ts), for the variant that says so.
const folderClient = await pool.connect()
const end = Date.UTC(2026, 10, 22)
const days = 30

try {
  // History, through the trigger, the way the seeder writes it.
  let written = 0
  for (let day = 0; day < days && written < config.prefill; day++) {
    const lines: string[] = []
    for (const row of dayEvents({ events: config.prefill, days, end, seed: 7 }, day)) lines.push(copyLine(row))
    for (let i = 0; i < lines.length; i += 50_000) await copyInto(client, `COPY events (${COLUMNS}) FROM STDIN`, Readable.from([lines.slice(i, i + 50_000).join('')]))
    written += lines.length
  }
  await client.query('SELECT rollups_fold()')
  await client.query('VACUUM (ANALYZE)')
  await client.query('UPDATE rollup_state SET fold_every = $1, fold_after = $2::interval', [config.foldEvery, config.foldAfter])
  log.info({ written, foldEvery: config.foldEvery, foldAfter: config.foldAfter }, 'prefilled')

  // Live batches: the next day of the generator squeezed into one minute after `end`.
  const live: string[][] = []
  let sequence = 0
  const liveRows = () => {
    const rows = [...dayEvents({ events: (config.batches * 5 + 8) * BATCH, days: 1, end: end + DAY_MS, seed: 11 }, 0)]
    return rows.map((r) => {
      const offset = Date.parse(r.occurred_at!) - end
      return { ...r, occurred_at: new Date(end + Math.floor(offset / 1440)).toISOString() }
    })
  }
  const all = liveRows()
  for (let i = 0; i + BATCH <= all.length; i += BATCH) live.push(all.slice(i, i + BATCH).map((r) => copyLine({ ...r, event_id: `${r.event_id}-${sequence++}` })))

  const stage = `CREATE TEMP TABLE IF NOT EXISTS events_staging ON COMMIT DELETE ROWS AS SELECT ${COLUMNS} FROM events WITH NO DATA`
  const insert = `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM events_staging ON CONFLICT (source, event_id) DO NOTHING`
  let next = 0
  let previous: string[] = []
  const { rows: backend } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const { rows: folderBackend } = await folderClient.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const ticksOf = async (pid: number) => {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime + stime, in clock ticks (1/100 s)
  }
  const ticks = async () => (await ticksOf(backend[0]!.pid)) + (await ticksOf(folderBackend[0]!.pid))
  async function variant(label: string, background = false) {
    const cpuBefore = await ticks()
    const times: number[] = []
    let folding = background
    const folds = (async () => {
      while (folding) {
        await folderClient.query(`SELECT rollups_fold_pending('10 seconds')`)
        await new Promise((resolve) => setTimeout(resolve, config.foldIntervalMs))
      }
    })()
    for (let b = 0; b < config.batches; b++) {
      const batch = live[next++]!
      const text = batch.join('') + previous.slice(0, RESENT).join('')
      previous = batch
      const t = performance.now()
      await client.query('BEGIN')
      await client.query(stage)
      await copyInto(client, `COPY events_staging (${COLUMNS}) FROM STDIN`, Readable.from([text]))
      await client.query(insert)
      await client.query('COMMIT')
      times.push(performance.now() - t)
    }
    folding = false
    await folds
    await client.query(`UPDATE rollup_state SET folder_until = '-infinity'`)
    // Fold what is still pending, so every variant pays for all of its rollup work.
    const foldStarted = performance.now()
    await client.query('SELECT pg_try_advisory_lock(rollups_lock_key())')
    await client.query('SELECT rollups_fold()')
    await client.query('SELECT pg_advisory_unlock(rollups_lock_key())')
    const lastFold = performance.now() - foldStarted
    const cpuMicros = ((await ticks()) - cpuBefore) * 10_000
    const sorted = [...times].sort((a, b) => a - b)
    const mean = (times.reduce((a, b) => a + b, 0) + lastFold) / times.length
    return {
      label,
      mean,
      p50: sorted[Math.floor(sorted.length / 2)]!,
      p95: sorted[Math.ceil(sorted.length * 0.95) - 1]!,
      rowsPerSecond: (BATCH / mean) * 1000,
      cpuPerEvent: cpuMicros / (config.batches * BATCH),
    }
  }

  // Trigger variants first: events written with the trigger off leave users without keys
  // that a later trigger variant would then have to key.
  const results = []
  results.push(await variant('rollup trigger + analytics indexes (as migrated), folded by the trigger'))
  results.push(await variant(`rollup trigger + analytics indexes, folded every ${config.foldIntervalMs} ms by a second connection (the worker's fold loop)`, true))
  const { rows: defs } = await client.query<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname IN ('events_type_time_idx', 'events_user_time_idx', 'events_revenue_time_idx')`,
  )
  await client.query('DROP INDEX events_type_time_idx, events_user_time_idx, events_revenue_time_idx')
  results.push(await variant('rollup trigger only'))
  await client.query('SELECT rollups_fold()')
  await client.query('ALTER TABLE events DISABLE TRIGGER events_rollups')
  results.push(await variant('neither (the foundation table)'))
  for (const d of defs) await client.query(d.indexdef)
  results.push(await variant('analytics indexes only'))
  await client.query('ALTER TABLE events ENABLE TRIGGER events_rollups')

  const baseline = results.find((r) => r.label.startsWith('neither'))!
  const more = (a: number, b: number) => (a === b ? '–' : `${a > b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %`)
  console.log(
    `\n${written.toLocaleString('en')} events of history; ${config.batches} batches of ${BATCH} new + ${RESENT} re-sent events per variant; fold every ${config.foldEvery} statements or ${config.foldAfter}\n`,
  )
  console.log('| variant | ms per batch (mean) | p50 | p95 | new events/s | PostgreSQL CPU µs per event | wall vs foundation | CPU vs foundation |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) {
    console.log(
      `| ${r.label} | ${r.mean.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${Math.round(r.rowsPerSecond).toLocaleString('en')} | ${r.cpuPerEvent.toFixed(1)} | ${more(r.mean, baseline.mean)} | ${more(r.cpuPerEvent, baseline.cpuPerEvent)} |`,
    )
  }
} finally {
  client.release()
  folderClient.release()
  await pool.end()
}
