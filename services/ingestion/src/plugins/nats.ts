import fp from 'fastify-plugin'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { connectNats, drainNats, type NatsConnection } from '@sluice/kit/nats'

declare module 'fastify' {
  interface FastifyInstance {
    nats: NatsConnection
    js: JetStreamClient
  }
}

export interface NatsPluginOptions {
  url: string
  name: string
}

/** One NATS connection per process, drained when the app closes. */
export default fp<NatsPluginOptions>(
  async (app, { url, name }) => {
    const nc = await connectNats({ url, name, log: app.log })
    app.decorate('nats', nc)
    app.decorate('js', jetstream(nc))
    app.addHook('onClose', async () => drainNats(nc, app.log))
  },
  { name: 'nats' },
)
