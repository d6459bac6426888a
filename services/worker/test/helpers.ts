import { randomUUID } from 'node:crypto'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import pg from 'pg'
import { dedupeKey, type Envelope } from '@sluice/contracts/envelope'
import { eventSubject, type Topology } from '@sluice/contracts/topology'
import { loadConfig, commonSchema, jetstreamSchema } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createPool, type Pool } from '@sluice/kit/pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { startWorker, type RunningWorker } from '../src/worker.js'

export interface WorkerHarness {
  db: TestDatabase
  pool: Pool
  nc: NatsConnection
  js: JetStreamClient
  topology: Topology
  startWorker(options?: { batchSize?: number; batchMaxWaitMs?: number }): Promise<RunningWorker>
  publish(envelopes: Envelope[], options?: { msgId?: boolean }): Promise<void>
  count(): Promise<number>
  close(): Promise<void>
}

export async function workerHarness(natsUrl = machine.natsUrl): Promise<WorkerHarness> {
  const db = await createTestDatabase()
  const t = testTopology()
  const log = testLogger('worker')
  const nc = await connect({ servers: natsUrl })
  const limits = loadConfig(jetstreamSchema, { env: {} })
  await setupJetStream(nc, t, limits, log)
  const js = jetstream(nc)
  const pool = createPool({ url: db.url, log, applicationName: 'worker-test' })
  const workers: RunningWorker[] = []
  return {
    db,
    pool,
    nc,
    js,
    topology: t,
    async startWorker({ batchSize = 500, batchMaxWaitMs = 20 } = {}) {
      const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
      const w = await startWorker({ consumer, pool, log, batchSize, batchMaxWaitMs })
      workers.push(w)
      return w
    },
    async publish(envelopes, { msgId = true } = {}) {
      await Promise.all(
        envelopes.map((e) =>
          js.publish(eventSubject(t, e.source), JSON.stringify(e), msgId ? { msgID: dedupeKey(e.source, e.event_id) } : {}),
        ),
      )
    },
    async count() {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events')
      return Number(rows[0]!.n)
    },
    async close() {
      for (const w of workers) await w.stop().catch(() => undefined)
      await pool.end()
      await deleteTopology(nc, t)
      await nc.close()
      await db.drop()
    },
  }
}

export function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    event_id: randomUUID(),
    source: 'web',
    event_type: 'page_view',
    occurred_at: '2026-11-21T10:00:00.000Z',
    received_at: new Date().toISOString(),
    user_id: 'u1',
    data: { path: '/', note: 'tab\there, newline\nthere, backslash \\ and "quotes"' },
    ...overrides,
  }
}

export { pg, commonSchema }
