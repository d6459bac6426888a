import { commonSchema, httpSchema, jetstreamSchema, loadConfigOrExit, type LoadOptions } from '@sluice/kit/config'

export const ingestionSchema = {
  ...commonSchema,
  ...httpSchema(3001),
  ...jetstreamSchema,
  publishTimeoutMs: {
    doc: 'How long a request waits for JetStream to acknowledge its events before answering 503',
    format: 'positive-int',
    default: 5_000,
    env: 'PUBLISH_TIMEOUT_MS',
  },
  bodyLimitBytes: {
    doc: 'Largest request body accepted (after gzip decompression); a 50,000-event publisher array is about 25 MB',
    format: 'positive-int',
    default: 64 * 1024 * 1024,
    env: 'BODY_LIMIT_BYTES',
  },
}

export type IngestionConfig = ReturnType<typeof loadIngestionConfig>

export function loadIngestionConfig(options: LoadOptions = {}) {
  return loadConfigOrExit(ingestionSchema, options)
}
