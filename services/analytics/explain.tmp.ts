import pg from 'pg'
const [,, sqlModule, name, ...args] = process.argv
const mod = await import(sqlModule!)
const client = new pg.Client({ connectionString: 'postgres://root@127.0.0.1:5432/sluice_bench10m' })
await client.connect()
await client.query("SET jit = off; SET work_mem = '64MB'; SET random_page_cost = 1.1")
const fake = { query: async (sql: string, params: unknown[]) => {
  const { rows } = await client.query('EXPLAIN (ANALYZE, BUFFERS) ' + sql, params)
  console.log(rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n'))
  return { rows: [{}] }
} }
const fn = mod[name!]
await fn(fake, ...args.map((a) => JSON.parse(a, (_k, v) => (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? new Date(v) : v))))
await client.end()
