import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import { serverOptions, useObservability, useSwagger } from '@sluice/kit/fastify'
import { healthRoutes } from '@sluice/kit/health'
import type { Logger } from '@sluice/kit/logger'
import { createRegistry } from '@sluice/kit/metrics'
import { poolMetrics } from '@sluice/kit/pool-metrics'
import { pingPostgres } from '@sluice/kit/pg'
import { useProblemJson } from '@sluice/kit/problem'
import type { AnalyticsConfig } from './config.js'
import pgPlugin from './plugins/pg.js'
import readTokenPlugin from './plugins/read-token.js'
import rollupMetricsPlugin from './plugins/rollup-metrics.js'
import { Problem } from './schemas/problem.js'
import campaignsRoutes from './routes/campaigns.js'
import funnelRoutes from './routes/funnel.js'
import geoRoutes from './routes/geo.js'
import marketplaceRoutes from './routes/marketplace.js'
import overviewRoutes from './routes/overview.js'
import rankingRoutes from './routes/ranking.js'
import revenueRoutes from './routes/revenue.js'
import stagesRoutes from './routes/stages.js'
import timeseriesRoutes from './routes/timeseries.js'
import usersRoutes from './routes/users.js'

export const VERSION = '0.1.0'

export interface AnalyticsAppOptions {
  databaseUrl: string
  poolSize: number
  statementTimeoutMs: number
  workMem: string
  readTokens: string[]
  registry: Registry
}

/** The analytics service as a plugin: it never listens, so tests build it as it is. */
export default async function analyticsApp(app: FastifyInstance, opts: AnalyticsAppOptions): Promise<void> {
  useProblemJson(app)
  useObservability(app, { registry: opts.registry })
  await useSwagger(app, {
    title: 'Sluice analytics',
    description:
      'Read-only aggregates over stored events, exact and answered from rollups kept in step with `events`. Every endpoint takes `from`/`to` (ISO-8601; default the last 30 UTC days, today included) and `source`. ' +
      (opts.readTokens.length > 0 ? 'Send `Authorization: Bearer <read token>`.' : 'No read token is configured: the API is open.'),
    version: VERSION,
    tags: [
      { name: 'stats', description: 'Totals and time series' },
      { name: 'funnel', description: 'Ordered funnels and funnel stages' },
      { name: 'geo', description: 'Countries and cities' },
      { name: 'campaigns', description: 'Marketing campaigns' },
      { name: 'users', description: 'Top users' },
      { name: 'revenue', description: 'Revenue' },
      { name: 'marketplace', description: 'Jobs, bids and provider ranking' },
      { name: 'health', description: 'Liveness and readiness' },
    ],
  })
  app.addSchema(Problem)
  await app.register(pgPlugin, { url: opts.databaseUrl, max: opts.poolSize, statementTimeoutMs: opts.statementTimeoutMs, workMem: opts.workMem })
  await app.register(readTokenPlugin, { tokens: opts.readTokens })
  await app.register(rollupMetricsPlugin, { registry: opts.registry })
  poolMetrics(opts.registry, app.pg, opts.poolSize)
  await healthRoutes(app, { checks: { postgres: () => pingPostgres(app.pg) } })
  for (const routes of [
    overviewRoutes,
    timeseriesRoutes,
    funnelRoutes,
    stagesRoutes,
    geoRoutes,
    campaignsRoutes,
    usersRoutes,
    revenueRoutes,
    marketplaceRoutes,
    rankingRoutes,
  ]) {
    await app.register(routes)
  }
}

export async function buildAnalytics(config: AnalyticsConfig, log: Logger, registry: Registry = createRegistry('analytics')): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ log }))
  // fastify-plugin: the app's decorators (pg, …) stay visible to server.ts.
  await app.register(fp(analyticsApp), {
    databaseUrl: config.databaseUrl,
    poolSize: config.poolSize,
    statementTimeoutMs: config.statementTimeoutMs,
    workMem: config.workMem,
    readTokens: config.readTokens,
    registry,
  })
  return app
}
