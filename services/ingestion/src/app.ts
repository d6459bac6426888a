import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import type { Registry } from 'prom-client'
import { jetstreamManager } from '@nats-io/jetstream'
import { guardConnections, serverOptions, useObservability, useSwagger } from '@sluice/kit/fastify'
import type { Logger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { healthRoutes } from '@sluice/kit/health'
import { useProblemJson } from '@sluice/kit/problem'
import { topology, type Topology } from '@sluice/contracts/topology'
import type { IngestionConfig } from './config.js'
import { useJsonBodies } from './body.js'
import natsPlugin from './plugins/nats.js'
import ingestPlugin from './plugins/ingest.js'
import eventsRoutes from './routes/events.js'
import amplitudeRoutes from './routes/amplitude.js'
import segmentRoutes from './routes/segment.js'

export const VERSION = '0.1.0'

export interface IngestionAppOptions {
  config: IngestionConfig
  topology: Topology
  registry: Registry
  version: string
}

/** A failed publish this recent keeps readiness at "not ready" until one succeeds again. */
const FAILURE_MEMORY_MS = 10_000

/** The ingestion service as a plugin: it never listens, so tests build it as it is. */
export default async function ingestionApp(app: FastifyInstance, { config, topology: t, registry, version }: IngestionAppOptions): Promise<void> {
  useProblemJson(app)
  useObservability(app, { registry })
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'content-encoding', 'authorization', 'x-write-key', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 86_400,
  })
  await useSwagger(app, {
    title: 'Sluice ingestion',
    description:
      'Write API: native events (including the publisher’s Facebook/TikTok arrays and marketplace events), Amplitude HTTP V2 / Batch, and Segment. ' +
      'Every accepted event is stored in JetStream before the answer.',
    version,
    tags: [
      { name: 'events', description: 'Native events, the publisher’s arrays, marketplace events' },
      { name: 'amplitude', description: 'Amplitude HTTP V2 and Batch API compatible' },
      { name: 'segment', description: 'Segment tracking API compatible' },
      { name: 'health', description: 'Liveness and readiness' },
    ],
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'A write key' },
      writeKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Write-Key' },
      writeKeyQuery: { type: 'apiKey', in: 'query', name: 'writeKey' },
      basic: { type: 'http', scheme: 'basic', description: 'Segment: the write key as user name, no password' },
    },
  })
  useJsonBodies(app, { limit: config.bodyLimitBytes, budget: config.bodyBytesInFlight, maxContainers: config.maxEventsPerRequest * 50 })

  await app.register(natsPlugin, { url: config.natsUrl, name: 'sluice-ingestion' })
  await app.register(ingestPlugin, {
    topology: t,
    registry,
    writeKeys: config.writeKeys,
    publishTimeoutMs: config.publishTimeoutMs,
    publishMaxInFlight: config.publishMaxInFlight,
    rateLimitEventsPerSecond: config.rateLimitEventsPerSecond,
    rateLimitBurstSeconds: config.rateLimitBurstSeconds,
    limits: {
      maxEventsPerRequest: config.maxEventsPerRequest,
      maxEventBytes: config.maxEventBytes,
      packEvents: config.publishPackEvents,
      maxPropertyDepth: config.maxPropertyDepth,
      bodyLimitBytes: config.bodyLimitBytes,
    },
  })

  const jsm = await jetstreamManager(app.nats)
  await healthRoutes(app, {
    checks: {
      jetstream: async () => {
        const reason = app.ingest.publisher.unavailableReason()
        if (reason) throw new Error(reason)
        const info = await jsm.streams.info(t.eventsStream)
        const max = info.config.max_bytes
        // Close enough to the limit that a discard-new stream refuses the next large message.
        if (max > 0 && info.state.bytes + Math.min(1024 * 1024, max / 100) > max) throw new Error(`stream ${t.eventsStream} is full (${info.state.bytes} of ${max} bytes)`)
        const { lastFailure, lastSuccessAt } = app.ingest.publisher
        if (lastFailure && lastFailure.at > lastSuccessAt && Date.now() - lastFailure.at < FAILURE_MEMORY_MS) throw new Error(`publishing fails: ${lastFailure.reason}`)
      },
    },
  })
  await app.register(eventsRoutes)
  await app.register(amplitudeRoutes)
  await app.register(segmentRoutes)
}

/** A Fastify server with the ingestion app registered: what server.ts listens with, and what tests build. */
export async function buildIngestion(config: IngestionConfig, log: Logger, registry: Registry = createRegistry('ingestion')): Promise<FastifyInstance> {
  // The body limit is enforced by the JSON parser (after decompression), not by Fastify.
  const app = Fastify(serverOptions({ log, requestTimeoutMs: config.requestTimeoutMs, headersTimeoutMs: config.headersTimeoutMs }))
  guardConnections(app, config.headersTimeoutMs, config.requestTimeoutMs)
  // fastify-plugin: the app's decorators (nats, ingest) stay visible to server.ts.
  await app.register(fp(ingestionApp), { config, topology: topology(config.streamNamespace), registry, version: VERSION })
  return app
}
