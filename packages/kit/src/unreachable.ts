/**
 * What a process prints when PostgreSQL or NATS cannot be reached: which URL it tried,
 * why, and how to start the server, instead of a bare stack trace or a silent hang.
 */

export function redactCredentials(url: string): string {
  return url
    .split(',')
    .map((item) => {
      try {
        const u = new URL(item.trim())
        if (u.password) u.password = '***'
        return u.toString()
      } catch {
        return item
      }
    })
    .join(',')
}

const HOW_TO_START = {
  postgres:
    "start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; Docker: docker compose up -d postgres) or set DATABASE_URL",
  nats: 'start it with JetStream enabled (nats-server -js -sd <dir>; Docker: docker compose up -d nats) or set NATS_URL',
} as const

export class UnreachableError extends Error {
  override name = 'UnreachableError'
  constructor(
    readonly server: keyof typeof HOW_TO_START,
    url: string,
    cause: unknown,
  ) {
    const label = server === 'postgres' ? 'PostgreSQL' : 'NATS'
    const reason = cause instanceof Error ? cause.message || cause.name : String(cause)
    super(`cannot reach ${label} at ${redactCredentials(url)} (${reason}): ${HOW_TO_START[server]}`, { cause })
  }
}
