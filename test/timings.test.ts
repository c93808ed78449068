/** --timings, and what a script loads before it can answer (lib/run/cli.ts, lib/base/timings.ts). */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { enableTimings, formatTimings, recordSpan, timed } from '../lib/base/timings.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const BAD = path.join(ROOT, 'test', 'env', 'invalid', 'ip-leading-zero.env')
const VALID = path.join(ROOT, 'test', 'env', 'valid', 'test-cluster.env')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-timings-'))
/** A kubeconfig whose only server is a closed loopback port. */
const KUBECONFIG = path.join(tmp, 'kubeconfig')
fs.writeFileSync(
  KUBECONFIG,
  `apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: nobody, user: {token: not-a-secret}}]
contexts: [{name: homelab-test, context: {cluster: nowhere, user: nobody}}]
current-context: homelab-test
`,
)

/** A script started the way make starts it: plain node, no zx CLI. */
function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [path.join('scripts', `${script}.ts`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: '/nonexistent', KUBECONFIG: '/nonexistent', NO_COLOR: '1', ...env },
    timeout: 60_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

// ---
const spans = suite('timings: spans')

spans('lists spans by start, with a total, and records a failed action too', async () => {
  enableTimings()
  recordSpan('second', 20, 25)
  recordSpan('first', 10, 40)
  await timed('throws', async () => {
    throw new Error('no')
  }).catch(() => undefined)
  const lines = formatTimings(100).split('\n')
  assert.match(lines[1], /^ +10 ms \+ +30 ms {2}first$/)
  assert.match(lines[2], /^ +20 ms \+ +5 ms {2}second$/)
  assert.match(lines[3], /throws$/)
  assert.match(lines[4], /^ +100 ms total$/)
})

spans.run()

// ---
const scripts = suite('timings: scripts answer before loading the cluster client')

scripts('a configuration error is reported before cluster.ts (the kubeconfig and the API client) loads', () => {
  const r = run('02-traefik', ['--env-file', BAD, '--timings'])
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /INTERNAL_IP: "192\.168\.0\.020" is not an IPv4 address/)
  assert.match(r.stderr, /start-up \(node, the script and lib\/run\/cli\.ts\)\n.*flags and configuration\n.*total$/m)
  assert.not.match(r.stderr, /import cluster\.ts/)
})

scripts('a bad flag value is a usage error before the configuration is read', () => {
  const r = run('run-all', ['--env-file', BAD, '--timeout', '0'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /--timeout 0: expected a whole number of seconds/)
  assert.not.match(r.stderr, /INTERNAL_IP/)
})

scripts('--timings shows the cluster client loading, the connection and each spawned command', () => {
  // A helm that knows no chart repository: 02-traefik asks it (`helm repo list`) after connecting,
  // before any API call, and stops there
  const bin = path.join(tmp, 'bin')
  fs.mkdirSync(bin, { recursive: true })
  fs.symlinkSync(spawnSync('bash', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim(), path.join(bin, 'bash'))
  fs.writeFileSync(path.join(bin, 'helm'), '#!/bin/bash\nexit 1\n', { mode: 0o755 })
  const r = run('02-traefik', ['--env-file', VALID, '--context', 'homelab-test', '--timings'], {
    PATH: `${path.dirname(process.execPath)}:${bin}`,
    KUBECONFIG,
    TRAEFIK_CHART: 'traefik/traefik',
    HELM_REPOSITORY_CONFIG: path.join(tmp, 'no-repositories.yaml'),
  })
  assert.is(r.code, 3, r.stderr)
  assert.match(r.stderr, /import cluster\.ts \(kubeconfig and API client\)/)
  assert.match(r.stderr, /connect \(kubeconfig, context homelab-test\)/)
  assert.match(r.stderr, /\$ helm repo list .*\(exit 1\)/)
})

scripts('without --timings nothing of it is printed', () => {
  const r = run('04-verify', ['--env-file', BAD])
  assert.is(r.code, 2)
  assert.not.match(r.stderr, /timings/)
})

scripts.run()
