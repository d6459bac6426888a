import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { revenueGroups } from '../sql/revenue.js'
import { dim, num, rangeQuery, resolveRange, splitRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

const Query = rangeQuery({
  groupBy: Type.Optional(
    Type.Union([Type.Literal('day'), Type.Literal('source'), Type.Literal('campaign'), Type.Literal('country'), Type.Literal('currency')], {
      default: 'day',
      description: 'Grouping of `groups` (default day, UTC)',
    }),
  ),
})

export const Revenue = Type.Object(
  {
    ...RangeEcho,
    groupBy: Type.String(),
    revenue: Type.Number({ description: 'Total, all currencies added' }),
    events: Type.Number({ description: 'Events that carry revenue' }),
    groups: Type.Array(
      Type.Object({
        key: Nullable(Type.String({ description: 'The day (YYYY-MM-DD), source, campaign id, country or currency; null when the events have none' })),
        revenue: Type.Number(),
        events: Type.Number(),
      }),
      { description: 'Days in order; other groups by revenue, largest first' },
    ),
  },
  { $id: 'Revenue' },
)

export default async function revenueRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/revenue',
    {
      schema: {
        tags: ['revenue'],
        summary: 'Revenue in total and per day, source, campaign, country or currency',
        querystring: Query,
        response: { 200: Revenue, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const groupBy = request.query.groupBy ?? 'day'
      const rows = await revenueGroups(app.pg, splitRange(range), range.source, groupBy)
      const groups = rows.map((r) => ({ key: dim(r.key), revenue: num(r.revenue), events: num(r.events) }))
      const total = rows.reduce((acc, r) => acc + BigInt(r.events), 0n)
      groups.sort(
        groupBy === 'day'
          ? (a, b) => (a.key! < b.key! ? -1 : 1)
          : (a, b) => b.revenue - a.revenue || String(a.key ?? '').localeCompare(String(b.key ?? '')),
      )
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        groupBy,
        revenue: exactSum(rows.map((r) => r.revenue)),
        events: Number(total),
        groups,
      }
    },
  )
}

/** Adds decimal strings exactly (numeric sums from PostgreSQL), then gives a JSON number. */
export function exactSum(values: string[]): number {
  let scale = 0
  for (const v of values) scale = Math.max(scale, (v.split('.')[1] ?? '').length)
  let sum = 0n
  for (const v of values) {
    const negative = v.startsWith('-')
    const [whole = '0', fraction = ''] = (negative ? v.slice(1) : v).split('.')
    const units = BigInt(whole + fraction.padEnd(scale, '0'))
    sum += negative ? -units : units
  }
  const negative = sum < 0n
  const digits = (negative ? -sum : sum).toString().padStart(scale + 1, '0')
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits
  return Number(negative ? `-${text}` : text)
}
