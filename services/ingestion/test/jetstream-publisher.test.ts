import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { eventSubject, type Topology } from '@sluice/contracts/topology'
import { machine, testLogger } from '@sluice/testkit/env'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { JetStreamPublisher, PublishUnavailable } from '@sluice/kit/jetstream-publisher'
import { safeMsgId } from '@sluice/kit/publish-headers'

let nc: NatsConnection
let t: Topology
let publisher: JetStreamPublisher
before(async () => {
  nc = await connect({ servers: machine.natsUrl })
  t = testTopology()
  await setupJetStream(nc, t, { streamMaxBytes: 64 * 1024 * 1024, duplicateWindowMs: 60_000, maxAckPending: 1000, ackWaitMs: 30_000, maxDeliver: 5 }, testLogger())
  publisher = new JetStreamPublisher(nc, { timeoutMs: 2_000, maxInFlight: 8, log: testLogger(), requestIdHeader: 'Sluice-Request-Id' })
})
after(async () => {
  await publisher.close()
  await deleteTopology(nc, t)
  await nc.close()
})

const message = (id: string, payload = Buffer.from(`{"id":"${id}"}`)) => ({ subject: eventSubject(t, 'web'), msgId: `web:${id}`, payload })

test('batches larger than the in-flight window complete, with duplicates reported per message', async () => {
  const ids = Array.from({ length: 100 }, (_, i) => `w-${i}`)
  const first = await publisher.publish(ids.map((id) => message(id)), 'r1')
  assert.equal(first.duplicates, 0)
  const again = await publisher.publish([message('w-3'), message('new-1'), message('w-7')], 'r2')
  assert.deepEqual([...again.duplicate], [1, 0, 1])
  assert.equal(again.duplicates, 2)
  assert.equal(publisher.inFlight, 0)
  const jsm = await jetstreamManager(nc)
  assert.equal((await jsm.streams.info(t.eventsStream)).state.messages, 101)
})

test('a batch that cannot be published fails alone; the batches queued with it go through', async () => {
  const tooBig = publisher.publish([message('big', Buffer.alloc(2 * 1024 * 1024, 'x'))], 'r3')
  const fine = publisher.publish(Array.from({ length: 20 }, (_, i) => message(`after-big-${i}`)), 'r4')
  await assert.rejects(tooBig, PublishUnavailable)
  assert.equal((await fine).duplicates, 0)
  assert.equal(publisher.inFlight, 0)
})

test('message ids with control characters become digests; plain ones stay as they are', () => {
  assert.equal(safeMsgId('web:abc-1'), 'web:abc-1')
  assert.match(safeMsgId('web:a\nb'), /^sha256:[0-9a-f]{64}$/)
  assert.match(safeMsgId('web:trailing '), /^sha256:/)
  assert.equal(safeMsgId('web:a\nb'), safeMsgId('web:a\nb'), 'deterministic, so it still dedupes')
})
