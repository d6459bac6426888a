import { commonSchema, httpSchema, loadConfigOrExit, type LoadOptions } from '@sluice/kit/config'

export const analyticsSchema = {
  ...commonSchema,
  ...httpSchema(3002),
  statementTimeoutMs: {
    doc: 'Longest a single analytics query may run before PostgreSQL cancels it',
    format: 'positive-int',
    default: 10_000,
    env: 'STATEMENT_TIMEOUT_MS',
  },
  poolSize: {
    doc: 'PostgreSQL connections the analytics service may hold',
    format: 'positive-int',
    default: 10,
    env: 'PG_POOL_SIZE',
  },
  workMem: {
    doc: 'PostgreSQL work_mem of analytics sessions (funnels and unique-user unions hash a lot)',
    format: (v: unknown) => {
      if (typeof v !== 'string' || !/^[1-9][0-9]{0,6}(kB|MB|GB)$/.test(v)) throw new Error('must look like 64MB (kB, MB or GB)')
    },
    default: '64MB',
    env: 'PG_WORK_MEM',
  },
  analyticsDatabaseUrl: {
    doc: 'PostgreSQL URL analytics connects with, ideally as the read-only login role (postgres://sluice_analytics:…@host/sluice); empty = DATABASE_URL',
    format: (v: unknown) => {
      if (typeof v !== 'string' || (v !== '' && !/^postgres(ql)?:\/\//.test(v))) throw new Error('must be empty or a postgres:// URL')
    },
    default: '',
    env: 'ANALYTICS_DATABASE_URL',
    sensitive: true,
  },
  analyticsDbRole: {
    doc: 'Role analytics sessions switch to at connection start (SET ROLE); its grants, not the login role\'s, decide what a query may touch. Empty = stay the login role',
    format: (v: unknown) => {
      if (typeof v !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$|^$/.test(v)) throw new Error('must be empty or a lower-case role name')
    },
    default: 'sluice_reader',
    env: 'ANALYTICS_DB_ROLE',
  },
  readTokens: {
    doc: 'Bearer tokens accepted on /v1 (comma-separated); empty = the read API is open',
    format: 'string-list',
    default: [] as string[],
    env: 'READ_TOKENS',
    sensitive: true,
  },
}

export type AnalyticsConfig = ReturnType<typeof loadAnalyticsConfig>

export function loadAnalyticsConfig(options: LoadOptions = {}) {
  const config = loadConfigOrExit(analyticsSchema, options)
  // convict keeps custom-format values as given.
  const analyticsDatabaseUrl = String(config.analyticsDatabaseUrl)
  return { ...config, analyticsDatabaseUrl, analyticsDbRole: String(config.analyticsDbRole), readUrl: analyticsDatabaseUrl || config.databaseUrl }
}
