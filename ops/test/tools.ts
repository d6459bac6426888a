import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childEnvironment } from '@sluice/kit/config'

/** The repository root (ops/test/ → ../..). */
export const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Runs an ops tool and returns its result. A missing tool fails the test with how to
 * install it — these tests never skip (.ci/run installs both on a clean machine).
 */
export function run(tool: 'docker-compose' | 'promtool' | 'python3', args: string[], options: { /** Added to this process's environment. */ env?: Record<string, string>; /** Taken out of it. */ unset?: string[]; input?: string } = {}) {
  const env = childEnvironment(options.env ?? {})
  for (const name of options.unset ?? []) delete env[name]
  const result = spawnSync(tool, args, { cwd: root, encoding: 'utf8', env, input: options.input, maxBuffer: 64 * 1024 * 1024 })
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    const pkg = tool === 'promtool' ? 'prometheus' : tool
    throw new Error(`${tool} is not installed: apt-get install -y ${pkg} (.ci/run does this on CI)`)
  }
  if (result.error) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/**
 * YAML → JSON through PyYAML, which docker-compose itself depends on (python3-yaml): the
 * repository has no YAML parser of its own and these files need no other.
 */
export function parseYaml(text: string): unknown {
  const { status, stdout, stderr } = run('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: text })
  if (status !== 0) throw new Error(`YAML did not parse: ${stderr}`)
  return JSON.parse(stdout)
}
