import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { eventCounts } from '../sql/events.js'
import { stageUsers } from '../sql/stages.js'
import { num, rangeQuery, resolveRange, splitRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

export const Stages = Type.Object(
  {
    ...RangeEcho,
    sources: Type.Array(
      Type.Object({
        source: Type.String(),
        stages: Type.Array(Type.Object({ funnelStage: Type.String(), events: Type.Number(), uniqueUsers: Type.Number() }), {
          description: 'top first, bottom second, other stages after',
        }),
        topUsers: Type.Number({ description: 'Distinct users seen at the top stage' }),
        reachedBottom: Type.Number({ description: 'Of those, users also seen at the bottom stage' }),
        conversion: Nullable(Type.Number({ description: 'reachedBottom / topUsers; null without top users' })),
      }),
    ),
  },
  { $id: 'Stages' },
)

const ORDER: Record<string, number> = { top: 0, bottom: 1 }

export default async function stagesRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/funnel/stages',
    {
      schema: {
        tags: ['funnel'],
        summary: 'Funnel-stage conversion per source: events and users per stage, users seen at top who reached bottom',
        querystring: rangeQuery({}),
        response: { 200: Stages, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const split = splitRange(range)
      const [counts, users] = await Promise.all([eventCounts(app.pg, split, range.source), stageUsers(app.pg, split, range.source)])
      const sources = new Map<string, { stages: Map<string, { events: number; uniqueUsers: number }>; reachedBottom: number }>()
      const entry = (source: string) => {
        let s = sources.get(source)
        if (!s) sources.set(source, (s = { stages: new Map(), reachedBottom: 0 }))
        return s
      }
      const stage = (source: string, name: string) => {
        const stages = entry(source).stages
        let st = stages.get(name)
        if (!st) stages.set(name, (st = { events: 0, uniqueUsers: 0 }))
        return st
      }
      for (const r of counts) {
        if (r.grouping === 'sourceStage' && r.funnel_stage !== '') stage(r.source!, r.funnel_stage!).events = num(r.events)
      }
      for (const r of users) {
        if (r.funnel_stage === '→') entry(r.source).reachedBottom = num(r.users)
        else stage(r.source, r.funnel_stage).uniqueUsers = num(r.users)
      }
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        sources: [...sources]
          .map(([source, s]) => {
            const topUsers = s.stages.get('top')?.uniqueUsers ?? 0
            return {
              source,
              stages: [...s.stages]
                .map(([funnelStage, v]) => ({ funnelStage, ...v }))
                .sort((a, b) => (ORDER[a.funnelStage] ?? 2) - (ORDER[b.funnelStage] ?? 2) || (a.funnelStage < b.funnelStage ? -1 : 1)),
              topUsers,
              reachedBottom: s.reachedBottom,
              conversion: topUsers > 0 ? s.reachedBottom / topUsers : null,
            }
          })
          .sort((a, b) => (a.source < b.source ? -1 : 1)),
      }
    },
  )
}
