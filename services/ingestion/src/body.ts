import { isUtf8 } from 'node:buffer'
import type { Readable, Transform } from 'node:stream'
import { createGunzip, createInflate, createBrotliDecompress } from 'node:zlib'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { HttpProblem } from '@sluice/kit/problem'

/**
 * Request bodies: JSON sent as `application/json` or `text/plain` (sendBeacon), plain or
 * gzip/deflate/br-encoded. The size limit counts decompressed bytes, and decompression
 * stops as soon as it is passed, so a gzip bomb costs at most the limit. The body is
 * read in full before parsing (JSON needs it) and must be UTF-8.
 */

/**
 * Bytes of request bodies held at once, across requests (raw text, then parsed objects
 * several times that size): past the budget a new body gets a 503 to retry, instead of
 * concurrent large posts taking the process out of memory.
 */
export class BodyBudget {
  used = 0
  constructor(readonly max: number) {}

  take(bytes: number): boolean {
    if (this.used + bytes > this.max) return false
    this.used += bytes
    return true
  }

  give(bytes: number): void {
    this.used -= bytes
  }
}

/** What one request holds of the budget, given back when its response closes. */
interface Reservation {
  bytes: number
}

export interface BodyInfo {
  /** Decompressed size. */
  bytes: number
  /** The text holds a `\u0000` or surrogate escape: strings need a look before storing. */
  suspectStrings: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    bodyInfo: BodyInfo | undefined
    bodyReservation: Reservation | undefined
  }
}

function busy(max: number): HttpProblem {
  return new HttpProblem(503, {
    kind: 'busy',
    detail: `ingestion holds ${max} bytes of request bodies already (BODY_BYTES_IN_FLIGHT); retry shortly`,
    headers: { 'retry-after': '1' },
  })
}

const JSON_TYPES = ['application/json', 'text/plain']
const JSON_SUFFIX = /^application\/[\w.+-]+\+json$/

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem(413, { kind: 'body-too-large', detail: `the request body is larger than ${limit} bytes (BODY_LIMIT_BYTES, counted after decompression)`, extra: { limit } })
}

/** The client went away mid-body: nobody will read the answer, but it is no server error. */
function aborted(): HttpProblem {
  return new HttpProblem(400, { kind: 'request-aborted', detail: 'the client closed the connection before the body arrived' })
}

function decoderFor(encoding: string | undefined): Transform | undefined {
  switch ((encoding ?? 'identity').trim().toLowerCase()) {
    case 'identity':
    case '':
      return undefined
    case 'gzip':
    case 'x-gzip':
      return createGunzip()
    case 'deflate':
      return createInflate()
    case 'br':
      return createBrotliDecompress()
    default:
      throw new HttpProblem(415, { kind: 'unsupported-content-encoding', detail: `Content-Encoding "${String(encoding).slice(0, 32)}" is not supported: use gzip, deflate, br or none` })
  }
}

/** Reads the whole body, decompressing it, within `limit` decompressed bytes (and the shared budget). */
export function readBody(request: FastifyRequest, payload: Readable, limit: number, budget?: BodyBudget): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) return reject(tooLarge(limit))
    let decoder: Transform | undefined
    try {
      decoder = decoderFor(request.headers['content-encoding'])
    } catch (err) {
      return reject(err instanceof Error ? err : new Error(String(err)))
    }
    const source: Readable = decoder ?? payload
    const chunks: Buffer[] = []
    let total = 0
    let settled = false
    const finish = (err: Error | undefined) => {
      if (settled) return
      settled = true
      source.removeListener('data', onData)
      if (decoder) {
        payload.unpipe(decoder)
        decoder.destroy()
      }
      // The rest of an unread body is left to Node, which discards it once the response
      // is sent; destroying the request would lose the socket the answer goes out on.
      if (err) reject(err)
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))
    }
    const reservation = request.bodyReservation
    const onData = (chunk: Buffer) => {
      total += chunk.length
      if (total > limit) finish(tooLarge(limit))
      else if (budget && reservation && !budget.take(chunk.length)) finish(busy(budget.max))
      else {
        if (reservation) reservation.bytes += chunk.length
        chunks.push(chunk)
      }
    }
    source.on('data', onData)
    source.once('end', () => finish(undefined))
    source.once('error', (err: Error) =>
      finish(decoder ? new HttpProblem(400, { kind: 'invalid-encoding', detail: `the body is not valid ${String(request.headers['content-encoding'])}: ${err.message}` }) : aborted()),
    )
    if (decoder) {
      payload.once('error', () => finish(aborted()))
      payload.pipe(decoder)
    }
  })
}

const ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/

/** Deeper than this, a body is refused before parsing (events are held to MAX_PROPERTY_DEPTH one by one). */
export const MAX_BODY_NESTING = 100

export interface ShapeLimits {
  /** Objects and arrays a body may hold in all. */
  maxContainers: number
}

/**
 * One pass over the bytes before `JSON.parse`, which has no limits of its own: 64 MB of
 * `[[[[…` takes V8 25 s and 2 GB to parse, and 64 MB of `[],[],…` twenty million
 * objects. Nesting and the number of objects/arrays are counted outside strings (~1 ns
 * a byte, a sixth of the parse). Throws a 400/413 naming the limit.
 */
export function checkShape(b: Uint8Array, { maxContainers }: ShapeLimits): void {
  let depth = 0
  let containers = 0
  let inString = false
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!
    if (inString) {
      if (c === 92 /* \\ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > MAX_BODY_NESTING) throw new HttpProblem(400, { kind: 'too-deep', detail: `the body nests objects and arrays deeper than ${MAX_BODY_NESTING} levels` })
      if (++containers > maxContainers) throw new HttpProblem(413, { kind: 'too-many-objects', detail: `the body holds more than ${maxContainers} objects and arrays (50 per event of MAX_EVENTS_PER_REQUEST)`, extra: { limit: maxContainers } })
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--
  }
}

/** UTF-8 bytes to a parsed JSON value; 400 for invalid UTF-8, empty bodies and bad JSON. */
export function parseJson(buffer: Buffer, shape: ShapeLimits = { maxContainers: Number.MAX_SAFE_INTEGER }): { value: unknown; suspectStrings: boolean } {
  if (buffer.length === 0) throw new HttpProblem(400, { kind: 'empty-body', detail: 'the request body is empty' })
  if (!isUtf8(buffer)) throw new HttpProblem(400, { kind: 'invalid-utf8', detail: 'the request body is not valid UTF-8' })
  checkShape(buffer, shape)
  let text = buffer.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    // V8's message quotes the input; the body may hold a key, so only the position is told.
    const position = /position (\d+)/.exec((err as Error).message)?.[1]
    throw new HttpProblem(400, { kind: 'invalid-json', detail: `the body is not valid JSON${position ? ` (at position ${position})` : ''}` })
  }
  return { value, suspectStrings: text.includes('\\u') && ESCAPE.test(text) }
}

export interface BodySettings extends ShapeLimits {
  /** Largest body, decompressed. */
  limit: number
  /** Bytes of bodies held at once across requests. */
  budget: number
}

/** Replaces Fastify's body parsers with the ones above, for every JSON-ish content type. */
export function useJsonBodies(app: FastifyInstance, { limit, budget: max, maxContainers }: BodySettings): void {
  const budget = new BodyBudget(Math.max(max, limit))
  app.decorateRequest('bodyInfo', undefined)
  app.decorateRequest('bodyReservation', undefined)
  app.addHook('preParsing', (request, reply, payload, done) => {
    const reservation: Reservation = { bytes: 0 }
    request.bodyReservation = reservation
    // 'close' comes once the response is sent or the connection is gone, whichever happens.
    reply.raw.once('close', () => {
      budget.give(reservation.bytes)
      reservation.bytes = 0
    })
    done(null, payload)
  })
  app.removeAllContentTypeParsers()
  const parser = async (request: FastifyRequest, payload: Readable) => {
    const buffer = await readBody(request, payload, limit, budget)
    const { value, suspectStrings } = parseJson(buffer, { maxContainers })
    request.bodyInfo = { bytes: buffer.length, suspectStrings }
    return value
  }
  app.addContentTypeParser(JSON_TYPES, parser)
  app.addContentTypeParser(JSON_SUFFIX, parser)
}
