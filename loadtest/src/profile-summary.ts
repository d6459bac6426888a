import { readFile } from 'node:fs/promises'

/**
 * `node --conditions=source --import tsx loadtest/src/profile-summary.ts <file.cpuprofile> [top]`:
 * where a V8 CPU profile spends its time — self time by function and by package.
 */

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

function area(url: string): string {
  if (!url) return '(native / V8)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  const ws = /\/(packages|services|loadtest)\/([^/]+)\//.exec(url)
  if (ws) return `sluice:${ws[2]}`
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/')
  return url
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: profile-summary <file.cpuprofile> [top]\n')
  process.exit(2)
}
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0))
const total = [...self.values()].reduce((a, b) => a + b, 0)

const byFunction = new Map<string, number>()
const byArea = new Map<string, number>()
for (const [id, us] of self) {
  const { callFrame } = byId.get(id)!
  const name = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(/^.*\/(node_modules|packages|services)\//, '$1/')}:${callFrame.lineNumber + 1}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + us)
  byArea.set(area(callFrame.url), (byArea.get(area(callFrame.url)) ?? 0) + us)
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`
const top = Number(topArg ?? 25)
process.stdout.write(`total sampled: ${(total / 1e6).toFixed(2)} s\n\nby area:\n`)
for (const [name, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`  ${pct(us)}  ${name}\n`)
process.stdout.write('\nby function (self time):\n')
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${name}\n`)
