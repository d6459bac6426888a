import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answerCounts } from '../src/drive.js'
import { histogramQuantile } from '../src/prometheus.js'

/** What the benchmark reads from answers and from the worker's latency histogram. */

test('answer counts: native 202, Amplitude 200, a 400 accepts nothing', () => {
  assert.deepEqual(answerCounts(202, '{"accepted":7,"duplicates":2,"rejected":[{"index":3}]}'), { accepted: 7, duplicates: 2, rejected: 1 })
  assert.deepEqual(answerCounts(200, '{"code":200,"events_ingested":200,"payload_size_bytes":1,"server_upload_time":1}'), { accepted: 200, duplicates: 0, rejected: 0 })
  assert.deepEqual(answerCounts(400, '{"accepted":0,"rejected":[{"index":0},{"index":1}]}'), { accepted: 0, duplicates: 0, rejected: 2 })
  assert.deepEqual(answerCounts(503, 'not json'), { accepted: 0, duplicates: 0, rejected: 0 })
})

test('histogram quantile interpolates inside the bucket', () => {
  const buckets: [number, number][] = [
    [0.1, 50],
    [0.5, 90],
    [1, 100],
    [Infinity, 100],
  ]
  assert.equal(histogramQuantile(buckets, 0.5), 0.1)
  assert.equal(histogramQuantile(buckets, 0.7), 0.1 + 0.4 * (20 / 40))
  assert.equal(histogramQuantile(buckets, 0.99), 0.5 + 0.5 * (9 / 10))
  assert.equal(histogramQuantile([[Infinity, 0]], 0.5), undefined)
})
