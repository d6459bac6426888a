import type { Pool, PoolClient } from '@sluice/kit/pg'
import type { DeadLetter } from '../dead-letter.js'

const INSERT = `
INSERT INTO dead_letters (reason, error, subject, stream, stream_seq, published_at, delivery_count, source, event_id, payload, row_index)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::bytea[], $11::int[])
ON CONFLICT (stream, stream_seq, published_at, row_index) DO UPDATE
  SET delivery_count = GREATEST(dead_letters.delivery_count, EXCLUDED.delivery_count)
RETURNING id`

// text cannot hold NUL, and the error or a field of a poison message may contain one.
const clean = (s: string | undefined): string | null => (s === undefined ? null : s.replaceAll('\u0000', '\\u0000'))

/** Records dead letters (in the batch's transaction); returns their ids in order. */
export async function insertDeadLetters(client: PoolClient, letters: DeadLetter[]): Promise<number[]> {
  if (letters.length === 0) return []
  const { rows } = await client.query<{ id: string }>(INSERT, [
    letters.map((l) => l.reason),
    letters.map((l) => clean(l.error)),
    letters.map((l) => clean(l.subject)),
    letters.map((l) => l.stream),
    letters.map((l) => l.streamSeq),
    letters.map((l) => l.publishedAt),
    letters.map((l) => l.deliveryCount),
    letters.map((l) => clean(l.source)),
    letters.map((l) => clean(l.eventId)),
    letters.map((l) => Buffer.from(l.payload.buffer, l.payload.byteOffset, l.payload.byteLength)),
    letters.map((l) => l.rowIndex ?? null),
  ])
  return rows.map((r) => Number(r.id))
}

export interface DeadLetterRow {
  id: number
  dead_lettered_at: Date
  reason: string
  error: string
  subject: string
  stream: string
  stream_seq: number
  published_at: Date
  delivery_count: number
  source: string | null
  event_id: string | null
  row_index: number | null
  bytes: number
  replayed_at: Date | null
  replay_count: number
}

export interface DeadLetterWithPayload extends DeadLetterRow {
  payload: Buffer
}

const FIELDS = `id::int, dead_lettered_at, reason, error, subject, stream, stream_seq::bigint::float8 AS stream_seq, published_at,
  delivery_count, source, event_id, row_index, octet_length(payload) AS bytes, replayed_at, replay_count`

const LIST = `
SELECT ${FIELDS} FROM dead_letters
WHERE ($1::text IS NULL OR reason = $1) AND (NOT $2::boolean OR replayed_at IS NULL)
ORDER BY id DESC LIMIT $3`

export interface ListFilter {
  reason?: string
  /** Only those never replayed. */
  pending?: boolean
  limit?: number
}

export async function listDeadLetters(pool: Pool, { reason, pending = false, limit = 50 }: ListFilter = {}): Promise<DeadLetterRow[]> {
  const { rows } = await pool.query<DeadLetterRow>(LIST, [reason ?? null, pending, limit])
  return rows
}

const COUNT = `SELECT reason, count(*)::int AS total, count(*) FILTER (WHERE replayed_at IS NULL)::int AS pending FROM dead_letters GROUP BY reason ORDER BY reason`

export async function countDeadLetters(pool: Pool): Promise<{ reason: string; total: number; pending: number }[]> {
  const { rows } = await pool.query<{ reason: string; total: number; pending: number }>(COUNT)
  return rows
}

const GET = `SELECT ${FIELDS}, payload FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id`

export async function getDeadLetters(pool: Pool, ids: number[]): Promise<DeadLetterWithPayload[]> {
  const { rows } = await pool.query<DeadLetterWithPayload>(GET, [ids])
  return rows
}

const PENDING_IDS = `SELECT id::int FROM dead_letters WHERE replayed_at IS NULL AND ($1::text IS NULL OR reason = $1) ORDER BY id`

export async function pendingDeadLetterIds(pool: Pool, reason?: string): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(PENDING_IDS, [reason ?? null])
  return rows.map((r) => r.id)
}

const MARK_REPLAYED = `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1 RETURNING replay_count`

export async function markReplayed(pool: Pool, id: number): Promise<number> {
  const { rows } = await pool.query<{ replay_count: number }>(MARK_REPLAYED, [id])
  return rows[0]?.replay_count ?? 0
}
