import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { marketplaceSummary } from '../sql/marketplace.js'
import { num, rangeQuery, resolveRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

const Filter = (what: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: `Only jobs of this ${what} (from job.posted)` }))

const Query = rangeQuery({ category: Filter('category'), city: Filter('city') })

export const MarketplaceSummary = Type.Object(
  {
    ...RangeEcho,
    category: Nullable(Type.String()),
    city: Nullable(Type.String()),
    jobsPosted: Type.Number({ description: 'Jobs whose job.posted is in the range: every figure below is about them' }),
    jobsWithBid: Type.Number({ description: '… that received at least one bid.placed' }),
    jobsAssigned: Type.Number(),
    jobsCompleted: Type.Number(),
    jobsCancelled: Type.Number(),
    fillRate: Nullable(Type.Number({ description: 'jobsAssigned / jobsPosted' })),
    timeToFirstBid: Type.Object({
      medianSeconds: Nullable(Type.Number()),
      p90Seconds: Nullable(Type.Number()),
    }),
    medianBidsPerJob: Nullable(Type.Number({ description: 'Over every posted job, those without bids included' })),
    gmv: Type.Number({ description: 'Sum of payment.captured amounts of these jobs, all currencies added' }),
    payments: Type.Number(),
  },
  { $id: 'MarketplaceSummary' },
)

export default async function marketplaceRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/marketplace/summary',
    {
      schema: {
        tags: ['marketplace'],
        summary: 'Jobs posted, bid on, assigned, completed and cancelled; fill rate, time to first bid, bids per job, GMV',
        querystring: Query,
        response: { 200: MarketplaceSummary, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const category = request.query.category ?? null
      const city = request.query.city ?? null
      const r = await marketplaceSummary(app.pg, { from: range.from, to: range.to, source: range.source, category, city })
      const posted = num(r.posted)
      const assigned = num(r.assigned)
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        category,
        city,
        jobsPosted: posted,
        jobsWithBid: num(r.with_bid),
        jobsAssigned: assigned,
        jobsCompleted: num(r.completed),
        jobsCancelled: num(r.cancelled),
        fillRate: posted > 0 ? assigned / posted : null,
        timeToFirstBid: { medianSeconds: r.first_bid_p50, p90Seconds: r.first_bid_p90 },
        medianBidsPerJob: r.bids_p50,
        gmv: num(r.gmv),
        payments: num(r.payments),
      }
    },
  )
}
