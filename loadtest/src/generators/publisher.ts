import { seededRandom, type Random } from './random.js'

/**
 * Events like the marketing publisher's (formats.md §1): Facebook and TikTok, top and
 * bottom funnel, with duplicates, out-of-order timestamps and, in one post of ten, a
 * corrupted event of one of the kinds the publisher is known to send. Used by the load
 * tests, the end-to-end benchmark and the ingestion tests.
 */

export type PublisherEvent = Record<string, unknown> & { eventId: string; source: 'facebook' | 'tiktok'; funnelStage: string; eventType: unknown; data: Record<string, unknown> }

const COUNTRIES = ['United States', 'Germany', 'Brazil', 'India', 'United Kingdom', 'France', 'Japan', 'Nigeria', 'Mexico', 'Korea, Republic of', "Côte d'Ivoire", 'Atlantis']
const CITIES = ['Springfield', 'Berlin', 'São Paulo', 'Mumbai', 'London', 'Lyon', 'Osaka', 'Lagos', 'Puebla', 'Busan']
const FB_TOP = ['ad.view', 'page.like', 'comment', 'video.view']
const FB_BOTTOM = ['ad.click', 'form.submission', 'checkout.complete']
const TT_TOP = ['video.view', 'like', 'share', 'comment']
const TT_BOTTOM = ['profile.visit', 'purchase', 'follow']

const BASE_MS = Date.UTC(2026, 10, 21, 10, 0, 0)

function iso(r: Random, spreadMs = 3_600_000): string {
  return new Date(BASE_MS + r.int(-spreadMs, spreadMs)).toISOString()
}

function amount(r: Random): string {
  return `${r.int(1, 500)}.${String(r.int(0, 99)).padStart(2, '0')}`
}

export function facebookEvent(r: Random, users = 5_000): PublisherEvent {
  const top = r.chance(0.7)
  const eventType = top ? r.pick(FB_TOP) : r.pick(FB_BOTTOM)
  const u = r.int(1, users)
  return {
    eventId: r.id('fb'),
    timestamp: iso(r),
    source: 'facebook',
    funnelStage: top ? 'top' : 'bottom',
    eventType,
    data: {
      user: { userId: `fbu-${u}`, name: `User ${u}`, age: 18 + (u % 60), gender: ['male', 'female', 'non-binary'][u % 3], location: { country: COUNTRIES[u % COUNTRIES.length], city: CITIES[u % CITIES.length] } },
      engagement: top
        ? { actionTime: iso(r), referrer: r.pick(['newsfeed', 'marketplace', 'groups']), videoId: eventType === 'video.view' ? r.id('vid') : null }
        : {
            adId: `ad-${r.int(1, 200)}`,
            campaignId: `cmp-${r.int(1, 40)}`,
            clickPosition: r.pick(['top_left', 'bottom_right', 'center']),
            device: r.pick(['mobile', 'desktop']),
            browser: r.pick(['Chrome', 'Firefox', 'Safari']),
            purchaseAmount: eventType === 'checkout.complete' ? amount(r) : null,
          },
    },
  }
}

export function tiktokEvent(r: Random, users = 5_000): PublisherEvent {
  const top = r.chance(0.7)
  const eventType = top ? r.pick(TT_TOP) : r.pick(TT_BOTTOM)
  const u = r.int(1, users)
  return {
    eventId: r.id('tt'),
    timestamp: iso(r),
    source: 'tiktok',
    funnelStage: top ? 'top' : 'bottom',
    eventType,
    data: {
      user: { userId: `ttu-${u}`, username: `creator_${u}`, followers: (u * 37) % 100_000 },
      engagement: top
        ? { watchTime: r.int(0, 600) / 10, percentageWatched: r.int(0, 100), device: r.pick(['Android', 'iOS', 'Desktop']), country: COUNTRIES[u % COUNTRIES.length], videoId: r.id('vid') }
        : {
            actionTime: iso(r),
            profileId: r.chance(0.5) ? `prof-${r.int(1, 900)}` : null,
            purchasedItem: eventType === 'purchase' ? r.pick(['ring light', 'tripod', 'hoodie']) : null,
            purchaseAmount: eventType === 'purchase' ? amount(r) : null,
          },
    },
  }
}

type Mutable = Record<string, unknown>
const user = (e: PublisherEvent) => e.data.user as Mutable
const engagement = (e: PublisherEvent) => e.data.engagement as Mutable

interface CorruptionKind {
  /** Whether the corruption can be applied to this event. */
  applies(e: PublisherEvent): boolean
  apply(e: PublisherEvent): void
}

/** Every corruption formats.md §1 lists, each with the events it applies to. */
export const CORRUPTIONS = {
  'invalid timestamp': { applies: () => true, apply: (e) => void (e.timestamp = '2026-13-45T99:00:00Z') },
  'missing eventId': { applies: () => true, apply: (e) => void delete (e as Partial<PublisherEvent>).eventId },
  'missing user': { applies: () => true, apply: (e) => void delete e.data.user },
  'missing name': { applies: (e) => e.source === 'facebook', apply: (e) => void delete user(e).name },
  'missing username': { applies: (e) => e.source === 'tiktok', apply: (e) => void delete user(e).username },
  'unknown funnelStage': { applies: () => true, apply: (e) => void (e.funnelStage = 'middle') },
  'eventType not a string': { applies: () => true, apply: (e) => void (e.eventType = 42) },
  'eventType of the other stage': {
    applies: () => true,
    apply: (e) => void (e.eventType = e.source === 'facebook' ? (e.funnelStage === 'top' ? 'checkout.complete' : 'ad.view') : e.funnelStage === 'top' ? 'purchase' : 'like'),
  },
  'negative watch time': { applies: (e) => e.source === 'tiktok' && e.funnelStage === 'top', apply: (e) => void (engagement(e).watchTime = -3.5) },
  'negative percentage watched': { applies: (e) => e.source === 'tiktok' && e.funnelStage === 'top', apply: (e) => void (engagement(e).percentageWatched = -10) },
  'missing adId': { applies: (e) => e.source === 'facebook' && e.funnelStage === 'bottom', apply: (e) => void delete engagement(e).adId },
  'missing purchasedItem': { applies: (e) => e.source === 'tiktok' && e.funnelStage === 'bottom', apply: (e) => void delete engagement(e).purchasedItem },
  'unknown gender': { applies: (e) => e.source === 'facebook', apply: (e) => void (user(e).gender = 'robot') },
  'non-numeric followers': { applies: (e) => e.source === 'tiktok', apply: (e) => void (user(e).followers = 'lots') },
} satisfies Record<string, CorruptionKind>

export type Corruption = keyof typeof CORRUPTIONS
export const CORRUPTION_KINDS = Object.keys(CORRUPTIONS) as Corruption[]

/** A fresh event with the given corruption (drawing events until one it applies to comes up). */
export function corruptedEvent(r: Random, kind: Corruption, users?: number): PublisherEvent {
  const c: CorruptionKind = CORRUPTIONS[kind]
  for (;;) {
    const e = r.chance(0.5) ? facebookEvent(r, users) : tiktokEvent(r, users)
    if (!c.applies(e)) continue
    c.apply(e)
    return e
  }
}

export interface PostOptions {
  /** Events in the post (the publisher sends 1,000–50,000). */
  size: number
  /** Share of events that repeat an earlier one of the same post. */
  duplicateRate?: number
  /** Number of corrupted events placed in the post. */
  corrupted?: number
  /** Users to draw from. */
  users?: number
}

export interface Post {
  events: PublisherEvent[]
  /** Distinct valid events (what must be stored). */
  valid: number
  duplicates: number
  corrupted: number
  /** The corrupted events themselves (to tell them from the valid ones). */
  broken: Set<PublisherEvent>
}

/** One publisher post: a JSON array of Facebook and TikTok events. */
export function publisherPost(r: Random, { size, duplicateRate = 0.02, corrupted = 0, users }: PostOptions): Post {
  const events: PublisherEvent[] = []
  let duplicates = 0
  const broken = new Set<PublisherEvent>()
  for (let i = 0; i < size - corrupted; i++) {
    if (events.length > 0 && r.chance(duplicateRate)) {
      events.push(events[r.int(0, events.length - 1)]!)
      duplicates++
    } else events.push(r.chance(0.5) ? facebookEvent(r, users) : tiktokEvent(r, users))
  }
  for (let i = 0; i < corrupted; i++) {
    const e = corruptedEvent(r, r.pick(CORRUPTION_KINDS), users)
    broken.add(e)
    events.splice(r.int(0, events.length), 0, e)
  }
  return { events, valid: size - corrupted - duplicates, duplicates, corrupted, broken }
}

/** Posts as the publisher sends them: one in ten carries a corrupted event. */
export function publisherPosts(seed: number, count: number, sizes: { min: number; max: number }): Post[] {
  const r = seededRandom(seed)
  return Array.from({ length: count }, (_, i) => publisherPost(r, { size: r.int(sizes.min, sizes.max), corrupted: i % 10 === 9 ? 1 : 0 }))
}

export { seededRandom }
