import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import { jetstreamManager } from '@nats-io/jetstream'
import { serverOptions, useObservability, useSwagger } from '@sluice/kit/fastify'
import type { Logger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { healthRoutes } from '@sluice/kit/health'
import { useProblemJson } from '@sluice/kit/problem'
import { topology, type Topology } from '@sluice/contracts/topology'
import type { IngestionConfig } from './config.js'
import natsPlugin from './plugins/nats.js'
import publisherPlugin from './plugins/publisher.js'
import eventsRoutes from './routes/events.js'

export const VERSION = '0.1.0'

export interface IngestionAppOptions {
  natsUrl: string
  topology: Topology
  publishTimeoutMs: number
  registry: Registry
  version: string
}

/** The ingestion service as a plugin: it never listens, so tests build it as it is. */
export default async function ingestionApp(app: FastifyInstance, opts: IngestionAppOptions): Promise<void> {
  useProblemJson(app)
  useObservability(app, { registry: opts.registry })
  await useSwagger(app, {
    title: 'Sluice ingestion',
    description: 'Write API: native events, the publisher’s Facebook/TikTok arrays, Amplitude HTTP V2 and Segment.',
    version: opts.version,
    tags: [
      { name: 'events', description: 'Native events' },
      { name: 'health', description: 'Liveness and readiness' },
    ],
  })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    // navigator.sendBeacon sends JSON as text/plain to avoid a CORS preflight.
    try {
      done(null, JSON.parse(body as string))
    } catch (err) {
      ;(err as { statusCode?: number }).statusCode = 400
      done(err as Error, undefined)
    }
  })

  await app.register(natsPlugin, { url: opts.natsUrl, name: 'sluice-ingestion' })
  await app.register(publisherPlugin, { topology: opts.topology, timeoutMs: opts.publishTimeoutMs, registry: opts.registry })

  const jsm = await jetstreamManager(app.nats)
  await healthRoutes(app, {
    checks: {
      jetstream: async () => {
        if (app.nats.isClosed()) throw new Error('NATS connection closed')
        await jsm.streams.info(opts.topology.eventsStream)
      },
    },
  })
  await app.register(eventsRoutes)
}

/** A Fastify server with the ingestion app registered: what server.ts listens with, and what tests build. */
export async function buildIngestion(config: IngestionConfig, log: Logger, registry: Registry = createRegistry('ingestion')): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ log, bodyLimit: config.bodyLimitBytes }))
  // fastify-plugin: the app's decorators (nats, pg, …) stay visible to server.ts.
  await app.register(fp(ingestionApp), {
    natsUrl: config.natsUrl,
    topology: topology(config.streamNamespace),
    publishTimeoutMs: config.publishTimeoutMs,
    registry,
    version: VERSION,
  })
  return app
}
