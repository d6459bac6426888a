import { randomBytes } from 'node:crypto'
import { topology, type Topology } from '@sluice/contracts/topology'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

/**
 * Stream limits for tests, as environment variables. JetStream reserves a file stream's
 * max_bytes from the server's storage when the stream is created; at the production
 * default (8 GiB) a few test files running at once exhaust a shared server's JetStream
 * storage ("insufficient storage resources available").
 */
export const testStreamLimits: Record<string, string> = {
  STREAM_MAX_BYTES: String(256 * 1024 ** 2),
}

/** Stream, subject and consumer names no other test uses. */
export function testTopology(): Topology {
  return topology(`t${randomBytes(5).toString('hex')}`)
}

/** Deletes every stream named with the topology's namespace (consumers go with them). */
export async function deleteTopology(nc: NatsConnection, t: Topology): Promise<void> {
  const jsm = await jetstreamManager(nc)
  const prefix = `${t.namespace.toUpperCase()}_`
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix)) await jsm.streams.delete(name).catch(() => undefined)
  }
}
