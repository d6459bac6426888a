import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rawMember } from '../src/raw-member.js'
import { decode } from '../src/decode.js'
import { copyRow } from '../src/copy-row.js'

const cases: [string, string, string | undefined][] = [
  ['{"a":1,"data":{"x":[1,2,{"y":"}"}]},"b":2}', 'data', '{"x":[1,2,{"y":"}"}]}'],
  ['{ "data" : { "k" : "v" } }', 'data', '{ "k" : "v" }'],
  ['{"data":{"q":"a\\"b,c}"}}', 'data', '{"q":"a\\"b,c}"}'],
  ['{"data":{},"data":{"last":true}}', 'data', '{"last":true}'],
  ['{"\\u0064ata":{"escaped":"key"}}', 'data', '{"escaped":"key"}'],
  ['{"nested":{"data":{"not":"top"}}}', 'data', undefined],
  ['{"s":"data","data":"text"}', 'data', '"text"'],
  ['{"data":1e400}', 'data', '1e400'],
  ['{"data":{"a":"\\\\"}}', 'data', '{"a":"\\\\"}'],
  ['[{"data":1}]', 'data', undefined],
  ['{}', 'data', undefined],
]

test('rawMember returns the text of a top-level member, as written', () => {
  for (const [json, key, expected] of cases) assert.equal(rawMember(json, key), expected, json)
})

test('rawMember agrees with JSON.parse on generated objects', () => {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!
  const strings = ['', 'plain', 'quote " inside', 'brace } and ]', 'back\\slash', 'tab\tnewline\n', 'ünïcødé ✓', 'comma, colon: end']
  const value = (depth: number): unknown => {
    const kind = Math.floor(Math.random() * (depth > 2 ? 4 : 6))
    if (kind === 0) return pick(strings)
    if (kind === 1) return Math.random() * 1e6
    if (kind === 2) return pick([true, false, null])
    if (kind === 3) return Math.floor(Math.random() * 100)
    if (kind === 4) return Array.from({ length: Math.floor(Math.random() * 4) }, () => value(depth + 1))
    return Object.fromEntries(Array.from({ length: Math.floor(Math.random() * 4) }, () => [pick(strings), value(depth + 1)]))
  }
  for (let i = 0; i < 2_000; i++) {
    const data = Object.fromEntries(Array.from({ length: 3 }, () => [pick(strings), value(0)]))
    const doc = { [pick(strings)]: value(0), data, [`${pick(strings)}x`]: value(0) }
    const text = i % 2 ? JSON.stringify(doc) : JSON.stringify(doc, null, i % 4 === 0 ? 2 : '\t')
    const raw = rawMember(text, 'data')
    assert.ok(raw !== undefined, text)
    assert.deepEqual(JSON.parse(raw), data)
  }
})

test('decode keeps data as sent (big integers, exponents) and rejects what is not an envelope', () => {
  const text = '{"event_id":"e1","source":"web","event_type":"t","occurred_at":"2026-11-21T10:00:00Z","received_at":"2026-11-21T10:00:00Z","data":{"id":12345678901234567890,"x":1e400}}'
  const d = decode(new TextEncoder().encode(text))
  assert.ok(d.ok)
  assert.equal(d.data, '{"id":12345678901234567890,"x":1e400}')
  assert.match(copyRow(d.envelope, d.data), /\t\{"id":12345678901234567890,"x":1e400\}\n$/)

  const notObject = decode(new TextEncoder().encode('{"event_id":"e1","source":"web","event_type":"t","occurred_at":"2026-11-21T10:00:00Z","received_at":"2026-11-21T10:00:00Z","data":[1]}'))
  assert.equal(notObject.ok, false)
  assert.equal(!notObject.ok && notObject.reason, 'invalid_envelope')
  const extra = decode(new TextEncoder().encode('{"event_id":"e1","source":"web","event_type":"t","occurred_at":"2026-11-21T10:00:00Z","received_at":"2026-11-21T10:00:00Z","data":{},"surprise":1}'))
  assert.equal(!extra.ok && extra.reason, 'invalid_envelope')
})
