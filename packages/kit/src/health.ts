import type { FastifyInstance } from 'fastify'

/**
 * `/health/liveness` answers while the event loop runs; `/health/readiness` runs every
 * dependency check (each bounded in time) and answers 503 naming the ones that failed.
 */

export type HealthCheck = () => Promise<void> | void

export interface HealthOptions {
  checks: Record<string, HealthCheck>
  timeoutMs?: number
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.resolve().then(check),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return null
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  } finally {
    clearTimeout(timer)
  }
}

export async function readiness(checks: Record<string, HealthCheck>, timeoutMs = 2_000) {
  const names = Object.keys(checks)
  const results = await Promise.all(names.map((name) => runCheck(checks[name]!, timeoutMs)))
  const report: Record<string, { ok: boolean; error?: string }> = {}
  names.forEach((name, i) => {
    const error = results[i]
    report[name] = error === null || error === undefined ? { ok: true } : { ok: false, error }
  })
  return { ready: results.every((r) => r === null), checks: report }
}

const HealthReport = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'not ready'] },
    checks: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { ok: { type: 'boolean' }, error: { type: 'string' } },
        required: ['ok'],
      },
    },
  },
  required: ['status'],
} as const

export async function healthRoutes(app: FastifyInstance, { checks, timeoutMs = 2_000 }: HealthOptions): Promise<void> {
  app.get('/health/liveness', { schema: { tags: ['health'], summary: 'The process is alive', response: { 200: HealthReport } } }, async () => ({ status: 'ok' }))
  app.get(
    '/health/readiness',
    { schema: { tags: ['health'], summary: 'Every dependency answers', response: { 200: HealthReport, 503: HealthReport } } },
    async (_request, reply) => {
      const { ready, checks: report } = await readiness(checks, timeoutMs)
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'not ready', checks: report })
    },
  )
}
