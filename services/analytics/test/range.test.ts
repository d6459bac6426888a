import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DAY_MS, HOUR_MS, middleCut, splitRange } from '../src/range.js'

const at = (iso: string) => new Date(iso)

test('splitRange: partial hours from events, whole hours at the ends, whole days between', () => {
  assert.deepEqual(splitRange({ from: at('2026-10-22T18:43:00Z'), to: at('2026-11-21T18:43:00Z') }), {
    from: at('2026-10-22T18:43:00Z'),
    h1: at('2026-10-22T19:00:00Z'),
    d1: at('2026-10-23T00:00:00Z'),
    d2: at('2026-11-21T00:00:00Z'),
    h2: at('2026-11-21T18:00:00Z'),
    to: at('2026-11-21T18:43:00Z'),
  })
})

test('middleCut: ranges of two days or more are cut at a boundary of the unit at or below their middle', () => {
  // 30 midnight-aligned days: the midnight after 15 of them.
  assert.deepEqual(middleCut({ from: at('2026-10-23T00:00:00Z'), to: at('2026-11-22T00:00:00Z') }, DAY_MS), at('2026-11-07T00:00:00Z'))
  // Not on midnights: the middle (11-06 18:43) goes down to its midnight, or its hour.
  const shifted = { from: at('2026-10-22T18:43:00Z'), to: at('2026-11-21T18:43:00Z') }
  assert.deepEqual(middleCut(shifted, DAY_MS), at('2026-11-06T00:00:00Z'))
  assert.deepEqual(middleCut(shifted, HOUR_MS), at('2026-11-06T18:00:00Z'))
  // Under two days: not worth a second connection.
  assert.equal(middleCut({ from: at('2026-11-01T00:00:00Z'), to: at('2026-11-02T23:59:59Z') }, DAY_MS), null)
  assert.deepEqual(middleCut({ from: at('2026-11-01T00:00:00Z'), to: at('2026-11-03T00:00:00Z') }, DAY_MS), at('2026-11-02T00:00:00Z'))
})
