import type { NatsConnection } from '@nats-io/transport-node'
import { dlqStreamConfig, eventsStreamConfig, workerConsumerConfig, type Topology } from '@sluice/contracts/topology'
import { ensureConsumer, ensureStream, jetstreamManager } from './nats.js'
import type { Logger } from './logger.js'

export interface JetStreamLimits {
  streamMaxBytes: number
  duplicateWindowMs: number
  maxAckPending: number
  ackWaitMs: number
  maxDeliver: number
  /** Stream replicas (a clustered JetStream); default 1. */
  streamReplicas?: number
}

/**
 * Creates (or updates) every stream and consumer of the topology. Idempotent, so each
 * service runs it at start and none depends on another having started first.
 */
export async function setupJetStream(nc: NatsConnection, t: Topology, limits: JetStreamLimits, log: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc)
  await ensureStream(jsm, eventsStreamConfig(t, { maxBytes: limits.streamMaxBytes, duplicateWindowMs: limits.duplicateWindowMs, replicas: limits.streamReplicas }), log)
  await ensureStream(jsm, dlqStreamConfig(t, limits.streamReplicas), log)
  await ensureConsumer(jsm, t.eventsStream, workerConsumerConfig(t, limits), log)
}
