import { commonSchema, httpSchema, jetstreamSchema, loadConfigOrExit, type LoadOptions } from '@sluice/kit/config'
import { parseWriteKeys } from './write-keys.js'

export const ingestionSchema = {
  ...commonSchema,
  ...httpSchema(3001),
  ...jetstreamSchema,
  publishTimeoutMs: {
    doc: 'How long a request waits for JetStream to acknowledge its events before answering 503',
    format: 'positive-int',
    default: 5_000,
    env: 'PUBLISH_TIMEOUT_MS',
  },
  publishMaxInFlight: {
    doc: 'Messages published and not yet acknowledged, across all requests; further ones wait their turn',
    format: 'positive-int',
    default: 4_096,
    env: 'PUBLISH_MAX_IN_FLIGHT',
  },
  publishPackEvents: {
    doc: 'Requests of at least this many events are published in messages of up to this many events (one JetStream message per event otherwise): far less work for JetStream per event. 1 = one message per event always. A re-sent request is still recognised by JetStream; one event of a pack re-sent in another request is dropped by the database instead, and counted as accepted',
    format: 'positive-int',
    default: 64,
    env: 'PUBLISH_PACK_EVENTS',
  },
  bodyLimitBytes: {
    doc: 'Largest request body, counted after gzip decompression; a 50,000-event publisher array is about 25 MB',
    format: 'positive-int',
    default: 64 * 1024 * 1024,
    env: 'BODY_LIMIT_BYTES',
  },
  bodyBytesInFlight: {
    doc: 'Bytes of request bodies held at once across requests (at least BODY_LIMIT_BYTES); past it new bodies get a 503',
    format: 'positive-int',
    default: 256 * 1024 * 1024,
    env: 'BODY_BYTES_IN_FLIGHT',
  },
  maxEventsPerRequest: {
    doc: 'Most events one request may carry',
    format: 'positive-int',
    default: 100_000,
    env: 'MAX_EVENTS_PER_REQUEST',
  },
  maxEventBytes: {
    doc: 'Largest event, measured as the stored envelope (JSON bytes); larger events are rejected alone',
    format: (v: unknown) => {
      const n = typeof v === 'string' ? Number(v) : v
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1024 || n > 900 * 1024) throw new Error('must be an integer from 1024 to 921600 (the stream takes messages up to 1 MiB)')
    },
    default: 64 * 1024,
    env: 'MAX_EVENT_BYTES',
  },
  maxPropertyDepth: {
    doc: 'Deepest nesting of objects and arrays inside one event (the event itself is level 1)',
    format: (v: unknown) => {
      const n = typeof v === 'string' ? Number(v) : v
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 3 || n > 64) throw new Error('must be an integer from 3 to 64')
    },
    default: 16,
    env: 'MAX_PROPERTY_DEPTH',
  },
  writeKeys: {
    doc: 'Write keys: comma-separated "key" or "key:source|source[:events per second]"; empty = open (development)',
    format: (v: unknown) => {
      parseWriteKeys(String(v))
    },
    default: '',
    env: 'WRITE_KEYS',
    sensitive: true,
  },
  rateLimitEventsPerSecond: {
    doc: 'Events per second each write key (or, when open, each client address) may send on average; 0 = no limit',
    format: 'non-negative-int',
    default: 0,
    env: 'RATE_LIMIT_EVENTS_PER_SECOND',
  },
  rateLimitBurstSeconds: {
    doc: 'How many seconds of the rate a key may send at once before it is limited',
    format: 'positive-int',
    default: 2,
    env: 'RATE_LIMIT_BURST_SECONDS',
  },
  corsOrigins: {
    doc: 'Origins browsers may send events from: * (any), or a comma-separated list of origins',
    format: 'string-list',
    default: ['*'],
    env: 'CORS_ORIGINS',
  },
}

export type IngestionConfig = ReturnType<typeof loadIngestionConfig>

export function loadIngestionConfig(options: LoadOptions = {}) {
  const config = loadConfigOrExit(ingestionSchema, options)
  // convict keeps custom-format values as given (strings from the environment).
  return {
    ...config,
    maxEventBytes: Number(config.maxEventBytes),
    maxPropertyDepth: Number(config.maxPropertyDepth),
    writeKeys: String(config.writeKeys),
  }
}
