import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import pg from 'pg'
import type { Logger } from '@sluice/kit/logger'
import { UnreachableError } from '@sluice/kit/unreachable'

/**
 * Applies `db/migrations/*.sql` in name order, each in its own transaction, and records
 * what it applied with a checksum. Creates the database when it is missing. Concurrent
 * runners (several containers starting at once) serialise on an advisory lock.
 */

export const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url)
const LOCK_KEY = 0x51ce_0001

export interface Migration {
  name: string
  sql: string
  checksum: string
}

export async function readMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  return Promise.all(
    files.map(async (name) => {
      const sql = await readFile(new URL(name, dir), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    }),
  )
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!name) throw new MigrationError(`DATABASE_URL names no database: ${url}`)
  return name
}

/** Creates the database named in `url` when it does not exist yet. */
export async function ensureDatabase(url: string, log: Logger): Promise<void> {
  const name = databaseName(url)
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 })
  try {
    await client.connect()
  } catch (err) {
    throw new UnreachableError('postgres', url, err)
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err // created meanwhile by another runner
      })
      log.info({ database: name }, 'database created')
    }
  } finally {
    await client.end()
  }
}

export interface MigrateResult {
  applied: string[]
  skipped: string[]
}

export async function migrate(url: string, log: Logger, dir: URL = MIGRATIONS_DIR): Promise<MigrateResult> {
  await ensureDatabase(url, log)
  const migrations = await readMigrations(dir)
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, application_name: 'sluice-migrate' })
  try {
    await client.connect()
  } catch (err) {
    throw new UnreachableError('postgres', url, err)
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY])
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations')
    const done = new Map(rows.map((r) => [r.name, r.checksum]))
    const result: MigrateResult = { applied: [], skipped: [] }
    for (const m of migrations) {
      const previous = done.get(m.name)
      if (previous !== undefined) {
        if (previous !== m.checksum) {
          throw new MigrationError(`migration ${m.name} was changed after it was applied; add a new migration instead`)
        }
        result.skipped.push(m.name)
        continue
      }
      try {
        await client.query('BEGIN')
        await client.query(m.sql)
        await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err })
      }
      log.info({ migration: m.name }, 'migration applied')
      result.applied.push(m.name)
    }
    return result
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined)
    await client.end().catch(() => undefined)
  }
}
