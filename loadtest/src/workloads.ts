import type { Workload } from './drive.js'
import { publisherTemplates, singleEventTemplates } from './scenarios/ingestion.js'
import { mixedTemplates } from './scenarios/mixed.js'
import { sdkTemplates } from './scenarios/sdk.js'

/**
 * The load-test scenarios, by name:
 *
 *   publisher  arrays of 1,000–50,000 Facebook/TikTok events (formats.md §1), 2 % repeats,
 *              one post in ten with a corrupted event; as fast as answered on 2
 *              connections, or at `rate` events/s as one post a second (sizes 1,000 …
 *              2 × rate − 1,000, so the mean is the rate)
 *   single     one native event per POST /v1/events, 64 connections
 *   sdk        Amplitude HTTP V2 batches of 200 as @amplitude/analytics-node sends them, 16 connections
 *   mixed      arrays of 1–20 engagement and marketplace events (3 : 1), 32 connections
 */
export const SCENARIOS = ['publisher', 'single', 'sdk', 'mixed'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface WorkloadOptions {
  connections?: number
  /** Events per second to offer (publisher: one post a second of that mean size). */
  rate?: number
}

export async function workload(name: ScenarioName, { connections, rate }: WorkloadOptions = {}): Promise<Workload> {
  switch (name) {
    case 'publisher':
      if (rate) {
        const max = Math.max(1_000, 2 * rate - 1_000)
        return { name: `publisher@${rate}`, path: '/v1/events', templates: publisherTemplates(20, { min: Math.min(1_000, max), max }), connections: connections ?? 2, requestsPerSecond: 1 }
      }
      return { name, path: '/v1/events', templates: publisherTemplates(), connections: connections ?? 2 }
    case 'single':
      return { name, path: '/v1/events', templates: singleEventTemplates(), connections: connections ?? 64, ...(rate ? { requestsPerSecond: rate } : {}) }
    case 'sdk': {
      const templates = await sdkTemplates()
      return { name, path: '/2/httpapi', templates, connections: connections ?? 16, ...(rate ? { requestsPerSecond: Math.max(1, Math.round(rate / 200)) } : {}) }
    }
    case 'mixed': {
      const templates = mixedTemplates()
      const mean = templates.reduce((a, t) => a + t.events, 0) / templates.length
      return { name, path: '/v1/events', templates, connections: connections ?? 32, ...(rate ? { requestsPerSecond: Math.max(1, Math.round(rate / mean)) } : {}) }
    }
  }
}
