import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CLICK_TYPES, CONVERSION_TYPES, topCampaigns } from '../sql/campaigns.js'
import { num, rangeQuery, resolveRange, splitRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Limit, Nullable, RangeEcho } from '../schemas/common.js'

const Query = rangeQuery({
  metric: Type.Optional(
    Type.Union([Type.Literal('events'), Type.Literal('clicks'), Type.Literal('conversions'), Type.Literal('revenue')], {
      default: 'events',
      description: 'What to rank by (default events)',
    }),
  ),
  limit: Limit(10, 1_000),
})

export const Campaigns = Type.Object(
  {
    ...RangeEcho,
    metric: Type.String(),
    campaigns: Type.Array(
      Type.Object({
        campaignId: Type.String(),
        events: Type.Number(),
        clicks: Type.Number({ description: `Events of type ${CLICK_TYPES.join(', ')}` }),
        conversions: Type.Number({ description: `Events of type ${CONVERSION_TYPES.join(', ')}` }),
        revenue: Type.Number(),
        conversionRate: Nullable(Type.Number({ description: 'conversions / clicks; null without clicks' })),
      }),
    ),
  },
  { $id: 'Campaigns' },
)

export default async function campaignsRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/campaigns/top',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Campaigns ranked by events, clicks, conversions or revenue',
        querystring: Query,
        response: { 200: Campaigns, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const metric = request.query.metric ?? 'events'
      const rows = await topCampaigns(app.pg, splitRange(range), range.source, metric, request.query.limit ?? 10)
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        metric,
        campaigns: rows.map((r) => {
          const clicks = num(r.clicks)
          const conversions = num(r.conversions)
          return {
            campaignId: r.campaign_id,
            events: num(r.events),
            clicks,
            conversions,
            revenue: num(r.revenue),
            conversionRate: clicks > 0 ? conversions / clicks : null,
          }
        }),
      }
    },
  )
}
