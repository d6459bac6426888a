import { readFileSync } from 'node:fs'

/** Peak resident set size of a process so far (VmHWM), in bytes; 0 when it is gone. */
export function peakRssBytes(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}
