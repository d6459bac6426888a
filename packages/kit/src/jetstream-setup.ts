import type { NatsConnection } from '@nats-io/transport-node'
import { dlqStreamConfig, eventsStreamConfig, importConsumerConfig, importStreamConfig, workerConsumerConfig, type Topology } from '@sluice/contracts/topology'
import { ensureConsumer, ensureStream, jetstreamManager } from './nats.js'
import type { Logger } from './logger.js'

export interface JetStreamLimits {
  streamMaxBytes: number
  /** EVENTS_IMPORT's size (default 256 MiB): JetStream reserves it on disk, and a full import stream only makes the importer wait. */
  importStreamMaxBytes?: number
  duplicateWindowMs: number
  maxAckPending: number
  ackWaitMs: number
  maxDeliver: number
}

/**
 * Creates (or updates) every stream and consumer of the topology. Idempotent, so each
 * service runs it at start and none depends on another having started first.
 */
export async function setupJetStream(nc: NatsConnection, t: Topology, limits: JetStreamLimits, log: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc)
  await ensureStream(jsm, eventsStreamConfig(t, { maxBytes: limits.streamMaxBytes, duplicateWindowMs: limits.duplicateWindowMs }), log)
  await ensureStream(jsm, importStreamConfig(t, { maxBytes: limits.importStreamMaxBytes ?? 256 * 1024 ** 2, duplicateWindowMs: limits.duplicateWindowMs }), log)
  await ensureStream(jsm, dlqStreamConfig(t), log)
  await ensureConsumer(jsm, t.eventsStream, workerConsumerConfig(t, limits), log)
  await ensureConsumer(jsm, t.importStream, importConsumerConfig(t, limits), log)
}
