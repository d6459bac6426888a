import Type, { type Static } from 'typebox'
import { HttpProblem } from '@sluice/kit/problem'

/** The `from`/`to`/`source` parameters every read endpoint takes. */
export const RangeQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (inclusive), ISO-8601. Default: 30 days before `to`' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive), ISO-8601. Default: now' })),
  source: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'Only events of this source' })),
})

export type RangeQuery = Static<typeof RangeQuery>

const DEFAULT_SPAN_MS = 30 * 24 * 3600 * 1000

export function resolveRange(q: RangeQuery): { from: Date; to: Date; source: string | null } {
  const to = q.to ? new Date(q.to) : new Date()
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_SPAN_MS)
  if (from.getTime() >= to.getTime()) {
    throw new HttpProblem(400, { kind: 'validation', detail: '`from` must be before `to`', errors: [{ path: '/querystring/from', message: 'must be before to' }] })
  }
  return { from, to, source: q.source ?? null }
}
