import { Gauge, type Registry } from 'prom-client'
import type { Pool } from './pg.js'

/**
 * A pool's use, read when /metrics is scraped: clients open, idle and the pool's limit, and
 * checkouts waiting for a client. (open − idle) / max near 1 with waiters means the pool,
 * not PostgreSQL, is what requests queue on.
 */
export function poolMetrics(registry: Registry, pool: Pool, max: number): void {
  const registers = [registry]
  new Gauge({ name: 'sluice_pg_pool_clients', help: 'PostgreSQL clients the pool has open (idle or checked out)', registers, collect() { this.set(pool.totalCount) } })
  new Gauge({ name: 'sluice_pg_pool_idle_clients', help: 'Open PostgreSQL clients not checked out', registers, collect() { this.set(pool.idleCount) } })
  new Gauge({ name: 'sluice_pg_pool_waiting', help: 'Checkouts waiting for a PostgreSQL client', registers, collect() { this.set(pool.waitingCount) } })
  new Gauge({ name: 'sluice_pg_pool_max_clients', help: 'Most PostgreSQL clients the pool may open', registers, collect() { this.set(max) } })
}
