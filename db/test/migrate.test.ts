import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { machine, testLogger } from '@sluice/testkit/env'
import { migrate, MigrationError } from '../src/migrate.js'

const log = testLogger()
const created: string[] = []

function freshUrl(): string {
  const name = `sluice_migtest_${randomBytes(4).toString('hex')}`
  created.push(name)
  const u = new URL(machine.databaseUrl)
  u.pathname = `/${name}`
  return u.toString()
}

after(async () => {
  const u = new URL(machine.databaseUrl)
  u.pathname = '/postgres'
  const c = new pg.Client({ connectionString: u.toString() })
  await c.connect()
  for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await c.end()
})

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return (await c.query<T>(sql)).rows
  } finally {
    await c.end()
  }
}

test('creates the missing database, applies every migration, and records them', async () => {
  const url = freshUrl()
  const first = await migrate(url, log)
  assert.ok(first.applied.includes('0001_events.sql'))
  const cols = await query<{ column_name: string }>(url, `SELECT column_name FROM information_schema.columns WHERE table_name = 'events'`)
  const names = new Set(cols.map((c) => c.column_name))
  for (const c of ['event_id', 'source', 'event_type', 'funnel_stage', 'occurred_at', 'received_at', 'user_id', 'session_id', 'device_id', 'country', 'city', 'campaign_id', 'provider_id', 'job_id', 'category', 'revenue', 'currency', 'data']) {
    assert.ok(names.has(c), `events.${c} exists`)
  }
  const second = await migrate(url, log)
  assert.deepEqual(second.applied, [])
  assert.ok(second.skipped.length >= 1)
})

test('(source, event_id) is unique', async () => {
  const url = freshUrl()
  await migrate(url, log)
  const insert = `INSERT INTO events (source, event_id, event_type, occurred_at, received_at) VALUES ('web', 'e1', 'x', now(), now())`
  await query(url, insert)
  await assert.rejects(query(url, insert), /duplicate key/)
  await query(url, insert.replace("'web'", "'ios'"))
})

test('a failing migration is rolled back, reported by name, and not recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-mig-'))
  try {
    await writeFile(join(dir, '0001_ok.sql'), 'CREATE TABLE ok_table (id int);')
    await writeFile(join(dir, '0002_bad.sql'), 'CREATE TABLE half (id int); SELECT no_such_column FROM ok_table;')
    const url = freshUrl()
    const dirUrl = pathToFileURL(dir + '/')
    await assert.rejects(migrate(url, log, dirUrl), (err: unknown) => err instanceof MigrationError && /0002_bad\.sql/.test(err.message))
    const rows = await query<{ name: string }>(url, 'SELECT name FROM schema_migrations ORDER BY name')
    assert.deepEqual(rows.map((r) => r.name), ['0001_ok.sql'])
    const half = await query<{ n: string }>(url, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'half'`)
    assert.equal(half[0]!.n, '0')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a migration edited after it was applied is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-mig-'))
  try {
    await writeFile(join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);')
    const url = freshUrl()
    const dirUrl = pathToFileURL(dir + '/')
    await migrate(url, log, dirUrl)
    await writeFile(join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);')
    await assert.rejects(migrate(url, log, dirUrl), /changed after it was applied/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('an unreachable server is reported with the URL it tried', async () => {
  await assert.rejects(migrate('postgres://root@127.0.0.1:1/sluice', log), /cannot reach PostgreSQL at postgres:\/\/root@127\.0\.0\.1:1\/sluice/)
})
