import { collectDefaultMetrics, Registry } from 'prom-client'

export type { Registry }

/** One registry per process, passed to whatever registers metrics (never the global one). */
export function createRegistry(service: string, { defaults = true } = {}): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  if (defaults) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 })
  return registry
}
