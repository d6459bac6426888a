#!/usr/bin/env node
import { migrate } from '@sluice/db/migrate'
import { UnreachableError } from '@sluice/kit/unreachable'
import { loadCliConfig } from './config.js'
import { dlq } from './dlq.js'
import { importCommand } from './import-command.js'
import { cliLogger } from './log.js'
import { rebuildRollups } from './rollups-rebuild.js'
import { setup } from './setup.js'
import { start } from './start.js'

const USAGE = `usage: sluice <command>

commands:
  start     migrate, create streams, run ingestion, workers and analytics (npm start)
  migrate   create the database if missing and apply migrations (npm run db:migrate)
  setup     migrate and create streams and consumers
  dlq       list, show and replay dead letters (npm run dlq -- list|show|replay; see sluice dlq --help)
  rollups:rebuild
            recompute every analytics rollup from events, while ingestion goes on
  import    import amplitude <archive.zip|directory> [--source] [--dry-run] [--rejects file]
            stream an Amplitude export in through the import lane (npm run import -- amplitude …)
`

const [command, ...rest] = process.argv.slice(2)
const config = loadCliConfig()
const log = cliLogger(config.logLevel)

try {
  switch (command) {
    case 'start':
      process.exitCode = await start(config, log)
      break
    case 'migrate': {
      const { applied, skipped } = await migrate(config.databaseUrl, log)
      log.info({ applied: applied.length, alreadyApplied: skipped.length }, 'migrations done')
      break
    }
    case 'setup':
      await setup(config, log)
      break
    case 'dlq':
      process.exitCode = await dlq(rest, config, log)
      break
    case 'import':
      process.exitCode = await importCommand(rest, config, log)
      break
    case 'rollups:rebuild':
      await rebuildRollups(config.databaseUrl, log)
      break
    default:
      process.stderr.write(USAGE)
      process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2
  }
} catch (err) {
  if (err instanceof UnreachableError) log.fatal(err.message)
  else log.fatal({ err }, (err as Error).message)
  process.exitCode = 1
}
