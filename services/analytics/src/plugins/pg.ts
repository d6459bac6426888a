import fp from 'fastify-plugin'
import { createPool, type Pool } from '@sluice/kit/pg'

declare module 'fastify' {
  interface FastifyInstance {
    pg: Pool
  }
}

export interface PgPluginOptions {
  url: string
  max: number
  statementTimeoutMs: number
}

/** The analytics pool: every query bounded by a statement timeout, closed with the app. */
export default fp<PgPluginOptions>(
  async (app, { url, max, statementTimeoutMs }) => {
    const pool = createPool({ url, log: app.log, applicationName: 'sluice-analytics', max, statementTimeoutMs })
    app.decorate('pg', pool)
    app.addHook('onClose', async () => pool.end())
  },
  { name: 'pg' },
)
