import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import type { Topology } from '@sluice/contracts/topology'
import { JetStreamPublisher } from '../jetstream-publisher.js'
import { IngestionMetrics } from '../metrics.js'
import { RateLimiter } from '../rate-limiter.js'
import { WriteKeys } from '../write-keys.js'
import type { Ingest } from '../ingest.js'
import type { RequestOutcome } from '../metrics.js'

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

const WRITE_ROUTES = new Set(['/v1/events', '/webhook/event', '/2/httpapi', '/batch', '/v1/batch', '/v1/track', '/v1/page', '/v1/screen', '/v1/identify'])

function requestOutcome(status: number): RequestOutcome {
  if (status < 300) return 'accepted'
  switch (status) {
    case 401:
    case 403:
      return 'unauthorized'
    case 413:
      return 'too_large'
    case 429:
      return 'rate_limited'
    case 503:
      return 'unavailable'
    default:
      return status < 500 ? 'rejected' : 'error'
  }
}

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
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url
      if (route !== undefined && WRITE_ROUTES.has(route) && request.method === 'POST') ingest.metrics.request(route, requestOutcome(reply.statusCode))
      done()
    })
    app.decorateRequest('writeKey', undefined)
    // Runs before the NATS plugin drains the connection (onClose hooks run in reverse order).
    app.addHook('onClose', async () => publisher.close())
  },
  { name: 'ingest', dependencies: ['nats'] },
)
