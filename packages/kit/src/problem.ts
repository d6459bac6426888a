import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'

/**
 * RFC 9457 problem details, made in one place. Routes throw `HttpProblem` (or let
 * Fastify's own errors through); the handler below turns every error into
 * `application/problem+json` and never leaks an internal error's message.
 */

export interface FieldError {
  path: string
  message: string
}

export interface ProblemOptions {
  /** Machine-readable kind, becomes `type: urn:sluice:problem:<kind>`. */
  kind?: string
  detail?: string
  errors?: FieldError[]
  headers?: Record<string, string>
  /** Extra members (RFC 9457 §3.2). */
  extra?: Record<string, unknown>
}

export class HttpProblem extends Error {
  override name = 'HttpProblem'
  constructor(
    readonly statusCode: number,
    readonly options: ProblemOptions = {},
  ) {
    super(options.detail ?? STATUS_CODES[statusCode] ?? 'Error')
  }
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail?: string
  instance?: string
  requestId: string
  errors?: FieldError[]
  [extra: string]: unknown
}

const FASTIFY_STATUS: Record<string, { status: number; kind: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, kind: 'body-too-large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, kind: 'unsupported-media-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, kind: 'invalid-content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, kind: 'empty-body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, kind: 'invalid-json' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, kind: 'unsupported-media-type' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, kind: 'unsupported-media-type' },
  FST_ERR_BAD_URL: { status: 400, kind: 'bad-url' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, kind: 'bad-request' },
}

/** Turns an Ajv/TypeBox error list into `{path, message}` pairs a client can act on. */
export function validationErrors(err: FastifyError): FieldError[] {
  const context = err.validationContext ?? 'body'
  return (err.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty
    const extra = (v.params as { additionalProperty?: string } | undefined)?.additionalProperty
    const path = `/${context}${v.instancePath}${missing ? `/${missing}` : ''}${extra ? `/${extra}` : ''}`
    return { path, message: v.message ?? 'is invalid' }
  })
}

export function problemBody(request: FastifyRequest, status: number, options: ProblemOptions = {}): ProblemBody {
  return {
    type: `urn:sluice:problem:${options.kind ?? (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/\W+/g, '-')}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(options.detail ? { detail: options.detail } : {}),
    instance: request.url.split('?')[0],
    requestId: request.id,
    ...(options.errors ? { errors: options.errors } : {}),
    ...options.extra,
  }
}

export function sendProblem(reply: FastifyReply, status: number, options: ProblemOptions = {}): FastifyReply {
  for (const [name, value] of Object.entries(options.headers ?? {})) reply.header(name, value)
  return reply.code(status).type('application/problem+json').send(problemBody(reply.request, status, options))
}

/** Maps any error to a status and problem options; 5xx details stay in the log. */
export function classifyError(err: FastifyError | HttpProblem | Error): { status: number; options: ProblemOptions } {
  if (err instanceof HttpProblem) return { status: err.statusCode, options: err.options }
  const fe = err as FastifyError
  if (fe.validation) {
    return { status: 400, options: { kind: 'validation', detail: 'request does not match the schema', errors: validationErrors(fe) } }
  }
  const known = fe.code ? FASTIFY_STATUS[fe.code] : undefined
  if (known) return { status: known.status, options: { kind: known.kind, detail: fe.message } }
  if (err instanceof SyntaxError) return { status: 400, options: { kind: 'invalid-json', detail: err.message } }
  const status = fe.statusCode ?? 500
  if (status >= 400 && status < 500) return { status, options: { detail: fe.message } }
  return { status: status >= 500 && status < 600 ? status : 500, options: {} }
}

/**
 * For every error handler, before it answers. Fastify asks for the connection to be closed
 * when the body could not be read (it is too large, say), but closing a socket with unread
 * bytes resets it, and the reset can reach the client before the answer: it sees a broken
 * pipe, not the 413, and an SDK retries the same batch for ever. Left open, Node discards
 * the rest of the body (within the server's request timeout) and the client reads the answer.
 */
export function keepConnectionForUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  if (!request.raw.complete) reply.removeHeader('connection')
}

/** Registers the error and not-found handlers on an app (or on an encapsulated plugin). */
export function useProblemJson(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, options } = classifyError(err)
    keepConnectionForUnreadBody(request, reply)
    if (status >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ status, code: err.code, detail: options.detail }, 'request rejected')
    return sendProblem(reply, status, options)
  })
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, { kind: 'not-found', detail: `no route ${request.method} ${request.url.split('?')[0]}` }),
  )
}
