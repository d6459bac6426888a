import { marketplaceEvent } from '../generators/marketplace.js'
import { nativeEvent, seededRandom } from '../generators/native.js'
import { PLACEHOLDER, template, type Sample, type Template } from '../templates.js'

/**
 * Product traffic: web and app clients and the marketplace's backend posting small
 * arrays (1–20 events, 10 on average) to `/v1/events`, three engagement events (page
 * views, clicks, sign-ups, carts, searches) for every marketplace event.
 */
export const MARKETPLACE_SHARE = 0.25

export function mixedTemplates(count = 1_000): Template[] {
  const r = seededRandom(4)
  return Array.from({ length: count }, (_, t) => {
    const size = r.int(1, 20)
    const events = Array.from({ length: size }, (_, i) => {
      const id = `${PLACEHOLDER}-${t.toString(36)}.${i}`
      if (r.chance(MARKETPLACE_SHARE)) return marketplaceEvent(r, id, new Date(Date.UTC(2026, 10, 21, 10) + r.int(0, 3_600_000)).toISOString())
      return nativeEvent(r, id)
    })
    const first = events[0]!
    const samples: Sample[] = [{ source: first.source, suffix: `-${t.toString(36)}.0` }]
    return template(events, size, { valid: size, samples })
  })
}
