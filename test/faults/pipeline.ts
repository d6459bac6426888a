import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import pg from 'pg'
import { topology } from '@sluice/contracts/topology'
import { migrate } from '@sluice/db/migrate'
import { testLogger } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { startPrivateNats, type PrivateNats } from '@sluice/testkit/private-nats'
import { startPrivatePostgres, type PrivatePostgres } from '@sluice/testkit/private-postgres'
import { spawnModule, type Spawned } from '@sluice/testkit/spawn'

/**
 * The whole write path as in production — a PostgreSQL cluster and a nats-server of the
 * test's own, ingestion and workers as their own processes — so a test can kill, stop
 * and restart any piece of it. Nothing here touches the machine's shared servers.
 */

export interface ServiceProcess {
  /** The running process (replaced on restart). */
  current: Spawned | undefined
  port: number
  start(): Promise<void>
  /** SIGKILL (default) or SIGTERM; waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

export interface Pipeline {
  pg: PrivatePostgres
  nats: PrivateNats
  databaseUrl: string
  pool: pg.Pool
  /** A connection of the test's own to the private NATS (for poison, stream info). */
  nc: NatsConnection
  ingestion: ServiceProcess
  workers: ServiceProcess[]
  baseUrl: string
  /** Resolves once the worker consumer has nothing pending or unacked. */
  drained(timeoutMs?: number): Promise<void>
  /** Deliveries beyond the first, from the consumer's counters (valid once drained). */
  redeliveries(): Promise<number>
  close(): Promise<void>
}

export interface PipelineOptions {
  workers?: number
  workerEnv?: Record<string, string>
  ingestionEnv?: Record<string, string>
  /** A NATS URL to use instead of a private single server (the cluster test passes its own). */
  natsUrl?: string
  streamReplicas?: number
}

function service(specifier: string, ready: RegExp, env: () => Record<string, string>, port: number): ServiceProcess {
  const handle: ServiceProcess = {
    current: undefined,
    port,
    async start() {
      const child = spawnModule(specifier, { ...env(), PORT: String(port) })
      handle.current = child
      await child.waitFor(ready, 60_000)
    },
    async kill(signal = 'SIGKILL') {
      await handle.current?.kill(signal)
    },
  }
  return handle
}

export async function startPipeline({ workers = 2, workerEnv = {}, ingestionEnv = {}, natsUrl, streamReplicas }: PipelineOptions = {}): Promise<Pipeline> {
  const [server, nats] = await Promise.all([startPrivatePostgres(), natsUrl ? Promise.resolve(undefined) : startPrivateNats()])
  const url = natsUrl ?? nats!.url
  const databaseUrl = server.url('sluice')
  await migrate(databaseUrl, testLogger('migrate'))
  const common = {
    DATABASE_URL: databaseUrl,
    NATS_URL: url,
    // info: the start lines the test waits for; per-request lines are debug.
    LOG_LEVEL: 'info',
    // Messages a killed worker held come back after this, not after the production 30 s.
    ACK_WAIT_MS: '2000',
    ...(streamReplicas ? { STREAM_REPLICAS: String(streamReplicas) } : {}),
  }
  const started: ServiceProcess[] = []
  const abandon = async (err: unknown): Promise<never> => {
    await Promise.all(started.map((s) => s.kill('SIGKILL')))
    await Promise.all([server.destroy(), nats?.destroy()])
    throw err
  }
  const ingestion = service('@sluice/ingestion/server', /ingestion listening/, () => ({ ...common, PUBLISH_TIMEOUT_MS: '2000', ...ingestionEnv }), await freePort())
  started.push(ingestion)
  await ingestion.start().catch(abandon)
  const workerList: ServiceProcess[] = []
  for (let i = 0; i < workers; i++) {
    workerList.push(
      service(
        '@sluice/worker/server',
        /worker consuming/,
        () => ({ ...common, BATCH_SIZE: '200', BATCH_MAX_WAIT_MS: '50', RETRY_DELAY_MS: '100', RETRY_DELAY_MAX_MS: '1000', ...workerEnv }),
        await freePort(),
      ),
    )
  }
  started.push(...workerList)
  await Promise.all(workerList.map((w) => w.start())).catch(abandon)
  const nc = await connect({ servers: url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5_000 })
  pool.on('error', () => undefined) // the server is restarted on purpose
  const t = topology()
  const consumerInfo = async () => (await jetstreamManager(nc)).consumers.info(t.eventsStream, t.workerConsumer)

  return {
    pg: server,
    nats: nats!,
    databaseUrl,
    pool,
    nc,
    ingestion,
    workers: workerList,
    baseUrl: `http://127.0.0.1:${ingestion.port}`,
    async drained(timeoutMs = 60_000) {
      await waitFor(
        async () => {
          const i = await consumerInfo()
          return i.num_pending === 0 && i.num_ack_pending === 0
        },
        { timeoutMs, intervalMs: 200, what: 'consumer drained' },
      )
    },
    async redeliveries() {
      const i = await consumerInfo()
      return Math.max(0, i.delivered.consumer_seq - i.delivered.stream_seq)
    },
    async close() {
      await Promise.all([ingestion.kill('SIGKILL'), ...workerList.map((w) => w.kill('SIGKILL'))])
      await pool.end().catch(() => undefined)
      await nc.close().catch(() => undefined)
      await Promise.all([server.destroy(), nats?.destroy()])
    },
  }
}
