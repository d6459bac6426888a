import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { providerSignals, type ProviderRow } from '../sql/marketplace.js'
import { badParameter, num, rangeQuery, resolveRange } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Limit, Nullable, RangeEcho } from '../schemas/common.js'

/** Default score weights, and the Beta(α, β) prior of the click-through rate. */
export const DEFAULT_WEIGHTS = { ctr: 0.3, winRate: 0.2, completion: 0.2, rating: 0.2, response: 0.1 }
export const DEFAULT_PRIOR = { alpha: 1, beta: 19 }

type Weights = typeof DEFAULT_WEIGHTS

const Weight = (name: keyof Weights) =>
  Type.Optional(Type.Number({ minimum: 0, maximum: 1000, description: `Weight of ${name} in the score (default ${DEFAULT_WEIGHTS[name]})` }))

const Query = rangeQuery({
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Searches in this category, jobs of this category' })),
  city: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Searches in this city, jobs in this city' })),
  limit: Limit(20, 1_000),
  'w.ctr': Weight('ctr'),
  'w.winRate': Weight('winRate'),
  'w.completion': Weight('completion'),
  'w.rating': Weight('rating'),
  'w.response': Weight('response'),
  'prior.alpha': Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e6, description: `α of the Beta prior of the CTR (default ${DEFAULT_PRIOR.alpha})` })),
  'prior.beta': Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e6, description: `β of the Beta prior of the CTR (default ${DEFAULT_PRIOR.beta})` })),
})

const Rate = (description: string) => Nullable(Type.Number({ description }))

export const Ranking = Type.Object(
  {
    ...RangeEcho,
    category: Nullable(Type.String()),
    city: Nullable(Type.String()),
    weights: Type.Object({ ctr: Type.Number(), winRate: Type.Number(), completion: Type.Number(), rating: Type.Number(), response: Type.Number() }),
    prior: Type.Object({ alpha: Type.Number(), beta: Type.Number() }),
    providers: Type.Array(
      Type.Object({
        providerId: Type.String(),
        score: Type.Number({ description: 'Σ weight × signal / Σ weights, each signal in [0, 1] (README)' }),
        impressions: Type.Number(),
        clicks: Type.Number(),
        ctr: Rate('clicks / impressions'),
        smoothedCtr: Type.Number({ description: '(clicks + α) / (impressions + α + β)' }),
        jobsResponded: Type.Number({ description: 'Jobs the provider bid on or quoted for' }),
        bids: Type.Number(),
        wins: Type.Number({ description: 'Jobs assigned to the provider' }),
        winRate: Rate('wins / jobsResponded'),
        medianResponseSeconds: Rate('Median time from job.posted to the provider’s first bid or quote'),
        completionRate: Rate('Jobs completed / wins'),
        averageRating: Rate('Mean feedback rating (1–5)'),
        ratings: Type.Number(),
      }),
      { description: 'Highest score first, ties by provider id' },
    ),
  },
  { $id: 'Ranking' },
)

function ratio(a: number, b: number): number | null {
  return b > 0 ? a / b : null
}

export function scoreProviders(rows: ProviderRow[], weights: Weights, prior: { alpha: number; beta: number }) {
  const providers = rows.map((r) => {
    const impressions = num(r.impressions)
    const clicks = num(r.clicks)
    const wins = num(r.wins)
    const ratings = num(r.ratings)
    return {
      providerId: r.provider_id,
      score: 0,
      impressions,
      clicks,
      ctr: ratio(clicks, impressions),
      smoothedCtr: (clicks + prior.alpha) / (impressions + prior.alpha + prior.beta),
      jobsResponded: num(r.jobs_responded),
      bids: num(r.bids),
      wins,
      winRate: ratio(wins, num(r.jobs_responded)),
      medianResponseSeconds: r.response_p50,
      completionRate: ratio(num(r.completed), wins),
      averageRating: ratio(num(r.rating_sum), ratings),
      ratings,
    }
  })
  const bestCtr = Math.max(0, ...providers.map((p) => p.smoothedCtr))
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  for (const p of providers) {
    const signals = {
      ctr: bestCtr > 0 ? p.smoothedCtr / bestCtr : 0,
      winRate: p.winRate ?? 0,
      completion: p.completionRate ?? 0,
      rating: p.averageRating === null ? 0 : Math.min(1, Math.max(0, (p.averageRating - 1) / 4)),
      response: p.medianResponseSeconds === null ? 0 : 1 / (1 + Math.max(0, p.medianResponseSeconds) / 3600),
    }
    const sum = (Object.keys(weights) as (keyof Weights)[]).reduce((acc, k) => acc + weights[k] * signals[k], 0)
    p.score = total > 0 ? sum / total : 0
  }
  return providers.sort((a, b) => b.score - a.score || (a.providerId < b.providerId ? -1 : 1))
}

export default async function rankingRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/ranking/providers',
    {
      schema: {
        tags: ['marketplace'],
        summary: 'Provider ranking signals and a score with weights you can pass per request',
        querystring: Query,
        response: { 200: Ranking, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query
      const range = resolveRange(q)
      const weights: Weights = {
        ctr: q['w.ctr'] ?? DEFAULT_WEIGHTS.ctr,
        winRate: q['w.winRate'] ?? DEFAULT_WEIGHTS.winRate,
        completion: q['w.completion'] ?? DEFAULT_WEIGHTS.completion,
        rating: q['w.rating'] ?? DEFAULT_WEIGHTS.rating,
        response: q['w.response'] ?? DEFAULT_WEIGHTS.response,
      }
      if (Object.values(weights).every((w) => w === 0)) throw badParameter('w.ctr', 'at least one weight must be above 0')
      const prior = { alpha: q['prior.alpha'] ?? DEFAULT_PRIOR.alpha, beta: q['prior.beta'] ?? DEFAULT_PRIOR.beta }
      const category = q.category ?? null
      const city = q.city ?? null
      const rows = await providerSignals(app.pg, range, range.source, category, city)
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        category,
        city,
        weights,
        prior,
        providers: scoreProviders(rows, weights, prior).slice(0, q.limit ?? 20),
      }
    },
  )
}
