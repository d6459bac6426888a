import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Pool } from '@sluice/kit/pg'
import { pendingTopUsers, topUserSummaries, topUsersByEventsFromEvents, topUsersByRevenue, userTotals, type UserMetric, type UserTotalRow } from '../sql/top-users.js'
import { floorTo, num, rangeQuery, resolveRange, WEEK_MS, type Range } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Limit, RangeEcho } from '../schemas/common.js'

const Query = rangeQuery({
  metric: Type.Optional(Type.Union([Type.Literal('events'), Type.Literal('revenue')], { default: 'events', description: 'Rank by events (default) or revenue' })),
  limit: Limit(10, 100),
})

export const TopUsers = Type.Object(
  {
    ...RangeEcho,
    metric: Type.String(),
    users: Type.Array(Type.Object({ userId: Type.String(), events: Type.Number(), revenue: Type.Number() }), {
      description: 'Largest first, ties by user id; for revenue, users with revenue > 0 only',
    }),
  },
  { $id: 'TopUsers' },
)

/** How many candidates per week summary to start with, and at most (the summaries hold 2,000). */
const FIRST_CANDIDATES = 32
const SUMMARY_SIZE = 2_000

export interface TopUsersResult {
  rows: UserTotalRow[]
  /** How the answer was proven: 'summaries' (rounds taken) or 'events' (every user of the range). */
  via: 'summaries' | 'events'
  rounds: number
}

/**
 * Exact top users of a range by events, without reading every user. Each week's summary
 * bounds any user's count in that week (counter + delta; delta alone for users it does
 * not hold), so a user outside the candidates has at most `bound` in the range: the sum
 * over the range's weeks of what the first user not taken could have. Candidates get
 * exact totals from `events`; once the k-th of them is above `bound` nobody else can be
 * in the top k. Otherwise take 4× more candidates, and in the end every user of the range.
 */
export async function topUsersByEvents(pool: Pool, range: Range, limit: number): Promise<TopUsersResult> {
  const weeks: Date[] = []
  for (let w = floorTo(range.from.getTime(), WEEK_MS); w < range.to.getTime(); w += WEEK_MS) weeks.push(new Date(w))
  const pending = await pendingTopUsers(pool, weeks, range.source)
  let rounds = 0
  for (let m = Math.max(FIRST_CANDIDATES, 4 * limit); ; m *= 4) {
    rounds++
    const summaries = await topUserSummaries(pool, weeks, range.source, Math.min(m, SUMMARY_SIZE))
    const candidates = new Set(pending)
    let bound = 0
    for (const s of summaries) {
      for (const u of s.users) candidates.add(u)
      bound += num(s.delta) + num(s.next)
    }
    const totals = (await userTotals(pool, [...candidates], range.from, range.to, range.source)).sort(
      (a, b) => num(b.events) - num(a.events) || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0),
    )
    const kth = totals[limit - 1]
    if (bound === 0 || (kth !== undefined && num(kth.events) > bound)) return { rows: totals.slice(0, limit), via: 'summaries', rounds }
    if (m >= SUMMARY_SIZE) break
  }
  return { rows: await topUsersByEventsFromEvents(pool, range.from, range.to, range.source, limit), via: 'events', rounds }
}

/** Top users by revenue: straight from the events that carry revenue, then their event counts. */
export async function topUsers(pool: Pool, range: Range, metric: UserMetric, limit: number): Promise<TopUsersResult> {
  if (metric === 'events') return topUsersByEvents(pool, range, limit)
  const top = await topUsersByRevenue(pool, range.from, range.to, range.source, limit)
  const totals = new Map((await userTotals(pool, top.map((t) => t.user_id), range.from, range.to, range.source)).map((t) => [t.user_id, t]))
  return { rows: top.map((t) => ({ user_id: t.user_id, events: totals.get(t.user_id)?.events ?? '0', revenue: t.revenue })), via: 'events', rounds: 0 }
}

export default async function usersRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/users/top',
    {
      schema: {
        tags: ['users'],
        summary: 'Users with the most events or revenue',
        querystring: Query,
        response: { 200: TopUsers, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const metric = request.query.metric ?? 'events'
      const result = await topUsers(app.pg, range, metric, request.query.limit ?? 10)
      request.log.debug({ via: result.via, rounds: result.rounds }, 'top users')
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        metric,
        users: result.rows.map((r) => ({ userId: r.user_id, events: num(r.events), revenue: num(r.revenue) })),
      }
    },
  )
}
