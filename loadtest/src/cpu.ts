import { readdir, readFile } from 'node:fs/promises'

/**
 * CPU time of the machine and of the processes a benchmark cares about (workers, its
 * PostgreSQL backends, nats-server), from /proc, so a result says where the cores went.
 * Only processes alive at both snapshots count: others' short-lived processes on a
 * shared machine must not leak into a group.
 */

export interface CpuSnapshot {
  at: number
  busy: number
  groups: Record<string, Map<number, number>>
}

const TICKS_PER_SECOND = 100

/** CPU clock ticks (1/100 s, user + system) a process has used, or undefined once it is gone. */
export async function processTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat; fields[] starts at field 3.
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** Pids whose command name (comm) is `name`. */
export async function pidsNamed(name: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')
    if (comm.trim() === name) pids.push(Number(entry))
  }
  return pids
}

export async function cpuSnapshot(groups: Record<string, number[]>): Promise<CpuSnapshot> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = (line[3] ?? 0) + (line[4] ?? 0)
  const total = line.reduce((a, b) => a + b, 0)
  const out: Record<string, Map<number, number>> = {}
  for (const [label, pids] of Object.entries(groups)) {
    out[label] = new Map()
    for (const pid of pids) {
      const ticks = await processTicks(pid)
      if (ticks !== undefined) out[label].set(pid, ticks)
    }
  }
  return { at: Date.now(), busy: total - idle, groups: out }
}

/** Cores used per group (1.0 = one core busy) between two snapshots. */
export function coresUsed(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const seconds = (b.at - a.at) / 1000
  const out: Record<string, number> = {}
  for (const [label, after] of Object.entries(b.groups)) {
    let ticks = 0
    for (const [pid, t] of after) {
      const before = a.groups[label]?.get(pid)
      if (before !== undefined) ticks += t - before
    }
    out[label] = round2(ticks / TICKS_PER_SECOND / seconds)
  }
  out.machine = round2((b.busy - a.busy) / TICKS_PER_SECOND / seconds)
  return out
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
