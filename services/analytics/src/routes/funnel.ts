import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { funnel, MAX_FUNNEL_STEPS } from '../sql/funnel.js'
import { badParameter, num, rangeQuery, resolveRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }
export const MAX_WINDOW_SECONDS = 366 * 86_400

const Query = rangeQuery({
  steps: Type.String({
    pattern: '^[^,]{1,128}(,[^,]{1,128}){1,' + String(MAX_FUNNEL_STEPS - 1) + '}$',
    description: `Event types in order, comma-separated (2 to ${MAX_FUNNEL_STEPS}), e.g. ad.view,ad.click,checkout.complete`,
  }),
  window: Type.Optional(
    Type.String({ pattern: '^[1-9][0-9]{0,6}[smhd]$', default: '7d', description: 'How long after entering a user has to reach each step: 30m, 24h, 7d… (default 7d)' }),
  ),
})

export const Funnel = Type.Object(
  {
    ...RangeEcho,
    window: Type.String(),
    windowSeconds: Type.Number(),
    steps: Type.Array(
      Type.Object({
        step: Type.Integer({ description: '1-based' }),
        eventType: Type.String(),
        users: Type.Number({ description: 'Users who reached this step' }),
        conversionFromFirst: Nullable(Type.Number({ description: 'users / users of step 1' })),
        conversionFromPrevious: Nullable(Type.Number({ description: 'users / users of the previous step' })),
        medianSecondsFromPrevious: Nullable(Type.Number({ description: 'Median time from the previous step; null for step 1' })),
      }),
    ),
  },
  { $id: 'Funnel' },
)

export default async function funnelRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/funnel',
    {
      schema: {
        tags: ['funnel'],
        summary: 'Ordered per-user funnel: users per step, conversions and median time between steps',
        description:
          'A user enters with its first step-1 event in the range and reaches step k with a step-k event after its step-(k-1) event and within `window` of entering (later steps may fall after `to`).',
        querystring: Query,
        response: { 200: Funnel, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const steps = request.query.steps.split(',')
      const window = request.query.window ?? '7d'
      const windowSeconds = Number(window.slice(0, -1)) * UNIT_SECONDS[window.slice(-1)]!
      if (windowSeconds > MAX_WINDOW_SECONDS) throw badParameter('window', 'at most 366 days')
      const rows = await funnel(app.pg, range.from, range.to, windowSeconds, range.source, steps)
      const users = rows.map((r) => num(r.users))
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        window,
        windowSeconds,
        steps: rows.map((r, i) => ({
          step: i + 1,
          eventType: steps[i]!,
          users: users[i]!,
          conversionFromFirst: users[0]! > 0 ? users[i]! / users[0]! : null,
          conversionFromPrevious: i === 0 ? null : users[i - 1]! > 0 ? users[i]! / users[i - 1]! : null,
          medianSecondsFromPrevious: i === 0 ? null : r.median_seconds,
        })),
      }
    },
  )
}
