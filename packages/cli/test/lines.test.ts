import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { lines } from '../src/import/lines.js'
import { progressLine } from '../src/import/progress-line.js'

async function all(chunks: string[]): Promise<string[]> {
  const out: string[] = []
  for await (const line of lines(Readable.from(chunks.map((c) => Buffer.from(c))))) out.push(line)
  return out
}

test('lines: split across chunks, CRLF, blank lines, a last line without a newline, multi-byte characters cut between chunks', async () => {
  assert.deepEqual(await all(['{"a":1}\n{"b"', ':2}\r\n\n{"c":3}']), ['{"a":1}', '{"b":2}', '', '{"c":3}'])
  const euro = Buffer.from('€')
  const stream = Readable.from([Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('\n')])])
  const out: string[] = []
  for await (const line of lines(stream)) out.push(line)
  assert.deepEqual(out, ['x€'])
  assert.deepEqual(await all([]), [])
})

test('the progress line shows the fraction of the archive read, the counters and an ETA', () => {
  const line = progressLine({ files: 4, filesDone: 1, rowsRead: 50_000, published: 49_000, duplicates: 10, invalid: 3, bytesRead: 250, totalBytes: 1_000, elapsedMs: 10_000 })
  assert.match(line, /25\.0%/)
  assert.match(line, /read 50,000 {2}published 49,000 {2}duplicates 10 {2}invalid 3/)
  assert.match(line, /5,000 rows\/s/)
  assert.match(line, /ETA 30s/)
})
