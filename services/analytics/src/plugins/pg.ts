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
  workMem: string
  /** Role the sessions switch to at connection start (`sluice_reader`); empty = the login role. */
  role?: string
}

/**
 * The analytics pool. Every session is read-only by default (a query that tries to write
 * fails, whatever the role may do), bounded by a statement timeout, and runs without JIT
 * (compiling costs more than these queries take). Rollups and index pages stay cached, so
 * random reads are costed close to sequential ones. Closed with the app.
 */
export default fp<PgPluginOptions>(
  async (app, { url, max, statementTimeoutMs, workMem, role = '' }) => {
    const pool = createPool({ url: withSessionSettings(url, workMem, role), log: app.log, applicationName: 'sluice-analytics', max, statementTimeoutMs })
    app.decorate('pg', pool)
    app.addHook('onClose', async () => pool.end())
  },
  { name: 'pg' },
)

/**
 * The server applies these at connection start (libpq `options`), before any query. With
 * a role, the session runs as that role (SET ROLE) from its first statement: a role with
 * SELECT grants only, so even `BEGIN READ WRITE` cannot write.
 */
export function withSessionSettings(url: string, workMem: string, role = ''): string {
  const u = new URL(url)
  const settings = `-c default_transaction_read_only=on -c jit=off -c work_mem=${workMem} -c random_page_cost=1.1${role ? ` -c role=${role}` : ''}`
  const given = u.searchParams.get('options')
  u.searchParams.set('options', given ? `${given} ${settings}` : settings)
  return u.toString()
}
