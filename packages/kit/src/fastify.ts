import { randomUUID } from 'node:crypto'
import type { ServerOptions } from 'node:http'
import type { Socket } from 'node:net'
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Counter, Histogram, type Registry } from 'prom-client'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Logger } from './logger.js'

const REQUEST_ID = /^[\w.:@-]{1,128}$/

/** A client's X-Request-Id when it is safe to log and store, else a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID()
}

export interface ServerSettings {
  log: Logger
  bodyLimit?: number
  /** Close idle keep-alive and slow requests (slow-loris defence). */
  requestTimeoutMs?: number
  /** Time allowed for the request headers; at most requestTimeoutMs. */
  headersTimeoutMs?: number
}

/** Options for `Fastify()` shared by the three services. */
export function serverOptions({ log, bodyLimit = 1024 * 1024, requestTimeoutMs = 30_000, headersTimeoutMs = 10_000 }: ServerSettings): FastifyServerOptions & { loggerInstance: FastifyBaseLogger; http: ServerOptions } {
  const headersTimeout = Math.min(headersTimeoutMs, requestTimeoutMs)
  return {
    loggerInstance: log,
    // Node checks the request deadline only every connectionsCheckingInterval (30 s by
    // default): checked each second, a client dribbling bytes is cut off close to it.
    // Node's own headersTimeout is left alone: lowered, it stopped the 413 reaching a
    // client still sending a huge body (hostile.test.ts). Headers over 16 KiB answer 431.
    http: { connectionsCheckingInterval: Math.min(1_000, headersTimeout) },
    bodyLimit,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: requestTimeoutMs,
    keepAliveTimeout: 72_000,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    // Per-request info logs would cost more than the request at 10,000 req/s; the
    // onResponse hook below logs them at debug level, the error handler logs failures.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }
}

export interface ObservabilitySettings {
  registry: Registry
}

/**
 * Echoes the request id, counts and times every request by route, logs failures, and
 * serves the registry on `/metrics`.
 */
export function useObservability(app: FastifyInstance, { registry }: ObservabilitySettings): void {
  const requests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })

  const debug = app.log.level === 'debug' || app.log.level === 'trace'
  // Callback hooks, not async ones: they run on every request, and a promise each is measurable at 10,000 req/s.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    if (route !== '/metrics') {
      requests.inc({ method: request.method, route, status_code: reply.statusCode })
      duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
      if (debug) request.log.debug({ req: request, res: reply, ms: reply.elapsedTime }, 'request completed')
    }
    done()
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

export interface DocsSettings {
  title: string
  description: string
  version: string
  tags?: { name: string; description: string }[]
  /** OpenAPI security schemes the routes' `security` entries refer to. */
  securitySchemes?: NonNullable<NonNullable<FastifyDynamicSwaggerOptions['openapi']>['components']>['securitySchemes']
}

/** OpenAPI generated from the routes' TypeBox schemas, with Swagger UI at `/api`. */
export async function useSwagger(app: FastifyInstance, { title, description, version, tags = [], securitySchemes }: DocsSettings): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title, description, version },
      tags,
      ...(securitySchemes ? { components: { securitySchemes } } : {}),
    },
  })
  await app.register(swaggerUi, { routePrefix: '/api', uiConfig: { docExpansion: 'list', deepLinking: true } })
}

/**
 * Slow-loris defence beside serverOptions: connections that send nothing at all within
 * `ms` are closed. Node's request deadline starts with a request's first byte, so a
 * client that opens sockets and stays silent would otherwise hold them for ever.
 */
export function guardConnections(app: FastifyInstance, ms: number, requestTimeoutMs = 30_000): void {
  // Node 20 enforces a request's whole-request deadline through headersTimeout when it
  // is not above requestTimeout; left at its 60 s default, a dribbled body is not cut.
  app.server.headersTimeout = requestTimeoutMs
  app.server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy()
    }, ms)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  })
}
