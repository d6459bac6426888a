import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import type { Topology } from '@sluice/contracts/topology'
import type { Logger } from '@sluice/kit/logger'
import { withClient, type Pool } from '@sluice/kit/pg'
import { CopyBuffer } from './copy-buffer.js'
import { copyRow } from './copy-row.js'
import { deadLetterOf, publishDeadLetters, type DeadLetter, type DeadLetterReason } from './dead-letter.js'
import { decode } from './decode.js'
import type { WorkerMetrics } from './metrics.js'
import { copyColumn, describeError, errorKind, sqlState } from './pg-errors.js'
import { insertDeadLetters } from './sql/dead-letters.js'
import { ensureStaging, storeRows } from './store.js'

/**
 * One group of messages, from bytes to acks, in one transaction. Expected outcomes are
 * values: what was stored and dead-lettered (and acked), and what must be retried (the
 * caller naks it). Every message ends acked or handed back — never left unanswered.
 */

export interface BatchDeps {
  pool: Pool
  js: JetStreamClient
  topology: Topology
  log: Logger
  metrics: WorkerMetrics
  batchSize: number
  maxDeliver: number
  copyMode?: CopyMode
  /** Leave rollup folds to other transactions (the live lane while an import runs; migration 0041). */
  deferFold?: () => boolean
}

export type RetryCause = 'conflict' | 'unavailable'

/**
 * Whether to try the direct COPY: after one hit a duplicate, the next batches likely
 * hold more (a redelivered backlog, a re-import), so they go staged until one of them
 * finds no duplicate.
 */
export class CopyMode {
  private stagedLeft = 0
  direct(msgs: JsMsg[]): boolean {
    return this.stagedLeft === 0 && msgs.every((m) => m.info.deliveryCount === 1)
  }
  after(result: { direct: boolean; duplicateSeen: boolean; duplicates: number }): void {
    if (result.duplicateSeen) this.stagedLeft = 20
    else if (!result.direct && result.duplicates === 0 && this.stagedLeft > 0) this.stagedLeft = 0
    else if (this.stagedLeft > 0) this.stagedLeft--
  }
}

const defaultCopyMode = new CopyMode()

export interface Retry {
  msgs: JsMsg[]
  cause: RetryCause
  error: unknown
}

/** What became of a group: counts of what was acked, and the messages to nak, if any. */
export interface GroupResult {
  inserted: number
  duplicates: number
  deadLettered: number
  retry?: Retry
}

const CONFLICT_RETRIES = 3
const DEFER_FOLD = "SET LOCAL sluice.defer_fold = 'on'"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Splits a batch so that a message that keeps failing its batch (a timeout, a crash)
 * drags fewer batch-mates with it each time: first deliveries go together; later ones go
 * in groups that shrink geometrically from batchSize to 1 at the last delivery
 * (maxDeliver), so by then a culprit is tried alone and the others get through.
 */
export function deliveryGroups(msgs: JsMsg[], batchSize: number, maxDeliver: number): JsMsg[][] {
  if (msgs.every((m) => m.info.deliveryCount === 1)) return [msgs]
  const byCount = new Map<number, JsMsg[]>()
  for (const m of msgs) {
    const n = m.info.deliveryCount
    const list = byCount.get(n)
    if (list) list.push(m)
    else byCount.set(n, [m])
  }
  const groups: JsMsg[][] = []
  for (const [n, list] of [...byCount].sort((a, b) => a[0] - b[0])) {
    const size = n === 1 ? batchSize : maxDeliver <= 1 ? 1 : Math.max(1, Math.floor(batchSize ** (Math.max(0, maxDeliver - n) / (maxDeliver - 1))))
    for (let i = 0; i < list.length; i += size) groups.push(list.slice(i, i + size))
  }
  return groups
}

interface Prepared {
  rows: CopyBuffer
  /** Per row: the message it came from, its line in that message (multi-envelope messages), its bytes, when it was received (ms). */
  stored: JsMsg[]
  line: (number | undefined)[]
  bytes: Uint8Array[]
  receivedAt: number[]
  letters: { msg: JsMsg; letter: DeadLetter }[]
}

const NEWLINE = 0x0a

/**
 * A message's envelopes: the whole message, or each line of an import message (JSON
 * text never holds a raw newline, so a newline can only separate envelopes).
 */
export function messageRows(data: Uint8Array): Uint8Array[] | undefined {
  let end = data.indexOf(NEWLINE)
  if (end < 0) return undefined
  const rows: Uint8Array[] = []
  let start = 0
  while (end >= 0) {
    rows.push(data.subarray(start, end))
    start = end + 1
    end = data.indexOf(NEWLINE, start)
  }
  if (start < data.length) rows.push(data.subarray(start))
  return rows
}

/** Rows decoded between two turns of the event loop: a large import batch must not hold up a live one. */
const ROWS_PER_TURN = 250

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

async function prepare(msgs: JsMsg[], maxDeliver: number): Promise<Prepared> {
  // Only the encoded row is kept: the parsed envelope dies young, which keeps the
  // garbage collector's work (a fifth of the worker's CPU) down.
  const prepared: Prepared = { rows: new CopyBuffer(msgs.length * 600), stored: [], line: [], bytes: [], receivedAt: [], letters: [] }
  let sinceTurn = 0
  for (const msg of msgs) {
    const deliveries = msg.info.deliveryCount
    if (deliveries > maxDeliver) {
      // Not tried again: if this message is what keeps failing (or crashing) its
      // batches, one more try would fail the same way.
      const error = `delivered ${deliveries} times without being stored (MAX_DELIVER=${maxDeliver})`
      prepared.letters.push({ msg, letter: deadLetterOf(msg, 'max_deliver', error) })
      continue
    }
    const lines = messageRows(msg.data)
    const count = lines ? lines.length : 1
    sinceTurn += count
    if (sinceTurn > ROWS_PER_TURN) {
      sinceTurn = count
      await nextTurn()
    }
    for (let i = 0; i < count; i++) {
      const bytes = lines ? lines[i]! : msg.data
      const decoded = decode(bytes)
      if (!decoded.ok) {
        // One bad line of an import message is dead-lettered alone; its neighbours are stored.
        prepared.letters.push({ msg, letter: deadLetterOf(msg, decoded.reason, decoded.error, decoded.envelope, lines ? { index: i, bytes } : undefined) })
        continue
      }
      prepared.rows.push(copyRow(decoded.envelope, decoded.data))
      prepared.stored.push(msg)
      prepared.line.push(lines ? i : undefined)
      prepared.bytes.push(bytes)
      prepared.receivedAt.push(Date.parse(decoded.envelope.received_at))
    }
  }
  return prepared
}

/** `data` is parsed by PostgreSQL (decode.ts): its syntax errors are bad JSON like any other. */
function rejectionReason(err: Error): DeadLetterReason {
  return sqlState(err) === '22P02' && copyColumn(err) === 'data' ? 'invalid_json' : 'rejected_by_database'
}

/** Stores one group in one transaction; retries deadlocks and serialization failures in place. */
export async function storeGroup(deps: BatchDeps, msgs: JsMsg[]): Promise<GroupResult> {
  const { pool, log, metrics, maxDeliver } = deps
  const { rows, stored, line, bytes, receivedAt, letters: early } = await prepare(msgs, maxDeliver)
  metrics.batchSize.observe(rows.count + early.length)
  const lastChance = msgs.every((m) => m.info.deliveryCount >= maxDeliver)

  const copyMode = deps.copyMode ?? defaultCopyMode
  const direct = copyMode.direct(msgs)
  let committed:
    | { inserted: number; letters: { msg: JsMsg; letter: DeadLetter }[]; ids: number[]; rejected: Set<number>; direct: boolean; duplicateSeen: boolean }
    | undefined
  for (let attempt = 0; !committed; attempt++) {
    try {
      committed = await withClient(pool, async (client) => {
        await ensureStaging(client)
        await client.query('BEGIN')
        try {
          if (deps.deferFold?.()) await client.query(DEFER_FOLD)
          const outcome =
            rows.count > 0
              ? await storeRows(client, rows, { direct, lastChance, onCopy: (s) => metrics.copyDuration.observe(s) })
              : { inserted: 0, rejected: new Map<number, Error>(), direct: false, duplicateSeen: false }
          const { inserted, rejected } = outcome
          const letters = [...early]
          for (const [i, err] of rejected) {
            const msg = stored[i]!
            const decoded = decode(bytes[i]!)
            const at = line[i]
            letters.push({ msg, letter: deadLetterOf(msg, rejectionReason(err), describeError(err), decoded.envelope, at === undefined ? undefined : { index: at, bytes: bytes[i]! }) })
          }
          const ids = await insertDeadLetters(
            client,
            letters.map((l) => l.letter),
          )
          await client.query('COMMIT')
          return { inserted, letters, ids, rejected: new Set(rejected.keys()), direct: outcome.direct, duplicateSeen: outcome.duplicateSeen }
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined)
          throw err
        }
      })
    } catch (err) {
      const kind = errorKind(err)
      const cause: RetryCause = kind === 'conflict' ? 'conflict' : 'unavailable'
      metrics.batchFailures.inc({ cause })
      if (cause === 'conflict' && attempt < CONFLICT_RETRIES) {
        log.debug({ err, attempt }, 'batch conflicted with another transaction; retrying')
        await sleep(10 + Math.random() * 50 * (attempt + 1))
        continue
      }
      return { inserted: 0, duplicates: 0, deadLettered: 0, retry: { msgs, cause, error: err } }
    }
  }

  const committedAt = Date.now()
  const { inserted, letters, ids, rejected } = committed
  // A message is acked once: after the commit when all its rows are stored, after its
  // dead letters are published when some are not.
  const lettered = new Set(letters.map((l) => l.msg))
  let storedCount = 0
  let previous: JsMsg | undefined
  for (let i = 0; i < stored.length; i++) {
    if (rejected.has(i)) continue
    storedCount++
    metrics.latency.observe((committedAt - receivedAt[i]!) / 1000)
    const msg = stored[i]!
    // Rows of one message are adjacent.
    if (msg !== previous && !lettered.has(msg)) msg.ack()
    previous = msg
  }
  metrics.inserted.inc(inserted)
  metrics.duplicates.inc(storedCount - inserted)
  copyMode.after({ direct: committed.direct, duplicateSeen: committed.duplicateSeen, duplicates: storedCount - inserted })

  if (letters.length > 0) {
    try {
      await publishDeadLetters(
        deps.js,
        deps.topology,
        letters.map((l) => l.letter),
        ids,
      )
      for (const { letter } of letters) metrics.deadLettered.inc({ reason: letter.reason })
      for (const msg of lettered) msg.ack()
      log.warn({ deadLetters: letters.map(({ letter }, i) => ({ id: ids[i], reason: letter.reason, error: letter.error, subject: letter.subject, seq: letter.streamSeq, line: letter.rowIndex })) }, 'messages dead-lettered')
    } catch (err) {
      // Recorded in dead_letters already; redelivery publishes them again (same msgID).
      log.error({ err, count: letters.length }, 'could not publish dead letters to the DLQ stream; they will be redelivered')
      const retry: Retry = { msgs: [...lettered], cause: 'unavailable', error: err }
      return { inserted, duplicates: storedCount - inserted, deadLettered: 0, retry }
    }
  }
  return { inserted, duplicates: storedCount - inserted, deadLettered: letters.length }
}
