import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createRegistry } from '@sluice/kit/metrics'
import { testLogger } from '@sluice/testkit/env'
import { loadAnalyticsConfig } from '../src/config.js'
import { buildAnalytics } from '../src/app.js'

/** An event as tests write it; money as a string, the way inputs send it. */
export interface TestEvent {
  source: string
  id: string
  type: string
  at: string
  stage?: string
  user?: string
  country?: string
  city?: string
  campaign?: string
  provider?: string
  job?: string
  category?: string
  revenue?: string
  currency?: string
  data?: Record<string, unknown>
}

const COLUMNS = [
  'source', 'event_id', 'event_type', 'funnel_stage', 'occurred_at', 'received_at', 'user_id', 'country', 'city',
  'campaign_id', 'provider_id', 'job_id', 'category', 'revenue', 'currency', 'data',
] as const

/**
 * Inserts the rows in one statement the way the worker does (INSERT … SELECT …
 * ON CONFLICT DO NOTHING), so the rollup trigger sees exactly the rows that are new.
 */
export async function insertEvents(client: pg.ClientBase, events: TestEvent[]): Promise<number> {
  const columns: unknown[][] = COLUMNS.map(() => [])
  for (const e of events) {
    const values = [
      e.source, e.id, e.type, e.stage ?? null, e.at, e.at, e.user ?? null, e.country ?? null, e.city ?? null,
      e.campaign ?? null, e.provider ?? null, e.job ?? null, e.category ?? null, e.revenue ?? null, e.currency ?? null,
      JSON.stringify(e.data ?? {}),
    ]
    values.forEach((v, i) => columns[i]!.push(v))
  }
  const types = ['text', 'text', 'text', 'text', 'timestamptz', 'timestamptz', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'numeric', 'text', 'jsonb']
  const result = await client.query(
    `INSERT INTO events (${COLUMNS.join(', ')})
     SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
     ON CONFLICT (source, event_id) DO NOTHING`,
    columns,
  )
  return result.rowCount ?? 0
}

/** Keeps every delta pending until fold() (the trigger would fold on its own schedule). */
export async function holdDeltas(client: pg.ClientBase): Promise<void> {
  await client.query(`UPDATE rollup_state SET fold_every = 1000000000, folded_at = 'infinity'`)
}

export async function fold(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT rollups_fold()')
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

export async function startAnalytics(url: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildAnalytics(
    loadAnalyticsConfig({ env: { DATABASE_URL: url, ...env } }),
    testLogger('analytics'),
    createRegistry('analytics', { defaults: false }),
  )
  await app.ready()
  return app
}

export async function get<T = Record<string, unknown>>(app: FastifyInstance, url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url })
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  return res.json<T>()
}
