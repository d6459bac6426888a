import { createLogger } from '@sluice/kit/logger'
import { assertPostgresReachable } from '@sluice/kit/pg'
import { onShutdown } from '@sluice/kit/shutdown'
import { UnreachableError } from '@sluice/kit/unreachable'
import { loadAnalyticsConfig } from './config.js'
import { buildAnalytics } from './app.js'
import { roleProblem } from './plugins/pg.js'

const config = loadAnalyticsConfig()
const log = createLogger({ service: 'analytics', level: config.logLevel })

try {
  await assertPostgresReachable(config.readUrl)
  const problem = await roleProblem(config.readUrl, config.analyticsDbRole)
  if (problem) {
    log.fatal(problem)
    process.exit(1)
  }
  const app = await buildAnalytics(config, log)
  onShutdown(log, config.shutdownTimeoutMs, () => app.close())
  await app.listen({ host: config.host, port: config.port })
  log.info({ url: `http://${config.host}:${config.port}`, docs: `http://${config.host}:${config.port}/api` }, 'analytics listening')
} catch (err) {
  if (err instanceof UnreachableError) {
    log.fatal(err.message)
    process.exit(1)
  }
  throw err
}
