import pg from 'pg'

/** The URL of database `name` on the server `serverUrl` points at (same user, host, port). */
export function databaseOn(serverUrl: string, name: string): string {
  const u = new URL(serverUrl)
  u.pathname = `/${name}`
  return u.toString()
}

/** Runs `fn` on a connection to that server's `postgres` database (to create or drop the benchmarks' own). */
export async function withAdmin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: databaseOn(serverUrl, 'postgres') })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}
