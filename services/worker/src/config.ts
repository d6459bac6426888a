import { commonSchema, httpSchema, jetstreamSchema, loadConfigOrExit, type LoadOptions } from '@sluice/kit/config'

export const workerSchema = {
  ...commonSchema,
  ...httpSchema(3003),
  ...jetstreamSchema,
  batchSize: {
    doc: 'Most messages stored in one transaction',
    format: 'positive-int',
    default: 5_000,
    env: 'BATCH_SIZE',
  },
  batchMaxWaitMs: {
    doc: 'Longest a message waits for its batch to fill before the batch is stored anyway',
    format: 'positive-int',
    default: 50,
    env: 'BATCH_MAX_WAIT_MS',
  },
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>

export function loadWorkerConfig(options: LoadOptions = {}) {
  return loadConfigOrExit(workerSchema, options)
}
