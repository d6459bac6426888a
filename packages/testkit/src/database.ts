import { randomBytes, createHash } from 'node:crypto'
import pg from 'pg'
import { migrate, readMigrations } from '@sluice/db/migrate'
import { machine, testLogger } from './env.js'

/**
 * A database per test file, cloned from a template migrated once per migration set
 * (graphile-worker's approach): isolation without paying for migrations each time.
 */

export interface TestDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

async function admin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

async function ensureTemplate(serverUrl: string): Promise<string> {
  const migrations = await readMigrations()
  const hash = createHash('sha256')
  for (const m of migrations) hash.update(m.name).update(m.checksum)
  const template = `sluice_tpl_${hash.digest('hex').slice(0, 16)}`
  await admin(serverUrl, async (client) => {
    await client.query('SELECT pg_advisory_lock(7719001)')
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])
      if (rowCount) return
      const building = `${template}_b${randomBytes(3).toString('hex')}`
      await migrate(withDatabase(serverUrl, building), testLogger('migrate'))
      await client.query(`ALTER DATABASE ${building} RENAME TO ${template}`)
    } finally {
      await client.query('SELECT pg_advisory_unlock(7719001)')
    }
  })
  return template
}

export async function createTestDatabase(serverUrl: string = machine.databaseUrl): Promise<TestDatabase> {
  const template = await ensureTemplate(serverUrl)
  const stamp = new Date().toISOString().slice(0, 13).replace(/\D/g, '')
  const name = `sluice_test_${stamp}_${randomBytes(4).toString('hex')}`
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () => admin(serverUrl, async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  }
}
