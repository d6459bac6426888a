import fp from 'fastify-plugin'
import { Gauge, type Registry } from 'prom-client'

export interface RollupMetricsOptions {
  registry: Registry
}

/**
 * How far folding lags, read from the database when /metrics is scraped: deltas that
 * readers must still add up themselves, and the age of the last fold. A growing backlog
 * means folds fail (see PostgreSQL's log) or a rebuild holds the fold lock.
 */
export default fp<RollupMetricsOptions>(
  async (app, { registry }) => {
    const pending = new Gauge({
      name: 'sluice_analytics_pending_deltas',
      help: 'Rollup delta rows not folded yet',
      registers: [registry],
      collect: async () => {
        const { rows } = await app.pg.query<{ n: string }>(`
          SELECT (SELECT count(*) FROM rollup_events_pending) + (SELECT count(*) FROM rollup_geo_pending)
               + (SELECT count(*) FROM rollup_campaigns_pending) + (SELECT count(*) FROM rollup_revenue_pending)
               + (SELECT count(*) FROM rollup_providers_pending) + (SELECT count(*) FROM rollup_users_pending)
               + (SELECT count(*) FROM rollup_user_weeks_pending) + (SELECT count(*) FROM mp_jobs_pending)
               + (SELECT count(*) FROM mp_job_providers_pending) AS n`)
        pending.set(Number(rows[0]!.n))
      },
    })
    const age = new Gauge({
      name: 'sluice_analytics_last_fold_age_seconds',
      help: 'Seconds since rollup deltas were last folded',
      registers: [registry],
      collect: async () => {
        const { rows } = await app.pg.query<{ age: number | null }>(
          `SELECT extract(epoch FROM clock_timestamp() - folded_at)::float8 AS age FROM rollup_state WHERE folded_at > '-infinity'`,
        )
        if (rows[0]?.age !== undefined && rows[0].age !== null) age.set(rows[0].age)
      },
    })
  },
  { name: 'rollup-metrics', dependencies: ['pg'] },
)
