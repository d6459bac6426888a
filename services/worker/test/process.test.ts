import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnModule, type Spawned } from '@sluice/testkit/spawn'
import { waitFor } from '@sluice/testkit/ports'
import { envelope, workerHarness, type WorkerHarness } from './helpers.js'

// Workers as their own processes, as in production: killed, stopped and scaled out.

let h: WorkerHarness
before(async () => {
  h = await workerHarness({ env: { ACK_WAIT_MS: '2000' } })
})
after(async () => h.close())

async function spawnWorker(extra: Record<string, string> = {}): Promise<{ worker: Spawned; port: number }> {
  const env = await h.processEnv({ LOG_LEVEL: 'info', BATCH_SIZE: '500', ...extra })
  const worker = spawnModule('@sluice/worker/server', env)
  await worker.waitFor(/worker consuming/, 30_000)
  return { worker, port: Number(env.PORT) }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line ? Number(line.split(' ').pop()) : 0
}

test('a worker killed with SIGKILL mid-stream and restarted leaves count(*) equal to the distinct events', async () => {
  const start = await h.count()
  const events = Array.from({ length: 30_000 }, () => envelope())
  await h.publish(events)
  // Re-sent without message ids: JetStream keeps these copies, the database must drop them.
  await h.publish(events.slice(0, 2_000), { msgId: false })

  const first = await spawnWorker()
  await waitFor(async () => (await h.count()) - start >= 3_000, { timeoutMs: 30_000, what: 'some events stored' })
  await first.worker.kill('SIGKILL')
  const atKill = (await h.count()) - start
  assert.ok(atKill < 30_000, `killed before the end (${atKill} stored)`)

  const second = await spawnWorker()
  try {
    await h.drained(60_000)
    assert.equal((await h.count()) - start, 30_000)
    const { rows } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')
    assert.equal(rows[0]!.n, '0')
    // The messages the killed worker held came back (after the ack wait) and were stored once.
    assert.ok((await metric(second.port, 'sluice_worker_messages_fetched_total')) > 30_000 + 2_000 - atKill - 1_000)
  } finally {
    await second.worker.kill('SIGTERM')
  }
})

test('SIGTERM stops fetching, stores and acks what the worker holds, hands the rest back at once, and exits 0', async () => {
  // A long ack wait: a message the stopping worker left unanswered would be stuck for a minute.
  const slow = await workerHarness({ env: { ACK_WAIT_MS: '60000' } })
  const spawn = async () => {
    const env = await slow.processEnv({ LOG_LEVEL: 'info', BATCH_SIZE: '500' })
    const worker = spawnModule('@sluice/worker/server', env)
    await worker.waitFor(/worker consuming/, 30_000)
    return worker
  }
  try {
    await slow.publish(Array.from({ length: 10_000 }, () => envelope()))
    const worker = await spawn()
    await waitFor(async () => (await slow.count()) > 0, { what: 'storing' })
    const exit = await worker.kill('SIGTERM')
    assert.equal(exit.code, 0, worker.output())
    assert.match(worker.output(), /"msg":"stopped"/)
    const stored = await slow.count()
    assert.ok(stored < 10_000, `stopped mid-stream (${stored} stored)`)
    const consumer = await slow.js.consumers.get(slow.topology.eventsStream, slow.topology.workerConsumer)
    const info = await consumer.info()
    assert.equal(info.num_pending + info.num_ack_pending, 10_000 - stored, 'every message not stored is still owed')

    const next = await spawn()
    try {
      await slow.drained(20_000)
      assert.equal(await slow.count(), 10_000)
    } finally {
      await next.kill('SIGTERM')
    }
  } finally {
    await slow.close()
  }
})

test('three replicas on one consumer store every event once, and each takes a share', async () => {
  const start = await h.count()
  const replicas = await Promise.all([spawnWorker(), spawnWorker(), spawnWorker()])
  try {
    const events = Array.from({ length: 30_000 }, () => envelope())
    await h.publish(events)
    await h.publish(events.slice(0, 3_000), { msgId: false })
    await h.drained(60_000)
    assert.equal((await h.count()) - start, 30_000)
    let inserted = 0
    for (const r of replicas) {
      const mine = await metric(r.port, 'sluice_worker_events_inserted_total')
      assert.ok(mine > 0, 'every replica stored some')
      inserted += mine
    }
    assert.equal(inserted, 30_000, 'inserted counted once across replicas')
  } finally {
    await Promise.all(replicas.map((r) => r.worker.kill('SIGTERM')))
  }
})
