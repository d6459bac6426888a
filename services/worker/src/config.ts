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
  batchMaxBytes: {
    doc: 'Most bytes of messages stored in one transaction (a message holds one event, or a pack of them from a large request or an import): with ~600-byte events, 4 MiB is ~7,000 events',
    format: 'positive-int',
    default: 4 * 1024 * 1024,
    env: 'BATCH_MAX_BYTES',
  },
  batchMaxWaitMs: {
    doc: 'Longest a message waits for its batch to fill before the batch is stored anyway',
    format: 'positive-int',
    default: 50,
    env: 'BATCH_MAX_WAIT_MS',
  },
  batchesInFlight: {
    doc: 'Batches one worker stores at the same time, each on its own PostgreSQL connection',
    format: 'positive-int',
    default: 3,
    env: 'BATCHES_IN_FLIGHT',
  },
  importBatchMessages: {
    doc: 'Most import messages (of up to 100 events each) stored in one transaction',
    format: 'positive-int',
    default: 20,
    env: 'IMPORT_BATCH_MESSAGES',
  },
  importBatchesInFlight: {
    doc: 'Import batches one worker stores at the same time (new ones taken only while live events do not back up), each on its own PostgreSQL connection',
    format: 'positive-int',
    default: 1,
    env: 'IMPORT_BATCHES_IN_FLIGHT',
  },
  statementTimeoutMs: {
    doc: "Longest one of the worker's statements may run before the batch is retried",
    format: 'positive-int',
    default: 20_000,
    env: 'WORKER_STATEMENT_TIMEOUT_MS',
  },
  retryDelayMs: {
    doc: 'First delay before a batch that failed for a transient reason is redelivered; doubles with each delivery',
    format: 'positive-int',
    default: 500,
    env: 'RETRY_DELAY_MS',
  },
  retryDelayMaxMs: {
    doc: 'Longest delay between two attempts (redelivery or PostgreSQL probe)',
    format: 'positive-int',
    default: 30_000,
    env: 'RETRY_DELAY_MAX_MS',
  },
  foldIntervalMs: {
    doc: 'Least time between two folds of rollup deltas, run by the workers outside their batches (one replica at a time, about once per interval between them; the most is twice that); 0: the inserting transactions fold instead, every 32 statements or 2 s, in the way of the batch that folds',
    format: 'nat',
    default: 2_000,
    env: 'ROLLUP_FOLD_INTERVAL_MS',
  },
  foldQuietMs: {
    doc: 'With the fold loop on, a due fold waits (up to another ROLLUP_FOLD_INTERVAL_MS) until the worker has stored nothing for this long, so that a burst of events is stored with no fold in its way. 0: fold as soon as it is due',
    format: 'nat',
    default: 100,
    env: 'ROLLUP_FOLD_QUIET_MS',
  },
  foldTimeoutMs: {
    doc: 'Longest one fold of rollup deltas may run',
    format: 'positive-int',
    default: 300_000,
    env: 'ROLLUP_FOLD_TIMEOUT_MS',
  },
  consumerPollMs: {
    doc: 'How often the consumer backlog (pending, ack-pending) is read into the metrics',
    format: 'positive-int',
    default: 5_000,
    env: 'CONSUMER_POLL_MS',
  },
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>

export function loadWorkerConfig(options: LoadOptions = {}) {
  return loadConfigOrExit(workerSchema, options)
}
