import { commonSchema, loadConfig } from '@sluice/kit/config'
import { createLogger, type Logger } from '@sluice/kit/logger'

/** The machine's PostgreSQL and NATS, read through the one config module. */
export const machine = loadConfig({
  databaseUrl: commonSchema.databaseUrl,
  natsUrl: commonSchema.natsUrl,
  testLogLevel: { doc: 'Log level inside tests', format: String, default: 'silent', env: 'TEST_LOG_LEVEL' },
})

export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: machine.testLogLevel })
}
