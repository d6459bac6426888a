import { test } from 'node:test'
import assert from 'node:assert/strict'
import { audit, type RequestRecord } from '../src/audit.js'

/** The benchmark's accounting on synthetic runs: a lost or doubled event must fail it. */

function req(prefix: string, accepted: number, extra: Partial<RequestRecord> = {}): RequestRecord {
  return { prefix, status: 202, events: accepted, valid: accepted, accepted, duplicates: 0, rejected: 0, ...extra }
}

const requests = [req('a', 1000, { events: 1021, duplicates: 20, rejected: 1 }), req('b', 1), req('c', 0, { status: 0, events: 500, valid: 500 }), req('d', 0, { status: 400, events: 1, valid: 0, rejected: 1 })]

test('a clean run: every accepted event stored once, unanswered requests may have stored theirs', () => {
  const stored = new Map([
    ['a', 1000],
    ['b', 1],
    ['c', 500],
  ])
  const a = audit({ requests, storedByPrefix: stored, storedDelta: 1501, deadLettersDelta: 0 })
  assert.equal(a.ok, true)
  assert.equal(a.offered, 1523)
  assert.equal(a.accepted, 1001)
  assert.equal(a.rejected, 2)
  assert.equal(a.duplicates, 20)
  assert.equal(a.acceptedNotStored, 0)
  assert.equal(a.storedUnanswered, 500)
  assert.equal(a.unanswered, 1)
  assert.equal(a.answeredOther, 1)
  assert.equal(a.storedEqualsAccepted, true)
})

test('one event accepted and not stored fails the audit', () => {
  const stored = new Map([
    ['a', 999],
    ['b', 1],
  ])
  const a = audit({ requests, storedByPrefix: stored, storedDelta: 1000, deadLettersDelta: 1 })
  assert.equal(a.acceptedNotStored, 1)
  assert.equal(a.storedEqualsAccepted, false)
  assert.equal(a.ok, false)
})

test('a lost event hidden by a surplus elsewhere still fails (per-request, not totals)', () => {
  const stored = new Map([
    ['a', 999],
    ['b', 2],
  ])
  const a = audit({ requests, storedByPrefix: stored, storedDelta: 1001, deadLettersDelta: 0 })
  assert.equal(a.acceptedNotStored, 1)
  assert.equal(a.storedBeyondAccepted, 1)
  assert.equal(a.ok, false)
})

test('rows nobody sent fail the audit', () => {
  const stored = new Map([
    ['a', 1000],
    ['b', 1],
  ])
  const a = audit({ requests, storedByPrefix: stored, storedDelta: 1003, deadLettersDelta: 0 })
  assert.equal(a.storedUnknown, 2)
  assert.equal(a.ok, false)
})

test('a valid event the answer did not accept is reported', () => {
  const a = audit({ requests: [req('x', 9, { valid: 10, events: 10 })], storedByPrefix: new Map([['x', 9]]), storedDelta: 9, deadLettersDelta: 0 })
  assert.equal(a.validNotAccepted, 1)
  assert.equal(a.ok, true)
})

test('a prefix used twice is refused', () => {
  assert.throws(() => audit({ requests: [req('x', 1), req('x', 1)], storedByPrefix: new Map([['x', 2]]), storedDelta: 2, deadLettersDelta: 0 }), /two requests/)
})
