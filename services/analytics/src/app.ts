import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import { serverOptions, useObservability, useSwagger } from '@sluice/kit/fastify'
import { healthRoutes } from '@sluice/kit/health'
import type { Logger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { pingPostgres } from '@sluice/kit/pg'
import { useProblemJson } from '@sluice/kit/problem'
import type { AnalyticsConfig } from './config.js'
import pgPlugin from './plugins/pg.js'
import overviewRoutes from './routes/overview.js'

export const VERSION = '0.1.0'

export interface AnalyticsAppOptions {
  databaseUrl: string
  poolSize: number
  statementTimeoutMs: number
  registry: Registry
}

/** The analytics service as a plugin: it never listens, so tests build it as it is. */
export default async function analyticsApp(app: FastifyInstance, opts: AnalyticsAppOptions): Promise<void> {
  useProblemJson(app)
  useObservability(app, { registry: opts.registry })
  await useSwagger(app, {
    title: 'Sluice analytics',
    description: 'Read-only aggregates over stored events. Every endpoint takes `from`/`to` (ISO-8601) and `source`.',
    version: VERSION,
    tags: [
      { name: 'stats', description: 'Totals and time series' },
      { name: 'health', description: 'Liveness and readiness' },
    ],
  })
  await app.register(pgPlugin, { url: opts.databaseUrl, max: opts.poolSize, statementTimeoutMs: opts.statementTimeoutMs })
  await healthRoutes(app, { checks: { postgres: () => pingPostgres(app.pg) } })
  await app.register(overviewRoutes)
}

export async function buildAnalytics(config: AnalyticsConfig, log: Logger, registry: Registry = createRegistry('analytics')): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ log }))
  // fastify-plugin: the app's decorators (nats, pg, …) stay visible to server.ts.
  await app.register(fp(analyticsApp), {
    databaseUrl: config.databaseUrl,
    poolSize: config.poolSize,
    statementTimeoutMs: config.statementTimeoutMs,
    registry,
  })
  return app
}
