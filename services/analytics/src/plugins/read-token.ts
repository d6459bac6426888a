import { timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import { HttpProblem } from '@sluice/kit/problem'

export interface ReadTokenOptions {
  /** Accepted tokens; none = open. */
  tokens: string[]
}

function matches(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** With tokens configured, every /v1 request needs `Authorization: Bearer <token>`. */
export default fp<ReadTokenOptions>(
  async (app, { tokens }) => {
    if (tokens.length === 0) return
    const expected = tokens.map((t) => Buffer.from(t))
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/v1/')) return
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
      const given = match ? Buffer.from(match[1]!) : undefined
      if (!given || !expected.some((e) => matches(given, e))) {
        throw new HttpProblem(401, {
          kind: 'unauthorized',
          detail: 'this read API needs a read token: Authorization: Bearer <token>',
          headers: { 'www-authenticate': 'Bearer realm="sluice-analytics"' },
        })
      }
    })
  },
  { name: 'read-token' },
)
