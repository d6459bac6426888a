import Fastify, { type FastifyInstance } from 'fastify'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Registry } from 'prom-client'
import { serverOptions, useObservability } from '@sluice/kit/fastify'
import { healthRoutes } from '@sluice/kit/health'
import type { Logger } from '@sluice/kit/logger'
import { pingPostgres, type Pool } from '@sluice/kit/pg'
import { useProblemJson } from '@sluice/kit/problem'
import type { StorageHealth } from './worker.js'

export interface WorkerHttpDeps {
  pool: Pool
  nc: NatsConnection
  registry: Registry
  log: Logger
  /** The consume loop's state: not ready while it cannot store batches. */
  storage?: () => StorageHealth
}

/** The worker's HTTP side: metrics and health only. */
export async function buildWorkerHttp({ pool, nc, registry, log, storage }: WorkerHttpDeps): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ log }))
  useProblemJson(app)
  useObservability(app, { registry })
  await healthRoutes(app, {
    checks: {
      postgres: () => pingPostgres(pool),
      nats: async () => {
        if (nc.isClosed()) throw new Error('NATS connection closed')
        await nc.flush()
      },
      ...(storage
        ? {
            storage: () => {
              const s = storage()
              if (!s.storing) throw new Error(`batches are not being stored since ${s.since?.toISOString()}: ${s.error}`)
            },
          }
        : {}),
    },
  })
  return app
}
