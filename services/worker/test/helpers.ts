import { randomUUID } from 'node:crypto'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import pg from 'pg'
import { dedupeKey, type Envelope } from '@sluice/contracts/envelope'
import { eventSubject, type Topology } from '@sluice/contracts/topology'
import { loadConfig, commonSchema, jetstreamSchema } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createRegistry, type Registry } from '@sluice/kit/metrics'
import { createPool, type Pool } from '@sluice/kit/pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { deleteTopology, testStreamLimits, testTopology } from '@sluice/testkit/topology'
import { workerMetrics, type WorkerMetrics } from '../src/metrics.js'
import { startWorker, type RunningWorker, type WorkerOptions } from '../src/worker.js'

export type WorkerSettings = Partial<Omit<WorkerOptions, 'consumer' | 'pool' | 'js' | 'topology' | 'log' | 'metrics'>>

export interface StartedWorker extends RunningWorker {
  metrics: WorkerMetrics
  registry: Registry
}

export interface WorkerHarness {
  db: TestDatabase
  pool: Pool
  nc: NatsConnection
  js: JetStreamClient
  topology: Topology
  /** Environment for a worker process (spawnModule) on this harness's database and streams. */
  processEnv(extra?: Record<string, string>): Promise<Record<string, string>>
  startWorker(settings?: WorkerSettings, pool?: Pool): Promise<StartedWorker>
  publish(envelopes: Envelope[], options?: { msgId?: boolean }): Promise<void>
  /** Publishes raw bytes on `events.<source>`, as a buggy or foreign publisher might. */
  publishRaw(payloads: (string | Uint8Array)[], source?: string): Promise<void>
  count(): Promise<number>
  /** Resolves once the consumer has nothing pending or unacked. */
  drained(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface HarnessOptions {
  natsUrl?: string
  /** A PostgreSQL server URL other than the machine's (a private one the test may stop). */
  databaseServer?: string
  /** Consumer and stream settings, as environment variables (e.g. ACK_WAIT_MS). */
  env?: Record<string, string>
}

export async function workerHarness({ natsUrl = machine.natsUrl, databaseServer, env = {} }: HarnessOptions = {}): Promise<WorkerHarness> {
  const db = await createTestDatabase(databaseServer)
  const t = testTopology()
  const log = testLogger('worker')
  const nc = await connect({ servers: natsUrl })
  const limits = loadConfig(jetstreamSchema, { env: { ...testStreamLimits, ...env } })
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
    async processEnv(extra = {}) {
      return {
        DATABASE_URL: db.url,
        NATS_URL: natsUrl,
        STREAM_NAMESPACE: t.namespace,
        PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
        ...env,
        ...extra,
      }
    },
    async startWorker(settings = {}, workerPool = pool) {
      const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
      const registry = createRegistry('worker', { defaults: false })
      const metrics = workerMetrics(registry)
      const w = await startWorker({
        consumer,
        pool: workerPool,
        js,
        topology: t,
        log,
        metrics,
        batchSize: 500,
        batchMaxBytes: 4 * 1024 * 1024,
        batchMaxWaitMs: 20,
        batchesInFlight: 2,
        ackWaitMs: limits.ackWaitMs,
        maxDeliver: limits.maxDeliver,
        retryDelayMs: 50,
        retryDelayMaxMs: 1_000,
        ...settings,
      })
      workers.push(w)
      return { ...w, metrics, registry }
    },
    async publish(envelopes, { msgId = true } = {}) {
      // In windows: tens of thousands of requests at once would time out on a busy machine.
      for (let i = 0; i < envelopes.length; i += 1_000) {
        await Promise.all(
          envelopes
            .slice(i, i + 1_000)
            .map((e) => js.publish(eventSubject(t, e.source), JSON.stringify(e), msgId ? { msgID: dedupeKey(e.source, e.event_id) } : {})),
        )
      }
    },
    async publishRaw(payloads, source = 'web') {
      await Promise.all(payloads.map((p) => js.publish(eventSubject(t, source), p)))
    },
    async drained(timeoutMs = 20_000) {
      const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
      await waitFor(
        async () => {
          const i = await consumer.info()
          return i.num_pending === 0 && i.num_ack_pending === 0
        },
        { timeoutMs, what: 'consumer drained' },
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

/**
 * The sum of a metric's values with these labels. For a histogram, `series` names the one
 * to read (`<name>_count`, `<name>_sum`).
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}, series?: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const values = (await metric.get()).values as { labels: Record<string, string | number>; value: number; metricName?: string }[]
  return values
    .filter((v) => (series === undefined || v.metricName === series) && Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((a, v) => a + v.value, 0)
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
