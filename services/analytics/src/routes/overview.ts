import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { eventCounts, type EventCountRow } from '../sql/events.js'
import { usersBySource } from '../sql/users.js'
import { dim, num, rangeQuery, resolveRange, splitRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

export const Overview = Type.Object(
  {
    ...RangeEcho,
    events: Type.Number({ description: 'Events in the range' }),
    uniqueUsers: Type.Number({ description: 'Distinct user ids among them' }),
    revenue: Type.Number({ description: 'Sum of revenue, all currencies added (see /v1/revenue?groupBy=currency)' }),
    bySource: Type.Array(Type.Object({ source: Type.String(), events: Type.Number(), uniqueUsers: Type.Number(), revenue: Type.Number() })),
    byEventType: Type.Array(Type.Object({ eventType: Type.String(), events: Type.Number(), revenue: Type.Number() })),
    byFunnelStage: Type.Array(
      Type.Object({ funnelStage: Nullable(Type.String({ description: 'null for events without a stage' })), events: Type.Number(), revenue: Type.Number() }),
    ),
  },
  { $id: 'Overview' },
)

const byEvents = (a: { events: number; key: string }, b: { events: number; key: string }) => b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

function grouped(rows: EventCountRow[], grouping: EventCountRow['grouping'], key: (r: EventCountRow) => string) {
  return rows
    .filter((r) => r.grouping === grouping)
    .map((r) => ({ key: key(r), events: num(r.events), revenue: num(r.revenue) }))
    .sort(byEvents)
}

export default async function overviewRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/stats/overview',
    {
      schema: {
        tags: ['stats'],
        summary: 'Events, unique users and revenue, by source, event type and funnel stage',
        querystring: rangeQuery({}),
        response: { 200: Overview, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const split = splitRange(range)
      const [counts, users] = await Promise.all([eventCounts(app.pg, split, range.source), usersBySource(app.pg, split, range.source)])
      const usersOf = new Map(users.map((u) => [u.source, num(u.users)]))
      const total = counts.find((r) => r.grouping === 'total')
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        events: num(total?.events),
        uniqueUsers: usersOf.get(range.source ?? '*') ?? 0,
        revenue: num(total?.revenue),
        bySource: grouped(counts, 'source', (r) => r.source!).map((g) => ({
          source: g.key,
          events: g.events,
          uniqueUsers: usersOf.get(g.key) ?? 0,
          revenue: g.revenue,
        })),
        byEventType: grouped(counts, 'eventType', (r) => r.event_type!).map((g) => ({ eventType: g.key, events: g.events, revenue: g.revenue })),
        byFunnelStage: grouped(counts, 'funnelStage', (r) => r.funnel_stage!).map((g) => ({
          funnelStage: dim(g.key),
          events: g.events,
          revenue: g.revenue,
        })),
      }
    },
  )
}
