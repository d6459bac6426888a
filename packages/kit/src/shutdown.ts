import closeWithGrace from 'close-with-grace'
import type { Logger } from './logger.js'

/**
 * Runs `close` once on SIGTERM/SIGINT (or an uncaught error), bounded by `timeoutMs`;
 * a second signal exits at once.
 */
export function onShutdown(log: Logger, timeoutMs: number, close: () => Promise<void>): void {
  closeWithGrace(
    {
      delay: timeoutMs,
      logger: { error: (m: unknown) => log.error(m) },
    },
    async ({ signal, err }) => {
      if (err) log.error({ err }, 'shutting down after an uncaught error')
      else log.info({ signal }, 'shutting down')
      await close()
      log.info('stopped')
    },
  )
}
