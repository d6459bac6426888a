import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'

/**
 * A deterministic, realistic event stream for the analytics benchmark: the marketing
 * publisher (Facebook, TikTok; formats.md §1), a web product and a trades marketplace
 * (design.md §6), with the hot columns filled the way ingestion fills them. Users,
 * campaigns and providers have skewed (power-law) activity, stable places and qualities,
 * so every endpoint has something to rank.
 */

export const DAY_MS = 86_400_000

export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const COUNTRIES: [code: string, name: string, weight: number, cities: string[]][] = [
  ['US', 'United States', 25, ['New York', 'Los Angeles', 'Chicago', 'Houston', 'Seattle', 'Boston']],
  ['GB', 'United Kingdom', 10, ['London', 'Manchester', 'Leeds', 'Bristol']],
  ['DE', 'Germany', 9, ['Berlin', 'Munich', 'Hamburg', 'Cologne']],
  ['FR', 'France', 8, ['Paris', 'Lyon', 'Marseille']],
  ['BR', 'Brazil', 8, ['São Paulo', 'Rio de Janeiro', 'Brasília']],
  ['IN', 'India', 8, ['Mumbai', 'Delhi', 'Bengaluru', 'Chennai']],
  ['JP', 'Japan', 5, ['Tokyo', 'Osaka', 'Nagoya']],
  ['CA', 'Canada', 5, ['Toronto', 'Vancouver', 'Montreal']],
  ['AU', 'Australia', 4, ['Sydney', 'Melbourne', 'Brisbane']],
  ['ES', 'Spain', 4, ['Madrid', 'Barcelona', 'Valencia']],
  ['IT', 'Italy', 4, ['Rome', 'Milan', 'Naples']],
  ['MX', 'Mexico', 4, ['Mexico City', 'Guadalajara', 'Monterrey']],
  ['NL', 'Netherlands', 3, ['Amsterdam', 'Rotterdam']],
  ['SE', 'Sweden', 2, ['Stockholm', 'Gothenburg']],
  ['PL', 'Poland', 1, ['Warsaw', 'Kraków']],
]
const COUNTRY_WEIGHT = COUNTRIES.reduce((a, c) => a + c[2], 0)

const FB_TOP = [['ad.view', 50], ['page.like', 10], ['comment', 5], ['video.view', 15]] as const
const FB_BOTTOM = [['ad.click', 12], ['form.submission', 4], ['checkout.complete', 4]] as const
const TT_TOP = [['video.view', 55], ['like', 20], ['share', 8], ['comment', 7]] as const
const TT_BOTTOM = [['profile.visit', 5], ['purchase', 3], ['follow', 2]] as const
const WEB = [['page_view', 80], ['signup', 4], ['add_to_cart', 10], ['checkout', 6]] as const
const CATEGORIES = ['plumbing', 'electrical', 'carpentry', 'painting', 'roofing', 'gardening', 'cleaning', 'locksmith']
const MP_CITIES = ['London', 'Manchester', 'Leeds', 'Bristol', 'Birmingham', 'Liverpool', 'Glasgow', 'Edinburgh', 'Cardiff', 'Sheffield', 'York', 'Hull']

export interface SeedOptions {
  events: number
  days: number
  /** End of the data (exclusive), a UTC midnight. */
  end: number
  seed: number
}

type Row = Record<(typeof ENVELOPE_COLUMNS)[number], string | null>

function weighted<T extends readonly (readonly [string, number])[]>(r: () => number, list: T): T[number][0] {
  const total = list.reduce((a, x) => a + x[1], 0)
  let x = r() * total
  for (const [v, w] of list) if ((x -= w) < 0) return v
  return list[list.length - 1]![0]
}

/** Power-law index in [0, n): index 0 is the most active. */
function skewed(r: () => number, n: number, power = 2): number {
  return Math.floor(n * r() ** power)
}

function hash(n: number): number {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

function placeOf(user: number, salt: number): { country: (typeof COUNTRIES)[number]; city: string } {
  const h = hash(user * 31 + salt)
  let x = h % COUNTRY_WEIGHT
  let country = COUNTRIES[0]!
  for (const c of COUNTRIES) if ((x -= c[2]) < 0) { country = c; break }
  return { country, city: country[3][(h >>> 8) % country[3].length]! }
}

function escape(value: string): string {
  return /[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, (ch) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch]!) : value
}

export function copyLine(row: Row): string {
  let line = ''
  for (let i = 0; i < ENVELOPE_COLUMNS.length; i++) {
    const v = row[ENVELOPE_COLUMNS[i]!]
    line += (i > 0 ? '\t' : '') + (v === null ? '\\N' : escape(v))
  }
  return line + '\n'
}

function base(source: string, id: string, type: string, at: number): Row {
  const iso = new Date(at).toISOString()
  return {
    event_id: id, source, event_type: type, funnel_stage: null, occurred_at: iso, received_at: new Date(at + 800).toISOString(),
    user_id: null, session_id: null, device_id: null, country: null, city: null, campaign_id: null, provider_id: null, job_id: null,
    category: null, revenue: null, currency: null, request_id: null, data: '{}',
  }
}

/**
 * One day's events (day 0 is the first of `days`), in time order, as COPY rows in
 * ENVELOPE_COLUMNS order. Marketplace job lifecycles started that day may run into later
 * days; events after `end` are left out.
 */
export function* dayEvents(o: SeedOptions, day: number): Generator<Row> {
  const r = rng(o.seed * 1000 + day)
  const start = o.end - (o.days - day) * DAY_MS
  const perDay = o.events / o.days
  const at = () => start + Math.floor(r() * DAY_MS)
  const rows: Row[] = []
  let n = 0
  const id = (p: string) => `${p}${day}-${++n}`

  // Facebook: 40 %.
  for (let i = 0; i < perDay * 0.4; i++) {
    const u = skewed(r, 250_000)
    const place = placeOf(u, 1)
    const bottom = r() < 0.2
    const type = weighted(r, bottom ? FB_BOTTOM : FB_TOP)
    const row = base('facebook', id('fb-'), type, at())
    row.funnel_stage = bottom ? 'bottom' : 'top'
    row.user_id = `fb-${u}`
    row.country = place.country[0]
    row.city = place.city
    const user = { userId: row.user_id, name: `User ${u}`, age: 18 + (hash(u) % 50), gender: ['male', 'female', 'non-binary'][hash(u) % 3], location: { country: place.country[1], city: place.city } }
    if (bottom) {
      const campaign = `fb-cmp-${skewed(r, 80, 1.6)}`
      row.campaign_id = campaign
      let amount: string | null = null
      if (type === 'checkout.complete') {
        amount = (5 + r() * 195).toFixed(2)
        row.revenue = amount
        row.currency = 'USD'
      }
      row.data = JSON.stringify({ user, engagement: { adId: `ad-${hash(u) % 900}`, campaignId: campaign, clickPosition: 'center', device: r() < 0.7 ? 'mobile' : 'desktop', browser: 'Chrome', purchaseAmount: amount } })
    } else {
      row.data = JSON.stringify({ user, engagement: { actionTime: row.occurred_at, referrer: 'newsfeed', videoId: type === 'video.view' ? `v${hash(n) % 5000}` : null } })
    }
    rows.push(row)
  }

  // TikTok: 35 %; the country only on top-funnel engagement.
  for (let i = 0; i < perDay * 0.35; i++) {
    const u = skewed(r, 250_000)
    const bottom = r() < 0.1
    const type = weighted(r, bottom ? TT_BOTTOM : TT_TOP)
    const row = base('tiktok', id('tt-'), type, at())
    row.funnel_stage = bottom ? 'bottom' : 'top'
    row.user_id = `tt-${u}`
    const user = { userId: row.user_id, username: `tiktoker${u}`, followers: hash(u) % 100_000 }
    if (bottom) {
      let amount: string | null = null
      if (type === 'purchase') {
        amount = (3 + r() * 60).toFixed(2)
        row.revenue = amount
        row.currency = 'USD'
      }
      row.data = JSON.stringify({ user, engagement: { actionTime: row.occurred_at, profileId: `p${hash(u) % 20000}`, purchasedItem: amount ? `item-${hash(n) % 300}` : null, purchaseAmount: amount } })
    } else {
      const place = placeOf(u, 2)
      row.country = place.country[0]
      row.data = JSON.stringify({ user, engagement: { watchTime: Math.floor(r() * 60), percentageWatched: Math.floor(r() * 100), device: 'iOS', country: place.country[1], videoId: `v${hash(n) % 5000}` } })
    }
    rows.push(row)
  }

  // Web: 15 %; a third of the visitors anonymous.
  for (let i = 0; i < perDay * 0.15; i++) {
    const u = skewed(r, 80_000)
    const type = weighted(r, WEB)
    const row = base('web', id('web-'), type, at())
    if (r() > 0.33) row.user_id = `web-${u}`
    row.session_id = `s-${day}-${hash(u + day) % 100000}`
    if (r() < 0.9) {
      const place = placeOf(u, 3)
      row.country = place.country[0]
      row.city = place.city
    }
    if (type === 'checkout') {
      row.revenue = (10 + r() * 290).toFixed(2)
      row.currency = ['EUR', 'GBP', 'USD'][hash(u) % 3]!
    }
    row.data = JSON.stringify({ path: type === 'page_view' ? `/p/${hash(n) % 400}` : `/${type}`, referrer: r() < 0.5 ? 'google' : null })
    rows.push(row)
  }

  // Marketplace: 10 %: job lifecycles (about a third), then search impressions and clicks.
  const beforeMarketplace = rows.length
  const providers = 2_000
  const quality = (p: number) => 0.3 + (hash(p * 7) % 1000) / 1000 // 0.3 … 1.3
  const providerCategory = (p: number) => CATEGORIES[hash(p * 13) % CATEGORIES.length]!
  const providerFor = (category: string) => {
    for (;;) {
      const p = skewed(r, providers, 1.5)
      if (providerCategory(p) === category || r() < 0.02) return p
    }
  }
  const jobs = Math.round((perDay * 0.1 * 0.4) / 7.4)
  for (let j = 0; j < jobs; j++) {
    const posted = at()
    const job = `job-${day}-${j}`
    const category = CATEGORIES[skewed(r, CATEGORIES.length, 1.3)]!
    const city = MP_CITIES[skewed(r, MP_CITIES.length, 1.4)]!
    const customer = `cust-${skewed(r, 40_000, 1.5)}`
    const mp = (type: string, t: number, fields: Partial<Row>, data: Record<string, unknown>) => {
      if (t >= o.end) return
      const row = base('marketplace', id('mp-j'), type, t)
      Object.assign(row, { job_id: job, ...fields, data: JSON.stringify({ jobId: job, ...data }) })
      rows.push(row)
    }
    const budget = String(50 + Math.floor(r() * 950))
    mp('job.posted', posted, { category, city, user_id: customer }, { category, city, budget, currency: 'GBP', customerId: customer })
    const bidders = new Map<number, number>()
    const count = Math.floor(r() * 7)
    for (let b = 0; b < count; b++) {
      const p = providerFor(category)
      if (bidders.has(p)) continue
      const t = posted + Math.floor((-Math.log(1 - r()) * 2_400_000) / quality(p))
      bidders.set(p, t)
      const amount = String(Math.floor(Number(budget) * (0.7 + r() * 0.5)))
      const type = r() < 0.85 ? 'bid.placed' : 'quote.sent'
      mp(type, t, { provider_id: `pro-${p}` }, { providerId: `pro-${p}`, amount, currency: 'GBP' })
      if (r() < 0.15) mp('bid.placed', t + 3_600_000, { provider_id: `pro-${p}` }, { providerId: `pro-${p}`, amount, currency: 'GBP' })
    }
    if (bidders.size > 0 && r() < 0.75) {
      const ranked = [...bidders.keys()].sort((a, b) => quality(b) * (0.5 + r()) - quality(a) * (0.5 + r()))
      const p = ranked[0]!
      const assigned = Math.max(...bidders.values()) + Math.floor(r() * 6 * 3_600_000)
      mp('job.assigned', assigned, { provider_id: `pro-${p}` }, { providerId: `pro-${p}` })
      if (r() < 0.6 + 0.3 * (quality(p) - 0.3)) {
        const done = assigned + Math.floor((1 + r() * 2) * DAY_MS)
        mp('job.completed', done, { provider_id: `pro-${p}` }, { providerId: `pro-${p}` })
        const amount = String(50 + Math.floor(r() * 950)) + '.00'
        mp('payment.captured', done + 600_000, { provider_id: `pro-${p}`, revenue: amount, currency: 'GBP' }, { amount, currency: 'GBP', providerId: `pro-${p}` })
        if (r() < 0.8) {
          const rating = Math.max(1, Math.min(5, Math.round(2 + quality(p) * 2.5 + (r() - 0.5) * 2)))
          mp('feedback.submitted', done + DAY_MS / 4, { provider_id: `pro-${p}` }, { providerId: `pro-${p}`, rating })
        }
      }
    } else if (r() < 0.4) {
      mp('job.cancelled', posted + Math.floor(r() * 2 * DAY_MS), {}, { reason: 'no suitable bids' })
    }
  }

  // Searches top the marketplace up to a tenth of the day (and a little more, for the
  // lifecycle events of the last days that fall after `end` and are left out).
  const marketplaceTarget = beforeMarketplace + perDay * 0.1 + 100
  while (rows.length < marketplaceTarget) {
    const t = at()
    const category = CATEGORIES[skewed(r, CATEGORIES.length, 1.3)]!
    const city = MP_CITIES[skewed(r, MP_CITIES.length, 1.4)]!
    for (let position = 0; position < 10; position++) {
      const p = providerFor(category)
      const imp = base('marketplace', id('mp-i'), 'provider.impression', t + position)
      Object.assign(imp, { provider_id: `pro-${p}`, category, city, data: JSON.stringify({ providerId: `pro-${p}`, position, category, city, query: category }) })
      rows.push(imp)
      if (r() < 0.07 * quality(p) * (1 - position / 15)) {
        const click = base('marketplace', id('mp-c'), 'provider.click', t + 3000 + position * 1000)
        Object.assign(click, { provider_id: `pro-${p}`, category, city, data: JSON.stringify({ providerId: `pro-${p}`, position, category, city }) })
        rows.push(click)
      }
    }
  }
  rows.sort((a, b) => (a.occurred_at! < b.occurred_at! ? -1 : 1))
  yield* rows
}
