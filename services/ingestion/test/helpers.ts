import type { FastifyInstance } from 'fastify'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { createRegistry } from '@sluice/kit/metrics'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import type { Topology } from '@sluice/contracts/topology'
import { machine, testLogger } from '@sluice/testkit/env'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { loadIngestionConfig } from '../src/config.js'
import { buildIngestion } from '../src/app.js'

export interface IngestionHarness {
  app: FastifyInstance
  nc: NatsConnection
  topology: Topology
  /** Messages now in the test's EVENTS stream. */
  streamMessages(): Promise<number>
  close(): Promise<void>
}

/** The ingestion app on the machine's NATS, with streams of its own. */
export async function ingestionHarness(env: Record<string, string> = {}, natsUrl = machine.natsUrl): Promise<IngestionHarness> {
  const t = testTopology()
  const config = loadIngestionConfig({ env: { NATS_URL: natsUrl, STREAM_NAMESPACE: t.namespace, ...env } })
  const log = testLogger('ingestion')
  const nc = await connect({ servers: natsUrl })
  await setupJetStream(nc, t, config, log)
  const app = await buildIngestion(config, log, createRegistry('ingestion', { defaults: false }))
  await app.ready()
  const jsm = await jetstreamManager(nc)
  return {
    app,
    nc,
    topology: t,
    streamMessages: async () => (await jsm.streams.info(t.eventsStream)).state.messages,
    async close() {
      await app.close()
      await deleteTopology(nc, t)
      await nc.close()
    },
  }
}

export function nativeEvent(overrides: Record<string, unknown> = {}) {
  return {
    eventId: `e-${Math.random().toString(36).slice(2)}`,
    timestamp: '2026-11-21T10:00:00.000Z',
    source: 'web',
    eventType: 'page_view',
    userId: 'u1',
    data: { path: '/' },
    ...overrides,
  }
}
