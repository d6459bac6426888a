import { commonSchema, jetstreamSchema, loadConfigOrExit } from '@sluice/kit/config'

export const cliSchema = {
  ...commonSchema,
  ...jetstreamSchema,
  host: { doc: 'Address the services listen on', format: String, default: '127.0.0.1', env: 'HOST' },
  workers: { doc: 'Worker replicas `npm start` runs', format: 'positive-int', default: 2, env: 'WORKERS' },
  ingestionPort: { doc: 'Port of ingestion under `npm start`', format: 'port', default: 3001, env: 'INGESTION_PORT' },
  analyticsPort: { doc: 'Port of analytics under `npm start`', format: 'port', default: 3002, env: 'ANALYTICS_PORT' },
  workerPort: { doc: 'Port of the first worker under `npm start` (the next ones count up)', format: 'port', default: 3003, env: 'WORKER_PORT' },
}

export type CliConfig = ReturnType<typeof loadCliConfig>

export function loadCliConfig() {
  return loadConfigOrExit(cliSchema)
}
