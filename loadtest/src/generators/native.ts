import { seededRandom, type Random } from './random.js'

/** Single native events as a web or app client sends them (≈300 bytes of JSON). */

const TYPES = ['page_view', 'click', 'signup', 'add_to_cart', 'search'] as const
const SOURCES = ['web', 'ios', 'android'] as const

export function nativeEvent(r: Random, eventId: string) {
  return {
    eventId,
    timestamp: new Date(Date.UTC(2026, 10, 21, 10) + r.int(0, 3_600_000)).toISOString(),
    source: r.pick(SOURCES),
    eventType: r.pick(TYPES),
    userId: `u-${r.int(1, 50_000)}`,
    sessionId: `s-${r.int(1, 200_000)}`,
    data: { path: r.pick(['/', '/pricing', '/docs', '/signup']), referrer: 'https://www.example.com/', country: r.pick(['Germany', 'United States', 'Brazil', 'India']) },
  }
}

export { seededRandom }
