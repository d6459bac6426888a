import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { topology } from '@sluice/contracts/topology'
import { waitFor } from '@sluice/testkit/ports'
import { startPrivateCluster } from '@sluice/testkit/private-nats'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('cluster: three nats-servers, EVENTS with 3 replicas, the stream leader SIGKILLed mid-load — zero loss, a new leader, the old one catches up', async () => {
  const servers = await startPrivateCluster(3)
  const url = servers.map((s) => s.url).join(',')
  try {
    // JetStream answers once the three have elected a meta leader.
    const probe = await connect({ servers: servers.map((s) => s.url) })
    await waitFor(async () => (await jetstreamManager(probe)).getAccountInfo(), { timeoutMs: 30_000, what: 'clustered JetStream ready' })
    await probe.close()

    const p = await startPipeline({ workers: 2, natsUrl: url, streamReplicas: 3 })
    try {
      const jsm = await jetstreamManager(p.nc)
      const stream = topology().eventsStream
      const info = await jsm.streams.info(stream)
      assert.equal(info.config.num_replicas, 3)
      assert.equal(info.cluster?.replicas?.length, 2, 'a leader and two replicas')
      const rows = async () => Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)

      let oldLeader = ''
      let newLeader = ''
      const faults = (async () => {
        await waitFor(async () => (await rows()) > 500, { timeoutMs: 30_000, what: 'workers storing' })
        oldLeader = (await jsm.streams.info(stream)).cluster?.leader ?? ''
        const victim = servers.find((s) => s.name === oldLeader)
        assert.ok(victim, `leader ${oldLeader} is one of ours`)
        await victim.kill()
        newLeader = await waitFor(
          async () => {
            const l = (await jsm.streams.info(stream)).cluster?.leader
            return l && l !== oldLeader ? l : undefined
          },
          { timeoutMs: 30_000, intervalMs: 250, what: 'a new stream leader' },
        )
        await new Promise((r) => setTimeout(r, 1_500)) // load on the two survivors
        await victim.start()
      })()
      const load = await runLoad({ baseUrl: p.baseUrl, durationMs: 2_000, until: faults, tailMs: 2_000 })
      await faults
      assert.notEqual(newLeader, oldLeader)
      await audit(`cluster leader ${oldLeader} killed (new leader ${newLeader})`, p, load)
      // Recovery: the restarted server is a current replica again.
      await waitFor(
        async () => {
          const c = (await jsm.streams.info(stream)).cluster
          return c?.replicas?.length === 2 && c.replicas.every((r) => r.current) && c.replicas.some((r) => r.name === oldLeader)
        },
        { timeoutMs: 30_000, intervalMs: 250, what: `${oldLeader} a current replica again` },
      )
    } finally {
      await p.close()
    }
  } finally {
    await Promise.all(servers.map((s) => s.destroy()))
  }
})
