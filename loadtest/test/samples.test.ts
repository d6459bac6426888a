import { test } from 'node:test'
import assert from 'node:assert/strict'
import { publisherTemplates } from '../src/scenarios/ingestion.js'
import { renderWith } from '../src/templates.js'

/**
 * The events the benchmark times from POST to stored row: percentiles of events need each
 * event equally likely to be timed, whatever the size of its post.
 */

interface Sent {
  eventId?: string
  source: string
}

test('publisher samples: one per sampleEvery distinct valid events, and each post’s last apart', () => {
  const templates = publisherTemplates(10, { min: 1_000, max: 19_000 }, 500)
  let valid = 0
  let sampled = 0
  for (const t of templates) {
    const prefix = 'p'
    const body = JSON.parse(renderWith(t, prefix)) as Sent[]
    const samples = t.samples ?? []
    const spread = samples.filter((s) => !s.last)
    const last = samples.filter((s) => s.last)
    valid += t.valid!
    sampled += spread.length
    // Every sample names an event the body carries, under its own source, once.
    const ids = new Map(body.filter((e) => e.eventId).map((e) => [e.eventId!, e.source]))
    for (const s of samples) assert.equal(ids.get(prefix + s.suffix), s.source, `sample ${s.suffix} is an event of the post`)
    assert.equal(new Set(samples.map((s) => s.suffix)).size, samples.length, 'no event sampled twice')
    // A post's share of the samples is its share of the events.
    assert.ok(Math.abs(spread.length - t.valid! / 500) <= 1, `${spread.length} samples for ${t.valid} valid events`)
    // The last is the last distinct event of the body.
    assert.equal(last.length, 1)
    const firstSeen = [...new Set(body.map((e) => e.eventId).filter((id) => id !== undefined))]
    assert.equal(prefix + last[0]!.suffix, firstSeen.at(-1))
  }
  assert.ok(Math.abs(sampled - valid / 500) <= templates.length, `${sampled} samples for ${valid} valid events in all`)
})

test('publisher samples leave out corrupted and repeated events', () => {
  // Posts 10 and 20 carry a corrupted event; every post repeats ~2 % of its events.
  for (const t of publisherTemplates(20, { min: 1_000, max: 2_000 }, 1)) {
    // With a sample per event, the samples are exactly the distinct valid events.
    assert.equal(t.samples!.length, t.valid, 'each distinct valid event sampled once, none else')
  }
})
