import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, JetStreamApiError, type JetStreamManager, type ConsumerConfig, type StreamConfig } from '@nats-io/jetstream'
import type { Logger } from './logger.js'
import { UnreachableError } from './unreachable.js'

export type { NatsConnection }

export interface NatsSettings {
  url: string
  /** Shown in the server's connection list (`nats server report connections`). */
  name: string
  log: Logger
  connectTimeoutMs?: number
}

/**
 * Connects with reconnects forever (a NATS restart must not kill a service) and logs every
 * status change. The first connect fails fast with an UnreachableError naming the URL.
 */
export async function connectNats({ url, name, log, connectTimeoutMs = 5_000 }: NatsSettings): Promise<NatsConnection> {
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: url.split(',').map((s) => s.trim()),
      name,
      timeout: connectTimeoutMs,
      // Async stack traces cost about half of a publish's CPU (measurements.md).
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 10_000,
    })
  } catch (err) {
    throw new UnreachableError('nats', url, err)
  }
  void logStatus(nc, log)
  return nc
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
        log.warn({ server: s.server }, 'NATS disconnected')
        break
      case 'reconnect':
        log.info({ server: s.server }, 'NATS reconnected')
        break
      case 'error':
        log.error({ err: s.error }, 'NATS connection error')
        break
      case 'ldm':
        log.warn({ server: s.server }, 'NATS server entering lame duck mode')
        break
      default:
        log.debug({ status: s.type }, 'NATS status')
    }
  }
}

/** Lets in-flight requests and subscriptions finish, then closes. Never throws. */
export async function drainNats(nc: NatsConnection, log: Logger): Promise<void> {
  if (nc.isClosed()) return
  try {
    await nc.drain()
  } catch (err) {
    log.warn({ err }, 'NATS drain failed; closing')
    await nc.close().catch(() => undefined)
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10059 || err.code === 10014)
}

/** Creates the stream, or brings an existing one's limits up to date. Idempotent. */
export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, log: Logger): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name)
    const { retention: _r, storage: _s, ...updatable } = config
    const current = info.config as unknown as Record<string, unknown>
    const changed = Object.entries(updatable).some(([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value))
    if (changed) {
      await jsm.streams.update(config.name, { ...info.config, ...updatable }).catch((err: unknown) => {
        log.warn({ err, stream: config.name }, 'stream exists with another configuration and could not be updated')
      })
    }
  } catch (err) {
    if (!isNotFound(err)) throw err
    await jsm.streams.add(config)
    log.info({ stream: config.name }, 'stream created')
  }
}

/** Creates the durable consumer, or updates the settings an existing one may change. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }, log: Logger): Promise<void> {
  try {
    const info = await jsm.consumers.info(stream, config.durable_name)
    const current = info.config as unknown as Record<string, unknown>
    const changed = Object.entries(config).some(([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value))
    if (changed) {
      await jsm.consumers.update(stream, config.durable_name, config).catch((err: unknown) => {
        log.warn({ err, stream, consumer: config.durable_name }, 'consumer exists with another configuration and could not be updated')
      })
    }
  } catch (err) {
    if (!isNotFound(err)) throw err
    await jsm.consumers.add(stream, config)
    log.info({ stream, consumer: config.durable_name }, 'consumer created')
  }
}

export { jetstreamManager }
