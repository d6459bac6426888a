import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { geoCounts, geoUsers } from '../sql/geo.js'
import { dim, num, rangeQuery, resolveRange, splitRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Limit, Nullable, RangeEcho } from '../schemas/common.js'

const Query = rangeQuery({
  level: Type.Optional(Type.Union([Type.Literal('country'), Type.Literal('city')], { default: 'country', description: 'country (default) or city' })),
  limit: Limit(100, 10_000),
})

export const Geo = Type.Object(
  {
    ...RangeEcho,
    level: Type.String(),
    places: Type.Array(
      Type.Object({
        country: Nullable(Type.String({ description: 'ISO 3166-1 alpha-2 where it could be mapped; null when unknown' })),
        city: Type.Optional(Nullable(Type.String({ description: 'Present with level=city; null when unknown' }))),
        events: Type.Number(),
        uniqueUsers: Type.Number(),
        revenue: Type.Number(),
      }),
      { description: 'Most events first' },
    ),
  },
  { $id: 'Geo' },
)

export default async function geoRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/geo',
    {
      schema: {
        tags: ['geo'],
        summary: 'Events, unique users and revenue per country or city',
        querystring: Query,
        response: { 200: Geo, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const level = request.query.level ?? 'country'
      const byCity = level === 'city'
      const split = splitRange(range)
      const [counts, users] = await Promise.all([geoCounts(app.pg, split, range.source, byCity), geoUsers(app.pg, split, range.source, byCity)])
      const usersOf = new Map(users.map((u) => [`${u.country}\u0000${u.city}`, num(u.users)]))
      const places = counts
        .map((c) => ({
          country: dim(c.country),
          ...(byCity ? { city: dim(c.city) } : {}),
          events: num(c.events),
          uniqueUsers: usersOf.get(`${c.country}\u0000${c.city}`) ?? 0,
          revenue: num(c.revenue),
          key: `${c.country}\u0000${c.city}`,
        }))
        .sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : 1))
        .slice(0, request.query.limit ?? 100)
        .map(({ key: _key, ...place }) => place)
      return { from: range.from.toISOString(), to: range.to.toISOString(), source: range.source, level, places }
    },
  )
}
