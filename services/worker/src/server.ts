import { jetstream } from '@nats-io/jetstream'
import { topology } from '@sluice/contracts/topology'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { connectNats, drainNats } from '@sluice/kit/nats'
import { assertPostgresReachable, createPool } from '@sluice/kit/pg'
import { onShutdown } from '@sluice/kit/shutdown'
import { UnreachableError } from '@sluice/kit/unreachable'
import { loadWorkerConfig } from './config.js'
import { startWorker } from './worker.js'
import { buildWorkerHttp } from './app.js'

const config = loadWorkerConfig()
const log = createLogger({ service: 'worker', level: config.logLevel })
const t = topology(config.streamNamespace)

try {
  await assertPostgresReachable(config.databaseUrl)
  const pool = createPool({ url: config.databaseUrl, log, applicationName: 'sluice-worker', max: 4 })
  const nc = await connectNats({ url: config.natsUrl, name: 'sluice-worker', log })
  await setupJetStream(nc, t, config, log)
  const consumer = await jetstream(nc).consumers.get(t.eventsStream, t.workerConsumer)
  const worker = await startWorker({ consumer, pool, log, batchSize: config.batchSize, batchMaxWaitMs: config.batchMaxWaitMs })

  const registry = createRegistry('worker')
  const app = await buildWorkerHttp({ pool, nc, registry, log })

  onShutdown(log, config.shutdownTimeoutMs, async () => {
    await worker.stop()
    await app.close()
    await drainNats(nc, log)
    await pool.end()
  })
  await app.listen({ host: config.host, port: config.port })
  log.info({ url: `http://${config.host}:${config.port}/metrics`, stream: t.eventsStream, consumer: t.workerConsumer }, 'worker consuming')
  worker.done.catch((err: unknown) => {
    log.fatal({ err }, 'consume loop failed')
    process.exit(1)
  })
} catch (err) {
  if (err instanceof UnreachableError) {
    log.fatal(err.message)
    process.exit(1)
  }
  throw err
}
