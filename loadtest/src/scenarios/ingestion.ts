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
 * repeat each other while repeats inside a post stay duplicates.
 *
 * Samples for POST → stored latency: every `sampleEvery`-th distinct valid event (from an
 * offset that differs between posts), so a post of 19,000 events has 19 times the samples
 * of one of 1,000 and the percentiles are those of events, not of posts; and the post's
 * last valid event, marked `last`: its slowest, reported apart.
 */
export function publisherTemplates(count = 20, sizes = { min: 1_000, max: 50_000 }, sampleEvery = 1_000): Template[] {
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
    // Distinct, valid and with an id of their own (an event without one gets it from ingestion).
    const timeable = [...new Set(post.events)].filter((e) => e.eventId && !post.broken.has(e))
    const sample = (e: PublisherEvent, last?: boolean): Sample => ({ source: e.source, suffix: `-${e.eventId}`, ...(last ? { last } : {}) })
    const samples: Sample[] = []
    for (let k = (i * 397) % sampleEvery; k < timeable.length - 1; k += sampleEvery) samples.push(sample(timeable[k]!))
    if (timeable.length > 0) samples.push(sample(timeable.at(-1)!, true))
    out.push(template(events, size, { valid: post.valid, samples }))
  }
  return out
}
