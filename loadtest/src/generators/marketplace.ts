import type { Random } from './random.js'

/**
 * Native marketplace events (design.md §6) in the proportions a trades marketplace
 * produces them: search pages of provider impressions dominate, a click on a few of
 * them, and per posted job a handful of bids, a quote, an assignment, completion,
 * payment and feedback (or a cancellation).
 */

const CATEGORIES = ['plumbing', 'electrical', 'carpentry', 'painting', 'roofing', 'cleaning']
const CITIES = ['London', 'Berlin', 'Paris', 'Madrid', 'Amsterdam', 'Lisbon']

/** Event types with their weight (per 100 marketplace events). */
export const MARKETPLACE_MIX: [type: string, weight: number][] = [
  ['provider.impression', 60],
  ['provider.click', 6],
  ['job.posted', 4],
  ['bid.placed', 12],
  ['quote.sent', 6],
  ['job.assigned', 3],
  ['job.completed', 2.5],
  ['job.cancelled', 0.5],
  ['payment.captured', 2.5],
  ['feedback.submitted', 2],
  // The rest of the hundred: more impressions (search pages show ten at a time).
  ['provider.impression', 1.5],
]
const TOTAL = MARKETPLACE_MIX.reduce((a, [, w]) => a + w, 0)

function weighted(r: Random): string {
  let x = r.next() * TOTAL
  for (const [type, w] of MARKETPLACE_MIX) if ((x -= w) < 0) return type
  return MARKETPLACE_MIX[0]![0]
}

const money = (r: Random) => (r.chance(0.5) ? r.int(40, 2_000) : `${r.int(40, 2_000)}.${String(r.int(0, 99)).padStart(2, '0')}`)

export function marketplaceEvent(r: Random, eventId: string, timestamp: string) {
  const type = weighted(r)
  const jobId = `job-${r.int(1, 20_000)}`
  const providerId = `prov-${r.int(1, 2_000)}`
  const category = r.pick(CATEGORIES)
  const city = r.pick(CITIES)
  const data: Record<string, unknown> = (() => {
    switch (type) {
      case 'job.posted':
        return { jobId, category, city, budget: money(r), currency: 'EUR', customerId: `cust-${r.int(1, 50_000)}` }
      case 'bid.placed':
      case 'quote.sent':
        return { jobId, providerId, amount: money(r), currency: 'EUR' }
      case 'job.assigned':
      case 'job.completed':
        return { jobId, providerId }
      case 'job.cancelled':
        return { jobId, reason: r.pick(['found someone else', 'too expensive', 'no longer needed']) }
      case 'payment.captured':
        return { jobId, providerId, amount: money(r), currency: 'EUR' }
      case 'feedback.submitted':
        return { jobId, providerId, rating: r.int(1, 5), comment: r.chance(0.3) ? 'Quick and tidy work' : undefined }
      case 'provider.click':
        return { providerId, position: r.int(1, 10), category, city, query: `${category} ${city}`.toLowerCase() }
      default:
        return { providerId, position: r.int(1, 10), category, city, query: `${category} ${city}`.toLowerCase() }
    }
  })()
  return { eventId, timestamp, source: 'marketplace', eventType: type, userId: `cust-${r.int(1, 50_000)}`, sessionId: `s-${r.int(1, 200_000)}`, data }
}
