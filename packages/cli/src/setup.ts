import { migrate } from '@sluice/db/migrate'
import { topology } from '@sluice/contracts/topology'
import type { Logger } from '@sluice/kit/logger'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { connectNats, drainNats } from '@sluice/kit/nats'
import { assertPostgresReachable } from '@sluice/kit/pg'
import type { CliConfig } from './config.js'

/** Checks both servers answer, migrates the database, and creates streams and consumers. */
export async function setup(config: CliConfig, log: Logger): Promise<void> {
  await assertPostgresReachable(config.databaseUrl)
  const nc = await connectNats({ url: config.natsUrl, name: 'sluice-setup', log })
  try {
    const { applied } = await migrate(config.databaseUrl, log)
    log.info({ applied: applied.length }, applied.length ? 'database migrated' : 'database up to date')
    await setupJetStream(nc, topology(config.streamNamespace), config, log)
    log.info('streams and consumers ready')
  } finally {
    await drainNats(nc, log)
  }
}
