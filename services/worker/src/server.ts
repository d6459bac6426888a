import { jetstream } from '@nats-io/jetstream'
import { topology } from '@sluice/contracts/topology'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { connectNats, drainNats } from '@sluice/kit/nats'
import { assertPostgresReachable, createPool } from '@sluice/kit/pg'
import { poolMetrics } from '@sluice/kit/pool-metrics'
import { onShutdown } from '@sluice/kit/shutdown'
import { UnreachableError } from '@sluice/kit/unreachable'
import { buildWorkerHttp } from './app.js'
import { loadWorkerConfig } from './config.js'
import { pollConsumer } from './consumer-stats.js'
import { startFoldLoop, type StoringActivity } from './fold-loop.js'
import { workerMetrics } from './metrics.js'
import { startWorker } from './worker.js'

/** An import lane that stored a batch this recently counts as running. */
const IMPORT_BUSY_MS = 2_000

const config = loadWorkerConfig()
const log = createLogger({ service: 'worker', level: config.logLevel })
const t = topology(config.streamNamespace)

try {
  await assertPostgresReachable(config.databaseUrl)
  // One connection per batch in flight, one for probes and health checks, one for folds
  // when the fold loop runs.
  const poolMax = config.batchesInFlight + config.importBatchesInFlight + 1 + (config.foldIntervalMs > 0 ? 1 : 0)
  const pool = createPool({
    url: config.databaseUrl,
    log,
    applicationName: 'sluice-worker',
    max: poolMax,
    statementTimeoutMs: config.statementTimeoutMs,
  })
  const nc = await connectNats({ url: config.natsUrl, name: 'sluice-worker', log })
  await setupJetStream(nc, t, config, log)
  const js = jetstream(nc)
  const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
  const registry = createRegistry('worker')
  const metrics = workerMetrics(registry)
  poolMetrics(registry, pool, poolMax)
  // While an import is being stored, live batches leave the rollup folds (hundreds of ms
  // for an import's many new users) to the import's transactions.
  let importBusy = () => false
  const worker = await startWorker({ ...config, consumer, pool, js, topology: t, log, metrics, deferFold: () => importBusy() })
  // Imports wait while live events back up: live first, whatever the import's size.
  const importLane = await startWorker({
    ...config,
    consumer: await js.consumers.get(t.importStream, t.importConsumer),
    batchSize: config.importBatchMessages,
    batchesInFlight: config.importBatchesInFlight,
    pool,
    js,
    topology: t,
    log: log.child({ lane: 'import' }),
    metrics,
    gate: () => !worker.backedUp(),
  })
  importBusy = () => importLane.busyWithin(IMPORT_BUSY_MS)
  const stopPolling = pollConsumer(consumer, metrics, config.consumerPollMs, log)
  const activity = (): StoringActivity => {
    const live = worker.activity()
    const imports = importLane.activity()
    return { storing: live.storing || imports.storing, lastAt: Math.max(live.lastAt, imports.lastAt) }
  }
  const folds =
    config.foldIntervalMs > 0 ? startFoldLoop({ pool, log, registry, intervalMs: config.foldIntervalMs, quietMs: config.foldQuietMs, timeoutMs: config.foldTimeoutMs, activity }) : undefined
  const app = await buildWorkerHttp({ pool, nc, registry, log, storage: () => (worker.health().storing ? importLane.health() : worker.health()) })

  onShutdown(log, config.shutdownTimeoutMs, async () => {
    stopPolling()
    await Promise.all([worker.stop(), importLane.stop()])
    await folds?.stop()
    await app.close()
    await drainNats(nc, log)
    await pool.end()
  })
  await app.listen({ host: config.host, port: config.port })
  log.info(
    { url: `http://${config.host}:${config.port}/metrics`, stream: t.eventsStream, consumer: t.workerConsumer, importStream: t.importStream, batchSize: config.batchSize, batchesInFlight: config.batchesInFlight },
    'worker consuming',
  )
  worker.done.catch((err: unknown) => {
    log.fatal({ err }, 'consume loop failed')
    process.exit(1)
  })
  importLane.done.catch((err: unknown) => {
    log.fatal({ err }, 'import consume loop failed')
    process.exit(1)
  })
} catch (err) {
  if (err instanceof UnreachableError) {
    log.fatal(err.message)
    process.exit(1)
  }
  throw err
}
