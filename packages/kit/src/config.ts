import convict from 'convict'

/**
 * The only module that reads the environment. Each service declares a flat convict
 * schema (one key per variable); `loadConfig` validates it at start and reports a bad
 * value by its environment variable name.
 */

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

function assertUrl(protocols: string[]) {
  return (value: unknown) => {
    const list = String(value).split(',')
    for (const item of list) {
      let url: URL
      try {
        url = new URL(item.trim())
      } catch {
        throw new Error(`must be a URL (${protocols.join(' or ')}): "${item}"`)
      }
      if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
        throw new Error(`must use ${protocols.join(' or ')}, got "${url.protocol}"`)
      }
    }
  }
}

convict.addFormat({ name: 'postgres-url', validate: assertUrl(['postgres', 'postgresql']) })
convict.addFormat({ name: 'nats-url', validate: assertUrl(['nats', 'tls', 'ws', 'wss']) })
convict.addFormat({
  name: 'positive-int',
  coerce: (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  validate: (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error('must be a positive integer')
  },
})
convict.addFormat({
  name: 'non-negative-int',
  coerce: (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  validate: (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error('must be a non-negative integer')
  },
})
convict.addFormat({
  name: 'string-list',
  coerce: (v: unknown) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  validate: (v: unknown) => {
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error('must be a comma-separated list')
  },
})

/** Settings every process has. */
export const commonSchema = {
  logLevel: { doc: 'Log level', format: LOG_LEVELS as unknown as string[], default: 'info' as LogLevel, env: 'LOG_LEVEL' },
  databaseUrl: {
    doc: 'PostgreSQL connection URL',
    format: 'postgres-url',
    default: 'postgres://root@127.0.0.1:5432/sluice',
    env: 'DATABASE_URL',
    sensitive: true,
  },
  natsUrl: { doc: 'NATS server URL(s), comma-separated', format: 'nats-url', default: 'nats://127.0.0.1:4222', env: 'NATS_URL' },
  streamNamespace: {
    doc: 'Prefix for every stream, subject and consumer name (empty in production; tests use one each)',
    format: (v: unknown) => {
      if (typeof v !== 'string' || !/^[a-z0-9_]{0,32}$/.test(v)) throw new Error('must match [a-z0-9_]{0,32}')
    },
    default: '',
    env: 'STREAM_NAMESPACE',
  },
  shutdownTimeoutMs: {
    doc: 'How long a graceful shutdown may take before the process exits anyway',
    format: 'positive-int',
    default: 10_000,
    env: 'SHUTDOWN_TIMEOUT_MS',
  },
}

/** Stream and consumer limits, applied by whichever process creates them first. */
export const jetstreamSchema = {
  streamMaxBytes: {
    doc: 'Bytes the EVENTS stream may hold unconsumed; when full, ingestion answers 503 instead of dropping events',
    format: 'positive-int',
    default: 8 * 1024 ** 3,
    env: 'STREAM_MAX_BYTES',
  },
  importStreamMaxBytes: {
    doc: 'Bytes the EVENTS_IMPORT stream may hold unconsumed; when full, the importer waits for the workers',
    format: 'positive-int',
    default: 256 * 1024 ** 2,
    env: 'IMPORT_STREAM_MAX_BYTES',
  },
  duplicateWindowMs: {
    doc: 'How long JetStream remembers message ids to drop re-sent events (the database drops later ones)',
    format: 'positive-int',
    default: 120_000,
    env: 'DUPLICATE_WINDOW_MS',
  },
  maxAckPending: {
    // Each worker holds up to BATCH_SIZE × (BATCHES_IN_FLIGHT + 1) = 20,000 by default:
    // room for five replicas before the server starts starving some of them.
    doc: 'Messages delivered to workers and not yet acked, across all replicas',
    format: 'positive-int',
    default: 100_000,
    env: 'MAX_ACK_PENDING',
  },
  ackWaitMs: {
    doc: 'How long a delivered message may stay unacked before JetStream redelivers it',
    format: 'positive-int',
    default: 30_000,
    env: 'ACK_WAIT_MS',
  },
  maxDeliver: {
    doc: 'Deliveries of one message before the worker dead-letters it',
    format: 'positive-int',
    default: 10,
    env: 'MAX_DELIVER',
  },
}

/** Settings of a process that serves HTTP (all three do: the worker for /metrics and health). */
export function httpSchema(defaultPort: number) {
  return {
    host: { doc: 'Address to listen on', format: String, default: '127.0.0.1', env: 'HOST' },
    port: { doc: 'Port to listen on', format: 'port', default: defaultPort, env: 'PORT' },
  }
}

export interface LoadOptions {
  /** Defaults to process.env; tests pass their own. */
  env?: Record<string, string | undefined>
}

// convict's schema typing cannot express custom format names; the schemas above are
// checked by convict itself when loaded, so a loose type at this boundary is enough.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = Record<string, { default: any; env?: string; doc?: string }>
type Values<S extends Schema> = { [K in keyof S]: S[K]['default'] }

export function loadConfig<S extends Schema>(schema: S, options: LoadOptions = {}): Values<S> {
  const env = options.env ?? process.env
  const envNames = new Map(Object.entries(schema).map(([key, item]) => [key, item.env ?? key]))
  let config: convict.Config<Values<S>>
  try {
    config = convict<Values<S>>(schema, { env, args: [] })
    config.validate({ allowed: 'strict' })
  } catch (err) {
    const message = (err as Error).message
      .split('\n')
      .map((line) => line.replace(/^([\w.]+): /, (_, key: string) => `${envNames.get(key) ?? key}: `))
      .join('\n')
    throw new ConfigError(`invalid configuration:\n${message}`)
  }
  return config.getProperties()
}

/** The environment for a child process: this one's, with overrides (the launcher sets PORT per child). */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides }
}

/** Where a process prints the configuration error and exits non-zero. */
export function loadConfigOrExit<S extends Schema>(schema: S, options: LoadOptions = {}): Values<S> {
  try {
    return loadConfig(schema, options)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
}
