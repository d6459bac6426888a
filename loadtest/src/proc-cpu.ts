import { readFileSync } from 'node:fs'

/** CPU seconds a process has used so far (user + system), from /proc; 0 where there is none. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime in clock ticks (100 Hz)
  } catch {
    return 0
  }
}
