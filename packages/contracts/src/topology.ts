import { AckPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type StreamConfig } from '@nats-io/jetstream'

/**
 * Names of every stream, subject and consumer Sluice uses. A namespace prefixes all of
 * them so tests (and side-by-side deployments) never share a stream.
 */
export interface Topology {
  namespace: string
  /** Live events: `events.<source>` */
  eventsStream: string
  eventsSubjectPrefix: string
  /** Messages that can never be stored: `deadletter.<source>` */
  dlqStream: string
  dlqSubjectPrefix: string
  /** The durable pull consumer all worker replicas share. */
  workerConsumer: string
  /**
   * Bulk imports (`import.<source>`): a lane of their own, so that a large import never
   * queues in front of live events. Workers take from it only when the live lane has
   * nothing waiting. Its messages carry many envelopes each (one JSON line per envelope).
   */
  importStream: string
  importSubjectPrefix: string
  importConsumer: string
}

export function topology(namespace = ''): Topology {
  if (namespace !== '' && !/^[a-z0-9_]{1,32}$/.test(namespace)) {
    throw new Error(`stream namespace must match [a-z0-9_]{1,32}, got "${namespace}"`)
  }
  const name = (base: string) => (namespace ? `${namespace.toUpperCase()}_${base}` : base)
  const subject = (base: string) => (namespace ? `${namespace}.${base}` : base)
  return {
    namespace,
    eventsStream: name('EVENTS'),
    eventsSubjectPrefix: subject('events'),
    dlqStream: name('EVENTS_DLQ'),
    dlqSubjectPrefix: subject('deadletter'),
    workerConsumer: name('worker').toLowerCase(),
    importStream: name('EVENTS_IMPORT'),
    importSubjectPrefix: subject('import'),
    importConsumer: name('import_worker').toLowerCase(),
  }
}

export function eventSubject(t: Topology, source: string): string {
  return `${t.eventsSubjectPrefix}.${source}`
}

export function importSubject(t: Topology, source: string): string {
  return `${t.importSubjectPrefix}.${source}`
}

export function dlqSubject(t: Topology, source: string): string {
  return `${t.dlqSubjectPrefix}.${source}`
}

export interface StreamLimits {
  /** Bytes the live stream may hold before it refuses new events (discard new). */
  maxBytes: number
  /** How long JetStream remembers message ids for dedupe. */
  duplicateWindowMs: number
}

const NANOS_PER_MS = 1_000_000

/**
 * Live events: work-queue retention (a message leaves once a worker acked it), so
 * "full" means a backlog nobody consumed, and discard-new makes a full stream refuse
 * new events instead of dropping unconsumed ones.
 */
export function eventsStreamConfig(t: Topology, limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: t.eventsStream,
    subjects: [`${t.eventsSubjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    max_bytes: limits.maxBytes,
    max_msg_size: 1024 * 1024,
    duplicate_window: limits.duplicateWindowMs * NANOS_PER_MS,
    num_replicas: 1,
  }
}

/**
 * Imported events: like the live stream (work queue, discard new: a full stream makes the
 * importer wait, never drops what is unconsumed). Messages stay under the server's
 * default 1 MiB payload limit: the importer closes a message at ~100 envelopes or 512 KiB.
 */
export function importStreamConfig(t: Topology, limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    ...eventsStreamConfig(t, limits),
    name: t.importStream,
    subjects: [`${t.importSubjectPrefix}.>`],
  }
}

/** Dead letters are kept (limits retention) until someone replays or purges them. */
export function dlqStreamConfig(t: Topology): Partial<StreamConfig> & { name: string } {
  return {
    name: t.dlqStream,
    subjects: [`${t.dlqSubjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: 1024 ** 3,
    num_replicas: 1,
  }
}

export interface ConsumerLimits {
  /** Messages delivered but not yet acked, across all replicas. Must exceed batch × batches in flight × replicas. */
  maxAckPending: number
  ackWaitMs: number
}

/**
 * The worker's durable pull consumer. `max_deliver` is unlimited on the server on
 * purpose: a 2.9 server that reaches it stops delivering the message and leaves it in
 * the work queue, reporting it only in an advisory nobody may be listening to — lost in
 * all but name. The worker enforces MAX_DELIVER itself instead: a message delivered
 * more often than that is dead-lettered (reason `max_deliver`) on its next delivery.
 */
export function workerConsumerConfig(t: Topology, limits: ConsumerLimits): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: t.workerConsumer,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: limits.maxAckPending,
    ack_wait: limits.ackWaitMs * NANOS_PER_MS,
    max_deliver: -1,
  }
}

/** The import lane's durable pull consumer, shared by every worker replica like the live one. */
export function importConsumerConfig(t: Topology, limits: ConsumerLimits): Partial<ConsumerConfig> & { durable_name: string } {
  return { ...workerConsumerConfig(t, limits), durable_name: t.importConsumer }
}
