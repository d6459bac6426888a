import { randomBytes } from 'node:crypto'
import { topology, type Topology } from '@sluice/contracts/topology'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

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
