import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFromStream } from 'pg-copy-streams'
import type { Logger } from './logger.js'
import { UnreachableError } from './unreachable.js'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient

export interface PoolSettings {
  url: string
  log: Logger
  applicationName: string
  max?: number
  /** Server-side statement timeout for every query on this pool (0 = none). */
  statementTimeoutMs?: number
  connectionTimeoutMs?: number
}

/** The one place a process gets its pool; errors of idle clients are logged, not thrown. */
export function createPool({ url, log, applicationName, max = 10, statementTimeoutMs = 0, connectionTimeoutMs = 5_000 }: PoolSettings): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: applicationName,
    max,
    connectionTimeoutMillis: connectionTimeoutMs,
    idleTimeoutMillis: 30_000,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
  })
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL client failed'))
  return pool
}

/** Checks out one client, runs fn, and always releases it (destroying it after a failure). */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let failed: unknown
  // The pool listens for errors of idle clients only: without a listener of our own, the
  // server going away while this client is checked out would be an uncaught 'error'.
  const onError = (err: Error) => {
    failed ??= err
  }
  client.on('error', onError)
  try {
    return await fn(client)
  } catch (err) {
    failed = err
    throw err
  } finally {
    client.off('error', onError)
    // A client whose connection broke must not go back to the pool.
    client.release(failed instanceof Error && isConnectionError(failed) ? failed : undefined)
  }
}

export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN')
    try {
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    }
  })
}

/** Streams rows into `COPY … FROM STDIN` on the given client (never on the pool). */
export async function copyInto(client: PoolClient, copySql: string, rows: Readable): Promise<void> {
  await pipeline(rows, client.query(copyFromStream(copySql)))
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004'])

/** True when the error says the server or the connection is gone, not that the query was wrong. */
export function isConnectionError(err: Error): boolean {
  const code = (err as { code?: string }).code
  if (code && CONNECTION_CODES.has(code)) return true
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(err.message)
}

/** Fails with an UnreachableError naming the URL when PostgreSQL does not answer. */
export async function assertPostgresReachable(url: string, timeoutMs = 5_000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (err) {
    // A missing database means the server answered: the migration runner creates it.
    if ((err as { code?: string }).code === '3D000') return
    throw new UnreachableError('postgres', url, err)
  } finally {
    await client.end().catch(() => undefined)
  }
}

export async function pingPostgres(pool: Pool): Promise<void> {
  await pool.query('SELECT 1')
}
