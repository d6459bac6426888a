import { test } from 'node:test'
import assert from 'node:assert/strict'
import { dedupeKey, envelopeValidator, type Envelope } from '../src/envelope.js'
import { eventSubject, topology } from '../src/topology.js'

const valid: Envelope = {
  event_id: 'evt-1',
  source: 'web',
  event_type: 'page_view',
  occurred_at: '2026-11-21T10:00:00.000Z',
  received_at: '2026-11-21T10:00:01.000Z',
  user_id: 'u1',
  revenue: 12.5,
  currency: 'EUR',
  data: { path: '/' },
}

test('a complete envelope is valid', () => {
  assert.ok(envelopeValidator.Check(valid))
})

const invalid: [string, Record<string, unknown>][] = [
  ['missing event_id', { event_id: undefined }],
  ['event_id over 128 chars', { event_id: 'x'.repeat(129) }],
  ['empty event_id', { event_id: '' }],
  ['source with a dot (would split the subject)', { source: 'web.app' }],
  ['upper-case source', { source: 'Web' }],
  ['occurred_at not a date-time', { occurred_at: 'yesterday' }],
  ['revenue as a string', { revenue: '12.50' }],
  ['currency not ISO 4217', { currency: 'euro' }],
  ['data not an object', { data: 'x' }],
  ['unknown column', { colour: 'red' }],
]

for (const [name, change] of invalid) {
  test(`rejects an envelope with ${name}`, () => {
    const e: Record<string, unknown> = { ...valid, ...change }
    for (const k of Object.keys(change)) if (change[k] === undefined) delete e[k]
    assert.equal(envelopeValidator.Check(e), false)
  })
}

test('the dedupe key joins source and event id', () => {
  assert.equal(dedupeKey('web', 'e1'), 'web:e1')
  assert.notEqual(dedupeKey('web', 'e1'), dedupeKey('ios', 'e1'))
})

test('topology names are the contract names without a namespace and prefixed with one', () => {
  const prod = topology()
  assert.equal(prod.eventsStream, 'EVENTS')
  assert.equal(prod.dlqStream, 'EVENTS_DLQ')
  assert.equal(eventSubject(prod, 'web'), 'events.web')
  const t = topology('t1')
  assert.equal(t.eventsStream, 'T1_EVENTS')
  assert.equal(eventSubject(t, 'web'), 't1.events.web')
  assert.throws(() => topology('Bad Name'))
})
