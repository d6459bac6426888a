import { nativeEvent, seededRandom } from '../generators/native.js'
import { publisherPost, type PublisherEvent } from '../generators/publisher.js'
import { PLACEHOLDER, template, type Sample, type Template } from '../templates.js'

/** The ingestion scenarios: what they send, and how many distinct bodies they cycle through. */

/** One native event per request, each with an id no other request has. */
export function singleEventTemplates(): Template[] {
  const r = seededRandom(1)
  return Array.from({ length: 1_000 }, (_, i) => {
    const event = nativeEvent(r, `${PLACEHOLDER}-${i}`)
    return template(event, 1, { valid: 1, samples: [{ source: event.source, suffix: `-${i}` }] })
  })
}

/**
 * Publisher posts of 1,000–50,000 Facebook/TikTok events, ~2 % repeated inside a post,
 * one post in ten with a corrupted event. Ids get a per-request prefix, so posts never
 * repeat each other while repeats inside a post stay duplicates. Each post names the
 * first, middle and last of its valid events as samples for POST → stored latency, and
 * with `sampleEvery`, also every so many events in between.
 */
export function publisherTemplates(count = 20, sizes = { min: 1_000, max: 50_000 }, sampleEvery?: number): Template[] {
  const r = seededRandom(2)
  const out: Template[] = []
  for (let i = 0; i < count; i++) {
    const size = r.int(sizes.min, sizes.max)
    const post = publisherPost(r, { size, corrupted: i % 10 === 9 ? 1 : 0 })
    const prefixed = new Map<PublisherEvent, PublisherEvent>()
    const events = post.events.map((e) => {
      let p = prefixed.get(e)
      if (!p) prefixed.set(e, (p = e.eventId ? { ...e, eventId: `${PLACEHOLDER}-${e.eventId}` } : e))
      return p
    })
    const samples: Sample[] = []
    const every = sampleEvery ? Array.from({ length: Math.ceil(post.events.length / sampleEvery) }, (_, k) => k * sampleEvery) : []
    for (const at of [0, Math.floor(post.events.length / 2), post.events.length - 1, ...every]) {
      const e = post.events.slice(at).find((x) => !post.broken.has(x))
      if (e && !samples.some((s) => s.suffix === `-${e.eventId}`)) samples.push({ source: e.source, suffix: `-${e.eventId}` })
    }
    out.push(template(events, size, { valid: post.valid, samples }))
  }
  return out
}
