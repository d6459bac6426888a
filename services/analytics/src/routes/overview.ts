import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { overviewGroups, overviewTotals } from '../sql/overview.js'
import { RangeQuery, resolveRange } from './range.js'

const Count = (description: string) => Type.Object({ events: Type.Number({ description }) })

export const Overview = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    source: Type.Union([Type.String(), Type.Null()]),
    events: Type.Number({ description: 'Events in the range' }),
    uniqueUsers: Type.Number({ description: 'Distinct user_id in the range' }),
    revenue: Type.Number({ description: 'Sum of revenue (all currencies)' }),
    bySource: Type.Array(Type.Intersect([Type.Object({ source: Type.String() }), Count('Events of this source')])),
    byEventType: Type.Array(Type.Intersect([Type.Object({ eventType: Type.String() }), Count('Events of this type')])),
    byFunnelStage: Type.Array(Type.Intersect([Type.Object({ funnelStage: Type.Union([Type.String(), Type.Null()]) }), Count('Events at this stage')])),
  },
  { $id: 'Overview' },
)

function grouped<K extends string>(rows: { key: string | null; events: number }[], name: K) {
  const sums = new Map<string | null, number>()
  for (const r of rows) sums.set(r.key, (sums.get(r.key) ?? 0) + r.events)
  return [...sums]
    .map(([key, events]) => ({ [name]: key, events }) as Record<K, string | null> & { events: number })
    .sort((a, b) => b.events - a.events)
}

export default async function overviewRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/stats/overview',
    {
      schema: {
        tags: ['stats'],
        summary: 'Events, unique users and revenue, by source, event type and funnel stage',
        querystring: RangeQuery,
        response: { 200: Overview },
      },
    },
    async (request) => {
      const range = resolveRange(request.query as RangeQuery)
      const [groups, totals] = await Promise.all([overviewGroups(app.pg, range), overviewTotals(app.pg, range)])
      const rows = groups.map((g) => ({ ...g, events: Number(g.events) }))
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        events: Number(totals.events),
        uniqueUsers: Number(totals.unique_users),
        revenue: Number(totals.revenue),
        bySource: grouped(rows.map((r) => ({ key: r.source, events: r.events })), 'source'),
        byEventType: grouped(rows.map((r) => ({ key: r.event_type, events: r.events })), 'eventType'),
        byFunnelStage: grouped(rows.map((r) => ({ key: r.funnel_stage, events: r.events })), 'funnelStage'),
      }
    },
  )
}
