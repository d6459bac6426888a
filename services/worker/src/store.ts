import { Readable } from 'node:stream'
import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'
import { copyInto, type PoolClient } from '@sluice/kit/pg'
import type { CopyBuffer } from './copy-buffer.js'
import { copyLine, errorKind, sqlState } from './pg-errors.js'

/**
 * Stores rows (COPY text lines) in the caller's transaction, with exactly one statement
 * inserting into events per batch, so a statement-level trigger on events (with a
 * transition table) sees every new row of the batch once:
 *
 * - direct: `COPY events` — the fastest way in. A duplicate key (a redelivery, a
 *   re-send) or a rejected value aborts it; it is rolled back to a savepoint and the
 *   batch takes the staged path. The caller skips it when duplicates are likely.
 * - staged: COPY into a per-connection temp table, then
 *   `INSERT INTO events … SELECT … ON CONFLICT (source, event_id) DO NOTHING`.
 *
 * A row PostgreSQL rejects does not sink the batch. In the COPY, the error names the
 * line: the rows before it are known good, the row is set aside, the rest is copied
 * again — each row is copied at most twice, whatever the number of bad ones. In the
 * INSERT (a constraint, a trigger), the error names no row: halves of the staged rows
 * are tried under savepoints, and rolled back, until the rejected rows are found; then
 * the one INSERT runs without them.
 *
 * When more than half of a batch of several rows is rejected, the cause is more likely
 * the schema or a trigger than the data, so the batch is retried (SystemicRejection)
 * instead of being dead-lettered — except on a message's last delivery.
 */

const STAGING = 'events_staging'
const COLUMNS = ENVELOPE_COLUMNS.join(', ')

// CTAS copies the column types without NOT NULL or CHECK: a missing value fails in the
// INSERT, with the real table's message. Created once per connection, outside any
// transaction; ON COMMIT DELETE ROWS empties it after each batch, a rollback too. `ord`
// (last, so a row gets it by appending) is the row's index in the batch.
const CREATE_STAGING = `CREATE TEMP TABLE IF NOT EXISTS ${STAGING} ON COMMIT DELETE ROWS AS SELECT ${COLUMNS}, 0::int AS ord FROM events WITH NO DATA`
const COPY_EVENTS = `COPY events (${COLUMNS}) FROM STDIN`
const COPY_STAGING = `COPY ${STAGING} (${COLUMNS}, ord) FROM STDIN`
const INSERT_ALL = `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM ${STAGING} ON CONFLICT (source, event_id) DO NOTHING`
const INSERT_EXCEPT = `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM ${STAGING} WHERE ord <> ALL($1::int[]) ON CONFLICT (source, event_id) DO NOTHING`
const INSERT_ONLY = `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM ${STAGING} WHERE ord = ANY($1::int[]) ON CONFLICT (source, event_id) DO NOTHING`

const UNIQUE_VIOLATION = '23505'

const staged = new WeakSet<PoolClient>()

/** Creates the staging table on this connection if it does not have it yet (call outside a transaction). */
export async function ensureStaging(client: PoolClient): Promise<void> {
  if (staged.has(client)) return
  await client.query(CREATE_STAGING)
  staged.add(client)
}

export class SystemicRejection extends Error {
  override name = 'SystemicRejection'
  constructor(
    readonly rejected: number,
    readonly total: number,
    readonly example: unknown,
  ) {
    super(`PostgreSQL rejected ${rejected} of ${total} rows; retrying the batch instead of dead-lettering most of it`, { cause: example })
  }
}

export interface StoreOptions {
  /** Try `COPY events` first (no duplicate expected). */
  direct: boolean
  /** The messages are on their last delivery: dead-letter whatever is rejected, however much. */
  lastChance: boolean
  onCopy?: (seconds: number) => void
}

export interface StoreResult {
  inserted: number
  /** Row index → the error PostgreSQL gave for it. */
  rejected: Map<number, Error>
  /** The direct COPY went through. */
  direct: boolean
  /** The direct COPY hit a key already stored. */
  duplicateSeen: boolean
}

class Rejections {
  readonly map = new Map<number, Error>()
  constructor(
    private readonly total: number,
    private readonly lastChance: boolean,
  ) {}
  add(index: number, err: Error): void {
    this.map.set(index, err)
    if (!this.lastChance && this.total > 1 && this.map.size * 2 > this.total) throw new SystemicRejection(this.map.size, this.total, err)
  }
}

async function savepoint<T>(client: PoolClient, name: string, fn: () => Promise<T>, { keep }: { keep: boolean }): Promise<T> {
  await client.query(`SAVEPOINT ${name}`)
  try {
    const result = await fn()
    await client.query(keep ? `RELEASE SAVEPOINT ${name}` : `ROLLBACK TO SAVEPOINT ${name}`)
    return result
  } catch (err) {
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`)
    throw err
  }
}

function chunk(bytes: Buffer): Readable {
  return Readable.from([bytes], { objectMode: false })
}

/** Copies every row into staging but those PostgreSQL cannot read, which are recorded; returns the indexes copied. */
async function copyRows(client: PoolClient, rows: CopyBuffer, rejections: Rejections): Promise<number[]> {
  const kept: number[] = []
  const segments: number[][] = [Array.from({ length: rows.count }, (_, i) => i)]
  while (segments.length > 0) {
    const segment = segments.pop()!
    if (segment.length === 0) continue
    try {
      await savepoint(client, 'copy', () => copyInto(client, COPY_STAGING, chunk(rows.select(segment, true))), { keep: true })
      kept.push(...segment)
    } catch (err) {
      const line = copyLine(err, STAGING)
      if (errorKind(err) !== 'row' || line === undefined || line > segment.length) throw err
      rejections.add(segment[line - 1]!, err as Error)
      segments.push(segment.slice(line), segment.slice(0, line - 1))
    }
  }
  return kept
}

/** Finds the staged rows the INSERT rejects by trying halves under rolled-back savepoints. */
async function findRejected(client: PoolClient, candidates: number[], rejections: Rejections): Promise<void> {
  if (candidates.length === 0) return
  try {
    await savepoint(client, 'probe', () => client.query(INSERT_ONLY, [candidates]), { keep: false })
  } catch (err) {
    if (errorKind(err) !== 'row') throw err
    if (candidates.length === 1) return rejections.add(candidates[0]!, err as Error)
    const middle = candidates.length >>> 1
    await findRejected(client, candidates.slice(0, middle), rejections)
    await findRejected(client, candidates.slice(middle), rejections)
  }
}

/** Rows are COPY text lines of ENVELOPE_COLUMNS. Call inside a transaction, after ensureStaging. */
export async function storeRows(client: PoolClient, rows: CopyBuffer, { direct, lastChance, onCopy }: StoreOptions): Promise<StoreResult> {
  let duplicateSeen = false
  if (direct && rows.count > 0) {
    const started = performance.now()
    try {
      await savepoint(client, 'direct', () => copyInto(client, COPY_EVENTS, chunk(rows.all())), { keep: true })
      onCopy?.((performance.now() - started) / 1000)
      return { inserted: rows.count, rejected: new Map(), direct: true, duplicateSeen }
    } catch (err) {
      // A duplicate or a bad value: the staged path sorts it out. Anything else is not
      // about this batch's rows.
      if (errorKind(err) !== 'row') throw err
      duplicateSeen = sqlState(err) === UNIQUE_VIOLATION
    }
  }

  const rejections = new Rejections(rows.count, lastChance)
  const started = performance.now()
  const kept = await copyRows(client, rows, rejections)
  onCopy?.((performance.now() - started) / 1000)
  if (kept.length === 0) return { inserted: 0, rejected: rejections.map, direct: false, duplicateSeen }

  const copyRejected = rejections.map.size
  try {
    const sql = copyRejected === 0 ? INSERT_ALL : INSERT_EXCEPT
    const params = copyRejected === 0 ? [] : [[...rejections.map.keys()]]
    const result = await savepoint(client, 'insert', () => client.query(sql, params), { keep: true })
    return { inserted: result.rowCount ?? 0, rejected: rejections.map, direct: false, duplicateSeen }
  } catch (err) {
    if (errorKind(err) !== 'row') throw err
  }
  await findRejected(client, kept, rejections)
  if (rejections.map.size === copyRejected) {
    // The INSERT failed, yet no subset fails alone: not a property of any one row.
    throw new Error('the batch INSERT failed but no row fails on its own')
  }
  const result = await client.query(INSERT_EXCEPT, [[...rejections.map.keys()]])
  return { inserted: result.rowCount ?? 0, rejected: rejections.map, direct: false, duplicateSeen }
}

const PROBE_DEAD_LETTERS = 'SELECT 1 FROM dead_letters LIMIT 0'

/**
 * Runs the batch path with no rows and rolls it back: proves PostgreSQL answers and the
 * tables, columns, permissions and statement triggers the worker needs are in place,
 * without consuming a delivery of any message.
 */
export async function probeStorage(client: PoolClient): Promise<void> {
  await ensureStaging(client)
  await client.query('BEGIN')
  try {
    await client.query(INSERT_ALL)
    await client.query(PROBE_DEAD_LETTERS)
  } finally {
    await client.query('ROLLBACK')
  }
}
