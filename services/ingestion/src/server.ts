import { createLogger } from '@sluice/kit/logger'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { onShutdown } from '@sluice/kit/shutdown'
import { UnreachableError } from '@sluice/kit/unreachable'
import { topology } from '@sluice/contracts/topology'
import { loadIngestionConfig } from './config.js'
import { buildIngestion } from './app.js'

const config = loadIngestionConfig()
const log = createLogger({ service: 'ingestion', level: config.logLevel })

try {
  const app = await buildIngestion(config, log)
  await app.ready()
  await setupJetStream(app.nats, topology(config.streamNamespace), config, log)
  onShutdown(log, config.shutdownTimeoutMs, () => app.close())
  await app.listen({ host: config.host, port: config.port })
  const keys = app.ingest.keys
  log.info(
    {
      url: `http://${config.host}:${config.port}`,
      docs: `http://${config.host}:${config.port}/api`,
      writeKeys: keys.open ? 'none configured: open to anyone (set WRITE_KEYS to require one)' : `${keys.count} configured`,
    },
    keys.open ? 'ingestion listening (open: no write keys configured)' : 'ingestion listening',
  )
} catch (err) {
  if (err instanceof UnreachableError) {
    log.fatal(err.message)
    process.exit(1)
  }
  throw err
}
