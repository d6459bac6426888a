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
}

export type AnalyticsConfig = ReturnType<typeof loadAnalyticsConfig>

export function loadAnalyticsConfig(options: LoadOptions = {}) {
  return loadConfigOrExit(analyticsSchema, options)
}
