import { isConnectionError } from '@sluice/kit/pg'

/**
 * What a PostgreSQL error means for a batch:
 * - `row`: the server rejected a value (data exception, constraint, a trigger's RAISE,
 *   an index row too large): the row that caused it can be found and dead-lettered.
 * - `conflict`: a deadlock or serialization failure; the same batch will go through
 *   when tried again.
 * - `unavailable`: anything else (server down, timeout, out of disk, missing table):
 *   nothing is wrong with the data, so nothing is dead-lettered; the batch waits.
 */
export type ErrorKind = 'row' | 'conflict' | 'unavailable'

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

export function errorKind(err: unknown): ErrorKind {
  if (err instanceof Error && isConnectionError(err)) return 'unavailable'
  const code = sqlState(err)
  if (!code) return 'unavailable'
  if (code === '40001' || code === '40P01') return 'conflict'
  if (code.startsWith('22') || code.startsWith('23') || code === 'P0001' || code === '54000') return 'row'
  return 'unavailable'
}

/** The column a COPY or constraint error names, when it does. */
export function copyColumn(err: unknown): string | undefined {
  const e = err as { column?: unknown; where?: unknown } | undefined
  if (typeof e?.column === 'string') return e.column
  return typeof e?.where === 'string' ? /, column (\w+)/.exec(e.where)?.[1] : undefined
}

/** One line for logs and dead letters: SQLSTATE, message, detail and the column when known. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const e = err as Error & { code?: string; detail?: string }
  const column = copyColumn(err)
  let text = e.code ? `${e.code} ${e.message}` : e.message
  if (column) text += ` (column ${column})`
  if (e.detail) text += `: ${e.detail}`
  return text
}

/** The 1-based line of a COPY's input that PostgreSQL rejected, when the error says. */
export function copyLine(err: unknown, table: string): number | undefined {
  const where = (err as { where?: unknown } | undefined)?.where
  if (typeof where !== 'string') return undefined
  const match = new RegExp(`COPY ${table}, line (\\d+)`).exec(where)
  return match ? Number(match[1]) : undefined
}
