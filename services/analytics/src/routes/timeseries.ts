import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Pool } from '@sluice/kit/pg'
import { eventSeries } from '../sql/events.js'
import { usersByBucketFromEvents, usersByDay, usersByHour, usersBySource } from '../sql/users.js'
import { badParameter, ceilTo, DAY_MS, floorTo, HOUR_MS, num, rangeQuery, resolveRange, splitRange, type Range } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Nullable, RangeEcho } from '../schemas/common.js'

export const MAX_BUCKETS = 10_000

const INTERVALS = {
  minute: { ms: 60_000, stride: '1 minute', finest: 'event' },
  hour: { ms: HOUR_MS, stride: '1 hour', finest: 'hour' },
  day: { ms: DAY_MS, stride: '1 day', finest: 'day' },
} as const

type Interval = keyof typeof INTERVALS

const Query = rangeQuery({
  interval: Type.Optional(Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')], { default: 'day', description: 'Bucket size (UTC), default day' })),
  eventType: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only events of this type' })),
  funnelStage: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'Only events at this funnel stage' })),
})

export const Timeseries = Type.Object(
  {
    ...RangeEcho,
    interval: Type.String(),
    eventType: Nullable(Type.String()),
    funnelStage: Nullable(Type.String()),
    buckets: Type.Array(
      Type.Object({
        start: Type.String({ format: 'date-time', description: 'Bucket start (UTC); the first and last bucket are cut to the range' }),
        events: Type.Number(),
        uniqueUsers: Type.Number({ description: 'Distinct users in the bucket (within the range)' }),
        revenue: Type.Number(),
      }),
    ),
  },
  { $id: 'Timeseries' },
)

/** Distinct users of each bucket; buckets cut by the range ends are computed on their own. */
async function usersPerBucket(pool: Pool, range: Range, interval: Interval, eventType: string | null, funnelStage: string | null): Promise<Map<number, number>> {
  const { ms, stride } = INTERVALS[interval]
  const users = new Map<number, number>()
  if (interval === 'minute' || eventType !== null || funnelStage !== null) {
    const rows = await usersByBucketFromEvents(pool, range.from, range.to, stride, ms, { source: range.source, eventType, funnelStage })
    for (const r of rows) users.set(r.bucket.getTime(), num(r.users))
    return users
  }
  const f = range.from.getTime()
  const t = range.to.getTime()
  const wholeFrom = ceilTo(f, ms)
  const wholeTo = Math.max(wholeFrom, floorTo(t, ms))
  const partial: { start: number; from: number; to: number }[] = []
  if (f < wholeFrom) partial.push({ start: floorTo(f, ms), from: f, to: Math.min(wholeFrom, t) })
  if (wholeTo < t && wholeTo >= f && (partial.length === 0 || wholeTo >= wholeFrom)) partial.push({ start: wholeTo, from: Math.max(wholeTo, f), to: t })
  const whole =
    wholeFrom < wholeTo
      ? (interval === 'day' ? usersByDay : usersByHour)(pool, new Date(wholeFrom), new Date(wholeTo), range.source)
      : Promise.resolve([])
  const cut = partial.map(async (p) => {
    const rows = await usersBySource(pool, splitRange({ from: new Date(p.from), to: new Date(p.to) }), range.source)
    const row = rows.find((r) => r.source === (range.source ?? '*'))
    return [p.start, num(row?.users)] as const
  })
  for (const r of await whole) users.set(r.bucket.getTime(), num(r.users))
  for (const [start, n] of await Promise.all(cut)) users.set(start, n)
  return users
}

export default async function timeseriesRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/stats/timeseries',
    {
      schema: {
        tags: ['stats'],
        summary: 'Events, unique users and revenue per minute, hour or day, every bucket present',
        querystring: Query,
        response: { 200: Timeseries, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const interval = request.query.interval ?? 'day'
      const { ms, stride, finest } = INTERVALS[interval]
      const first = floorTo(range.from.getTime(), ms)
      const count = Math.ceil((range.to.getTime() - first) / ms)
      if (count > MAX_BUCKETS) throw badParameter('interval', `${count} buckets of a ${interval} in this range; at most ${MAX_BUCKETS}`)
      const eventType = request.query.eventType ?? null
      const funnelStage = request.query.funnelStage ?? null
      const [series, users] = await Promise.all([
        eventSeries(app.pg, splitRange(range, finest), stride, { source: range.source, eventType, funnelStage }),
        usersPerBucket(app.pg, range, interval, eventType, funnelStage),
      ])
      const byBucket = new Map(series.map((r) => [r.bucket.getTime(), r]))
      const buckets = []
      for (let i = 0; i < count; i++) {
        const start = first + i * ms
        const row = byBucket.get(start)
        buckets.push({
          start: new Date(start).toISOString(),
          events: num(row?.events),
          uniqueUsers: users.get(start) ?? 0,
          revenue: num(row?.revenue),
        })
      }
      return { from: range.from.toISOString(), to: range.to.toISOString(), source: range.source, interval, eventType, funnelStage, buckets }
    },
  )
}
