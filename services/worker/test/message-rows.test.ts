import { test } from 'node:test'
import assert from 'node:assert/strict'
import { messageRows } from '../src/handle-batch.js'

const text = (rows: Uint8Array[] | undefined) => rows?.map((r) => Buffer.from(r).toString())

test('a message without a newline is one envelope; an import message is one per line', () => {
  assert.equal(messageRows(Buffer.from('{"event_id":"a"}')), undefined)
  assert.deepEqual(text(messageRows(Buffer.from('{"a":1}\n{"b":2}\n{"c":3}'))), ['{"a":1}', '{"b":2}', '{"c":3}'])
  assert.deepEqual(text(messageRows(Buffer.from('{"a":1}\n{"b":2}\n'))), ['{"a":1}', '{"b":2}'], 'a trailing newline adds no row')
  assert.deepEqual(text(messageRows(Buffer.from('{"a":1}\n\n{"b":2}'))), ['{"a":1}', '', '{"b":2}'], 'an empty line is a row (dead-lettered as bad JSON), so line numbers hold')
})
