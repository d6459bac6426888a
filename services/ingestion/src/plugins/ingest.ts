import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import type { Topology } from '@sluice/contracts/topology'
import { JetStreamPublisher } from '@sluice/kit/jetstream-publisher'
import { IngestionMetrics } from '../metrics.js'
import { RateLimiter } from '../rate-limiter.js'
import { WriteKeys } from '../write-keys.js'
import type { Ingest } from '../ingest.js'

export interface IngestPluginOptions {
  topology: Topology
  registry: Registry
  writeKeys: string
  publishTimeoutMs: number
  publishMaxInFlight: number
  rateLimitEventsPerSecond: number
  rateLimitBurstSeconds: number
  limits: Ingest['limits']
}

export const REQUEST_ID_HEADER = 'Sluice-Request-Id'

/** The publisher, metrics, write keys and rate limiter the write routes share, as `app.ingest`. */
export default fp<IngestPluginOptions>(
  async (app, opts) => {
    const publisher = new JetStreamPublisher(app.nats, {
      timeoutMs: opts.publishTimeoutMs,
      maxInFlight: opts.publishMaxInFlight,
      log: app.log,
      requestIdHeader: REQUEST_ID_HEADER,
    })
    const keys = new WriteKeys(opts.writeKeys)
    const ingest: Ingest = {
      topology: opts.topology,
      publisher,
      metrics: new IngestionMetrics(opts.registry, () => publisher.inFlight, keys.sources),
      keys,
      limiter: new RateLimiter({ eventsPerSecond: opts.rateLimitEventsPerSecond, burstSeconds: opts.rateLimitBurstSeconds }),
      limits: opts.limits,
      retryAfterSeconds: Math.max(1, Math.ceil(opts.publishTimeoutMs / 1000)),
    }
    app.decorate('ingest', ingest)
    app.decorateRequest('writeKey', undefined)
    // Runs before the NATS plugin drains the connection (onClose hooks run in reverse order).
    app.addHook('onClose', async () => publisher.close())
  },
  { name: 'ingest', dependencies: ['nats'] },
)
