import type { Readable } from 'node:stream'

const NEWLINE = 0x0a
const CR = 0x0d

/**
 * The lines of a stream of UTF-8 bytes (without their `\n` or `\r\n`), as they arrive:
 * at most one partial line is held between chunks. A last line without a newline counts.
 */
export async function* lines(stream: Readable): AsyncGenerator<string> {
  let rest: Buffer | undefined
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    let start = 0
    let end = buf.indexOf(NEWLINE, start)
    while (end >= 0) {
      yield buf.toString('utf8', start, end > start && buf[end - 1] === CR ? end - 1 : end)
      start = end + 1
      end = buf.indexOf(NEWLINE, start)
    }
    rest = start < buf.length ? buf.subarray(start) : undefined
  }
  if (rest && rest.length > 0) yield rest.toString('utf8', 0, rest[rest.length - 1] === CR ? rest.length - 1 : rest.length)
}
