import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Envelope } from '@sluice/contracts/envelope'
import { DLQ_HEADER } from '../src/dead-letter.js'
import { envelope, workerHarness, type StartedWorker, type WorkerHarness } from './helpers.js'

let h: WorkerHarness
let worker: StartedWorker
before(async () => {
  h = await workerHarness()
  // A long batch window: each case's burst of messages lands in one batch.
  worker = await h.startWorker({ batchMaxWaitMs: 400 })
})
after(async () => h.close())

const json = (e: Envelope) => JSON.stringify(e)

interface Case {
  name: string
  payload: () => string | Uint8Array
  reason: string
  error: RegExp
}

const CASES: Case[] = [
  { name: 'bad JSON', payload: () => '{"event_id": "x", "source": "web", ', reason: 'invalid_json', error: /JSON/ },
  { name: 'bytes that are not UTF-8', payload: () => new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), reason: 'invalid_json', error: /UTF-8/ },
  { name: 'a missing required field', payload: () => json({ ...envelope(), event_type: undefined } as unknown as Envelope), reason: 'invalid_envelope', error: /event_type/ },
  { name: 'a calendar date that does not exist (Feb 30)', payload: () => json(envelope({ occurred_at: '2026-02-30T10:00:00Z' })), reason: 'invalid_envelope', error: /occurred_at/ },
  { name: 'revenue too large for a double (1e400)', payload: () => json(envelope({ revenue: 1 })).replace('"revenue":1', '"revenue":1e400'), reason: 'invalid_envelope', error: /revenue/ },
  { name: '\\u0000 in a text column', payload: () => json(envelope({ user_id: 'u\u0000x' })), reason: 'rejected_by_database', error: /22021 invalid byte sequence .*0x00/ },
  { name: '\\u0000 in jsonb data', payload: () => json(envelope({ data: { note: 'a\u0000b' } })), reason: 'rejected_by_database', error: /22P05.*column data/ },
  { name: 'a number jsonb cannot hold (numeric overflow)', payload: () => json(envelope({ data: { amount: 1 } })).replace('"amount":1', '"amount":1e200000'), reason: 'rejected_by_database', error: /22003.*overflow/ },
  { name: 'a date PostgreSQL rejects (year 0)', payload: () => json(envelope({ occurred_at: '0000-01-01T00:00:00Z' })), reason: 'rejected_by_database', error: /22008.*column occurred_at/ },
  { name: 'a lone surrogate in jsonb data', payload: () => json(envelope({ data: { s: 'x' } })).replace('"s":"x"', '"s":"\\ud800"'), reason: 'invalid_json', error: /22P02 .*column data.*surrogate/ },
  { name: 'malformed JSON inside data', payload: () => json(envelope({ data: { s: 'x' } })).replace('"s":"x"', '"s":'), reason: 'invalid_json', error: /22P02 invalid input syntax for type json \(column data\)/ },
  { name: 'a lone surrogate in a text column', payload: () => json(envelope({ city: 'x' })).replace('"city":"x"', '"city":"\\ud800"'), reason: 'invalid_envelope', error: /city/ },
]

async function batchesObserved(): Promise<number> {
  const metric = await worker.registry.getSingleMetric('sluice_worker_batch_size')!.get()
  return (metric.values as { metricName?: string; value: number }[]).find((v) => v.metricName === 'sluice_worker_batch_size_count')?.value ?? 0
}

for (const c of CASES) {
  test(`a batch with one poison message (${c.name}) stores the others and dead-letters the one`, async () => {
    const rowsBefore = await h.count()
    const batchesBefore = await batchesObserved()
    const { rows: dlBefore } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
    const good = Array.from({ length: 30 }, () => envelope())
    const poison = c.payload()
    await Promise.all([h.publish(good.slice(0, 15)), h.publishRaw([poison]), h.publish(good.slice(15))])
    await h.drained()

    assert.equal(await h.count(), rowsBefore + 30, 'every good event stored')
    assert.equal(await batchesObserved(), batchesBefore + 1, 'the poison and its batch-mates were one batch')
    const { rows } = await h.pool.query<{ id: number; reason: string; error: string; subject: string; delivery_count: number; payload: Buffer; stream_seq: string }>(
      'SELECT id::int, reason, error, subject, delivery_count, payload, stream_seq FROM dead_letters ORDER BY id DESC LIMIT 1',
    )
    const { rows: dlAfter } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
    assert.equal(Number(dlAfter[0]!.n), Number(dlBefore[0]!.n) + 1, 'exactly one dead letter')
    const dl = rows[0]!
    assert.equal(dl.reason, c.reason)
    assert.match(dl.error, c.error)
    assert.equal(dl.subject, `${h.topology.eventsSubjectPrefix}.web`)
    assert.equal(dl.delivery_count, 1)
    assert.deepEqual(new Uint8Array(dl.payload), typeof poison === 'string' ? new TextEncoder().encode(poison) : poison, 'original bytes kept')

    // The same dead letter is on EVENTS_DLQ, with its reason and the original bytes.
    const jsm = await jetstreamManager(h.nc)
    const stored = await jsm.streams.getMessage(h.topology.dlqStream, { last_by_subj: `${h.topology.dlqSubjectPrefix}.web` })
    assert.ok(stored)
    assert.equal(stored.header.get(DLQ_HEADER.id), String(dl.id))
    assert.equal(stored.header.get(DLQ_HEADER.reason), c.reason)
    assert.equal(stored.header.get(DLQ_HEADER.streamSeq), String(dl.stream_seq))
    assert.equal(stored.header.get(DLQ_HEADER.deliveryCount), '1')
    assert.deepEqual(new Uint8Array(stored.data), new Uint8Array(dl.payload))
  })
}

test('many poison messages in one batch: each is dead-lettered, the rest stored', async () => {
  const rowsBefore = await h.count()
  const { rows: dlBefore } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
  const good = Array.from({ length: 300 }, () => envelope())
  const poison = CASES.flatMap((c) => [c.payload(), c.payload(), c.payload()])
  await Promise.all([h.publish(good), h.publishRaw(poison)])
  await h.drained()
  assert.equal(await h.count(), rowsBefore + 300)
  const { rows: dlAfter } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
  assert.equal(Number(dlAfter[0]!.n) - Number(dlBefore[0]!.n), poison.length)
})

test('a row a trigger rejects at INSERT (no line number) is found by bisection; the rest is stored once', async () => {
  await h.pool.query(`CREATE FUNCTION reject_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.event_type = 'blocked' THEN RAISE EXCEPTION 'event type % is blocked', NEW.event_type; END IF; RETURN NEW; END $$`)
  await h.pool.query('CREATE TRIGGER reject_blocked BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION reject_blocked()')
  try {
    const rowsBefore = await h.count()
    const good = Array.from({ length: 97 }, () => envelope())
    const blocked = Array.from({ length: 3 }, () => envelope({ event_type: 'blocked' }))
    await h.publish([...good.slice(0, 40), blocked[0]!, ...good.slice(40, 70), blocked[1]!, ...good.slice(70), blocked[2]!])
    await h.drained()
    assert.equal(await h.count(), rowsBefore + 97)
    const { rows } = await h.pool.query<{ event_id: string; error: string }>(
      `SELECT event_id, error FROM dead_letters WHERE reason = 'rejected_by_database' AND event_id = ANY($1)`,
      [blocked.map((b) => b.event_id)],
    )
    assert.equal(rows.length, 3)
    for (const r of rows) assert.match(r.error, /P0001 event type blocked is blocked/)
  } finally {
    await h.pool.query('DROP TRIGGER reject_blocked ON events')
  }
})
