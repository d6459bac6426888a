import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRegistry } from '@sluice/kit/metrics'
import { createPool, type Pool } from '@sluice/kit/pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { testLogger } from '@sluice/testkit/env'
import { waitFor } from '@sluice/testkit/ports'
import { startFoldLoop } from '../src/fold-loop.js'

let db: TestDatabase
let pool: Pool
before(async () => {
  db = await createTestDatabase()
  pool = createPool({ url: db.url, log: testLogger('pg'), applicationName: 'fold-loop-test', max: 4 })
})
after(async () => {
  await pool.end()
  await db.drop()
})

let sequence = 0
async function insertEvents(n: number, users: string[]): Promise<void> {
  const ids = Array.from({ length: n }, () => `fold-${sequence++}`)
  await pool.query(
    `INSERT INTO events (source, event_id, event_type, funnel_stage, occurred_at, received_at, user_id, country)
     SELECT 'web', id, 'page_view', 'top', timestamptz '2026-11-20 10:00:00+00' + i * interval '1 minute', now(), ($2::text[])[1 + (i % cardinality($2::text[]))::int], 'DE'
     FROM unnest($1::text[]) WITH ORDINALITY AS t(id, i)`,
    [ids, users],
  )
}

async function pendingDeltas(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT (SELECT count(*) FROM rollup_events_pending) + (SELECT count(*) FROM rollup_users_pending) AS n')
  return Number(rows[0]!.n)
}

/** Waits until a folder has promised to fold (rollup_state.folder_until ahead). */
async function folderPromised(): Promise<void> {
  await waitFor(async () => {
    const { rows } = await pool.query<{ promised: boolean }>('SELECT folder_until > clock_timestamp() AS promised FROM rollup_state')
    return rows[0]!.promised
  }, { what: 'the folder promise' })
}

async function foldedEvents(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT coalesce(sum(events), 0) AS n FROM rollup_events WHERE level = 'd'`)
  return Number(rows[0]!.n)
}

test('the fold loop folds deltas outside the inserting transactions, and while it runs inserts only append deltas', async () => {
  // Triggers would fold on every statement if they folded at all.
  await pool.query(`UPDATE rollup_state SET fold_every = 1, fold_after = '0 seconds'`)
  const loop = startFoldLoop({ pool, log: testLogger('fold'), registry: createRegistry('worker', { defaults: false }), intervalMs: 50, quietMs: 0, timeoutMs: 10_000, minGapMs: 0, activity: () => ({ storing: false, lastAt: -Infinity }) })
  try {
    await folderPromised()
    // Inserts under the promise leave their deltas pending (no fold in the statement)…
    await pool.query('SELECT pg_advisory_lock(rollups_lock_key())') // hold the folder off meanwhile
    try {
      await insertEvents(30, ['u1', 'u2', 'u3'])
      await insertEvents(20, ['u3', 'u4'])
      assert.ok((await pendingDeltas()) > 0, 'deltas stay pending while the folder is promised')
      assert.equal(await foldedEvents(), 0)
    } finally {
      await pool.query('SELECT pg_advisory_unlock(rollups_lock_key())')
    }
    // …and the loop folds them: every event and user counted once.
    await waitFor(async () => (await pendingDeltas()) === 0, { what: 'the loop to fold' })
    assert.equal(await foldedEvents(), 50)
    const { rows } = await pool.query<{ users: string }>(`SELECT sum(bit_count(bits)) AS users FROM rollup_users_daily WHERE source = '*'`)
    assert.equal(Number(rows[0]!.users), 4)
  } finally {
    await loop.stop()
  }
  // Without a folder keeping its promise, the trigger folds again.
  await pool.query(`UPDATE rollup_state SET folder_until = '-infinity'`)
  await insertEvents(5, ['u5'])
  assert.equal(await pendingDeltas(), 0)
  assert.equal(await foldedEvents(), 55)
})

test('with a quiet time, a due fold waits for the worker to stop storing, and at most one more interval', async () => {
  await pool.query(`UPDATE rollup_state SET fold_every = 1, fold_after = '0 seconds'`)
  // The loop decides on this clock; its ticks stay real (every quietMs / 4).
  let clock = 0
  let activity = { storing: false, lastAt: -Infinity }
  const loop = startFoldLoop({
    pool,
    log: testLogger('fold'),
    registry: createRegistry('worker', { defaults: false }),
    intervalMs: 1_000,
    quietMs: 100,
    timeoutMs: 10_000,
    // This test's clock is its own; the gap between replicas' folds is read on PostgreSQL's.
    minGapMs: 0,
    activity: () => activity,
    now: () => clock,
  })
  const ticks = () => new Promise((resolve) => setTimeout(resolve, 200))
  try {
    // The first fold runs at once and makes the promise.
    await folderPromised()
    const before = await foldedEvents()

    // Batches keep being stored: past one interval the fold still waits…
    activity = { storing: true, lastAt: 0 }
    await insertEvents(12, ['q1', 'q2'])
    clock = 1_500
    await ticks()
    assert.ok((await pendingDeltas()) > 0, 'no fold while a batch is being stored, within two intervals')
    // …until the worker has been quiet for quietMs.
    activity = { storing: false, lastAt: 1_500 }
    clock = 1_550
    await ticks()
    assert.ok((await pendingDeltas()) > 0, 'not quiet long enough yet')
    clock = 1_600
    await waitFor(async () => (await pendingDeltas()) === 0, { what: 'the fold in the quiet' })
    assert.equal((await foldedEvents()) - before, 12)

    // Storing without a pause: the fold comes anyway, two intervals after the last.
    activity = { storing: true, lastAt: 1_600 }
    await insertEvents(7, ['q3'])
    clock = 3_500
    await ticks()
    assert.ok((await pendingDeltas()) > 0, 'within two intervals of the last fold')
    clock = 3_600
    await waitFor(async () => (await pendingDeltas()) === 0, { what: 'the fold two intervals after the last' })
    assert.equal((await foldedEvents()) - before, 19)
  } finally {
    await loop.stop()
  }
  await pool.query(`UPDATE rollup_state SET folder_until = '-infinity'`)
})

test('a fold is skipped when anybody folded less than the gap ago (checked under the fold lock)', async () => {
  const fold = async (sql: string) => (await pool.query<{ folded: boolean }>(sql)).rows[0]!.folded
  assert.equal(await fold(`SELECT rollups_fold_pending('10 seconds') AS folded`), true)
  assert.equal(await fold(`SELECT rollups_fold_pending('10 seconds', '1 hour') AS folded`), false, 'folded just now')
  assert.equal(await fold(`SELECT rollups_fold_pending('10 seconds', '1 millisecond') AS folded`), true, 'a gap that has passed')
  await pool.query(`UPDATE rollup_state SET folder_until = '-infinity'`)
})

test('replicas fold about once per interval between them, not once each', async () => {
  const intervalMs = 400
  const replica = () => {
    const registry = createRegistry('worker', { defaults: false })
    const loop = startFoldLoop({ pool, log: testLogger('fold'), registry, intervalMs, quietMs: 0, timeoutMs: 10_000, activity: () => ({ storing: false, lastAt: -Infinity }) })
    return { registry, loop }
  }
  // Out of step by half an interval: each on its own would fold between the other's folds.
  const a = replica()
  await new Promise((resolve) => setTimeout(resolve, intervalMs / 2))
  const b = replica()
  const folds = new Set<number>()
  try {
    await waitFor(
      async () => {
        await insertEvents(3, ['g1', 'g2'])
        const { rows } = await pool.query<{ at: number }>('SELECT extract(epoch FROM folded_at)::float8 * 1000 AS at FROM rollup_state')
        if (Number.isFinite(rows[0]!.at)) folds.add(rows[0]!.at)
        return folds.size >= 6
      },
      { intervalMs: 20, timeoutMs: 20_000, what: 'six folds' },
    )
  } finally {
    await Promise.all([a.loop.stop(), b.loop.stop()])
  }
  const times = [...folds].sort((x, y) => x - y)
  const gaps = times.slice(1).map((t, i) => Math.round(t - times[i]!))
  // folded_at is the end of a fold; the next fold starts at least the gap later and ends later still.
  assert.ok(
    gaps.every((gap) => gap >= intervalMs),
    `folds at least ${intervalMs} ms apart between replicas: ${gaps.join(', ')} ms`,
  )
  const skips = async (r: ReturnType<typeof replica>) => ((await r.registry.getSingleMetric('sluice_worker_fold_skips_total')?.get())?.values[0]?.value ?? 0)
  assert.ok((await skips(a)) + (await skips(b)) > 0, 'a replica skipped its turn')
  await pool.query(`UPDATE rollup_state SET folder_until = '-infinity'`)
})
