import PinoPretty from 'pino-pretty'
import { createLogger, type Logger } from '@sluice/kit/logger'

/** Human-readable logs for commands run in a terminal. */
export function cliLogger(level: string): Logger {
  return createLogger({
    service: 'sluice',
    level,
    stream: PinoPretty({ colorize: process.stdout.isTTY, ignore: 'pid,hostname,service', translateTime: 'HH:MM:ss.l' }),
  })
}
