import { pino, type LoggerOptions } from 'pino'
import type { FastifyBaseLogger } from 'fastify'

/** What every module takes: a pino logger, or a Fastify request's child of one. */
export type Logger = FastifyBaseLogger

const SECRET_QUERY = /([?&](?:writeKey|write_key|api_key|apiKey|token)=)[^&#]*/gi

/** Removes write keys and tokens that beacons put in the query string. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]')
}

/**
 * Paths that may hold a secret in anything we log. Request bodies are never logged, but
 * a route that logs an object taken from one must not leak a key either.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-write-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-write-key"]',
  'writeKey',
  'api_key',
  '*.writeKey',
  '*.api_key',
  'password',
  '*.password',
]

export interface LoggerSettings {
  service: string
  level: string
  /** Extra pino options (tests pass a destination through `stream`). */
  stream?: pino.DestinationStream
}

export function createLogger({ service, level, stream }: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      err: pino.stdSerializers.err,
      req: (req: { method: string; url: string; id: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }
  return stream ? pino(options, stream) : pino(options)
}
