import fp from 'fastify-plugin'
import pg from 'pg'
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

/**
 * Whether ANALYTICS_DB_ROLE can read `events` in this database: the message to exit with
 * when it cannot (a database migrated before 0050, or a role name of another setup).
 */
export async function roleProblem(url: string, role: string): Promise<string | undefined> {
  if (!role) return undefined
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    const { rows } = await client.query<{ ok: boolean | null }>(
      `SELECT CASE WHEN to_regrole($1) IS NULL THEN NULL ELSE pg_has_role(current_user, $1, 'MEMBER') AND has_table_privilege($1, 'events', 'SELECT') END AS ok`,
      [role],
    )
    if (rows[0]?.ok) return undefined
    return `ANALYTICS_DB_ROLE "${role}" ${rows[0]?.ok === null ? 'does not exist' : 'cannot read events here, or the login role may not switch to it'}: run \`npm run db:migrate\` (migration 0050 creates and grants it), or set ANALYTICS_DB_ROLE= to read as the login role`
  } finally {
    await client.end()
  }
}
