import type { Envelope } from '@sluice/contracts/envelope'

/**
 * Realistic envelopes (what ingestion puts on the stream) for benchmarks: the mix of
 * the publisher's Facebook/TikTok events, web page views and marketplace events, about
 * 450 bytes of JSON each, reproducible from a seed.
 */

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const COUNTRIES: [string, string][] = [
  ['US', 'New York'],
  ['DE', 'Berlin'],
  ['GB', 'London'],
  ['FR', 'Paris'],
  ['BR', 'São Paulo'],
  ['IN', 'Mumbai'],
  ['JP', 'Tokyo'],
  ['NL', 'Amsterdam'],
]
const CATEGORIES = ['plumbing', 'electrical', 'carpentry', 'painting', 'roofing', 'cleaning']
const PATHS = ['/', '/pricing', '/blog/how-to-fix-a-leak', '/jobs/new', '/providers', '/checkout', '/signup']

export function envelopeGenerator(seed = 1, { runId = 'bench' } = {}): (i: number) => Envelope {
  const random = mulberry32(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
  const int = (max: number) => Math.floor(random() * max)
  const base = Date.UTC(2026, 10, 21, 10)

  return (i) => {
    const [country, city] = pick(COUNTRIES)
    const occurred = new Date(base + i * 37 + int(1000)).toISOString()
    const received = new Date(Date.now()).toISOString()
    const user = `user-${int(200_000)}`
    const common = {
      event_id: `${runId}-${i.toString(36)}-${int(1e9).toString(36)}`,
      occurred_at: occurred,
      received_at: received,
      user_id: user,
      session_id: `sess-${int(1e7).toString(36)}`,
      country,
      city,
      request_id: `req-${int(1e9).toString(36)}`,
    }
    const kind = random()
    if (kind < 0.35) {
      const campaign = `cmp-${int(40)}`
      const buy = random() < 0.1
      return {
        ...common,
        source: 'facebook',
        event_type: buy ? 'checkout.complete' : 'ad.click',
        funnel_stage: 'bottom',
        campaign_id: campaign,
        ...(buy ? { revenue: Math.round(random() * 20_000) / 100, currency: 'USD' } : {}),
        data: {
          user: { userId: user, name: 'Jane Doe', age: 18 + int(50), gender: pick(['male', 'female', 'non-binary']), location: { country: 'United States', city } },
          engagement: { adId: `ad-${int(1000)}`, campaignId: campaign, clickPosition: pick(['top_left', 'bottom_right', 'center']), device: pick(['mobile', 'desktop']), browser: pick(['Chrome', 'Firefox', 'Safari']), purchaseAmount: buy ? '19.99' : null },
        },
      }
    }
    if (kind < 0.6) {
      return {
        ...common,
        source: 'tiktok',
        event_type: pick(['video.view', 'like', 'share', 'comment']),
        funnel_stage: 'top',
        data: {
          user: { userId: user, username: `creator_${int(50_000)}`, followers: int(1_000_000) },
          engagement: { watchTime: int(120), percentageWatched: int(100), device: pick(['Android', 'iOS', 'Desktop']), country: 'Germany', videoId: `v-${int(1e6).toString(36)}` },
        },
      }
    }
    if (kind < 0.8) {
      return {
        ...common,
        source: 'web',
        event_type: 'page_view',
        device_id: `dev-${int(1e8).toString(36)}`,
        data: { path: pick(PATHS), referrer: 'https://www.google.com/', title: 'Find a trusted plumber near you', utm_source: 'newsletter', viewport: { w: 1440, h: 900 } },
      }
    }
    const job = `job-${int(100_000)}`
    const provider = `prov-${int(5_000)}`
    const category = pick(CATEGORIES)
    const type = pick(['job.posted', 'bid.placed', 'provider.impression', 'provider.click', 'payment.captured'])
    return {
      ...common,
      source: 'marketplace',
      event_type: type,
      job_id: job,
      provider_id: provider,
      category,
      ...(type === 'payment.captured' ? { revenue: 50 + int(2000), currency: 'EUR' } : {}),
      data: { jobId: job, providerId: provider, category, city, amount: String(50 + int(2000)), position: int(20), query: `${category} ${city}`.toLowerCase() },
    }
  }
}
