/** The real entry scripts, spawned the way a user runs them, with no cluster anywhere. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = path.resolve(import.meta.dirname, '..')
const ZX = path.join(ROOT, 'node_modules', '.bin', 'zx')
const SCRIPTS = ['01-metallb', '02-traefik', '03-internal-routes', '04-verify', 'render', 'run-all', '99-teardown']
const VALID = path.join(ROOT, 'test', 'env', 'valid', 'test-cluster.env')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-cli-'))

/** A kubeconfig whose only server is a closed loopback port: any contact would fail loudly. */
const KUBECONFIG = path.join(tmp, 'kubeconfig')
fs.writeFileSync(
  KUBECONFIG,
  `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: nobody
  user: {token: not-a-secret}
contexts:
- name: homelab-test
  context: {cluster: nowhere, user: nobody}
- name: work-cluster
  context: {cluster: nowhere, user: nobody}
current-context: work-cluster
`,
)

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(ZX, [path.join('scripts', `${script}.ts`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tmp, KUBECONFIG, NO_COLOR: '1', ...env },
    timeout: 60_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

// ---
const help = suite('scripts: --help')

for (const script of SCRIPTS) {
  help(`${script} --help prints usage and exits 0 without reading any configuration`, () => {
    const r = run(script, ['--help'], { KUBECONFIG: '/nonexistent' })
    assert.is(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^Usage: npx zx scripts/${script}\\.ts`))
    assert.match(r.stdout, /Exit codes:/)
  })
}

help('04-verify and run-all offer --require-probe next to --no-probe', () => {
  for (const script of ['04-verify', 'run-all']) {
    const r = run(script, ['--help'])
    assert.match(r.stdout, /--no-probe /)
    assert.match(r.stdout, /--require-probe +.*cannot be reached from here/)
  }
})

help('04-verify and run-all offer --dns FORMAT, naming the formats', () => {
  for (const script of ['04-verify', 'run-all']) {
    const r = run(script, ['--help'])
    assert.match(r.stdout, /--dns FORMAT +print only the admin hosts' records for your LAN's DNS on stdout, in one format: hosts, dnsmasq, adguard, unbound/)
  }
})

help('an unknown flag is a usage error with a suggestion', () => {
  const r = run('02-traefik', ['--dryrun', '--env-file', VALID])
  assert.is(r.code, 2)
  assert.match(r.stderr, /unknown option --dryrun; did you mean --dry-run\?/)
})

help.run()

// ---
const config = suite('scripts: configuration errors need no cluster')

const BAD = path.join(ROOT, 'test', 'env', 'invalid', 'ip-leading-zero.env')

for (const script of ['01-metallb', '02-traefik', '03-internal-routes', '04-verify', 'run-all', '99-teardown']) {
  config(`${script} exits 2 naming the setting, before contacting anything`, () => {
    const r = run(script, ['--env-file', BAD])
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, /ERROR: configuration has 1 problem:\n {2}- INTERNAL_IP: "192\.168\.0\.020" is not an IPv4 address/)
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace')
  })
}

config('render writes nothing on a configuration error', () => {
  const out = path.join(tmp, 'render-bad')
  const r = run('render', ['--out', out, '--env-file', BAD])
  assert.is(r.code, 2)
  assert.not.ok(fs.existsSync(out))
})

config('render writes the three files with no cluster at all', () => {
  const out = path.join(tmp, 'render-ok')
  const r = run('render', ['--out', out, '--env-file', VALID], { KUBECONFIG: '/nonexistent' })
  assert.is(r.code, 0, r.stderr)
  assert.equal(fs.readdirSync(out).sort(), ['01-metallb.yaml', '02-traefik-values.yaml', '03-internal-routes.yaml'])
})

config('render without --out says what is missing', () => {
  const r = run('render', ['--env-file', VALID])
  assert.is(r.code, 2)
  assert.match(r.stderr, /--out DIR is required/)
})

config('a bad --timeout is a usage error', () => {
  const r = run('04-verify', ['--env-file', VALID, '--timeout', 'soon'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /--timeout soon: expected a whole number of seconds/)
})

config('--no-probe and --require-probe together are a usage error, before anything runs', () => {
  for (const script of ['04-verify', 'run-all']) {
    const r = run(script, ['--env-file', VALID, '--no-probe', '--require-probe'])
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, /--no-probe and --require-probe contradict each other/)
  }
})

config('--dns takes only the formats it knows, with a suggestion', () => {
  const unknown = run('04-verify', ['--env-file', VALID, '--dns', 'bind'])
  assert.is(unknown.code, 2, unknown.stderr)
  assert.match(unknown.stderr, /--dns bind: expected one of hosts, dnsmasq, adguard, unbound\n/)
  const typo = run('04-verify', ['--env-file', VALID, '--dns', 'unbund'])
  assert.is(typo.code, 2)
  assert.match(typo.stderr, /--dns unbund: expected one of hosts, dnsmasq, adguard, unbound; did you mean unbound\?/)
})

config('--json and --dns together are a usage error: both would print on stdout', () => {
  for (const script of ['04-verify', 'run-all']) {
    const r = run(script, ['--env-file', VALID, '--json', '--dns', 'hosts'])
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, /--json and --dns both print on stdout: drop one of them/)
  }
})

config.run()

// ---
const context = suite('scripts: only KUBE_CONTEXT is ever touched')

context('a current context other than KUBE_CONTEXT is refused, with the two ways out', () => {
  const r = run('01-metallb', ['--env-file', VALID])
  assert.is(r.code, 2)
  assert.match(r.stderr, /refusing to run: the current kubectl context is work-cluster but KUBE_CONTEXT is homelab-test/)
  assert.match(r.stderr, /kubectl config use-context homelab-test/)
  assert.match(r.stderr, /--context homelab-test/)
})

context('--context naming another cluster is refused', () => {
  const r = run('02-traefik', ['--env-file', VALID, '--context', 'work-cluster'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /refusing --context work-cluster: the configuration allows only KUBE_CONTEXT=homelab-test/)
})

context('a KUBE_CONTEXT missing from the kubeconfig is named, with the ones that exist', () => {
  const r = run('03-internal-routes', ['--env-file', VALID], { KUBE_CONTEXT: 'typo-context' })
  assert.is(r.code, 2)
  assert.match(r.stderr, /KUBE_CONTEXT=typo-context is not a context in your kubeconfig .*contexts there: homelab-test, work-cluster/)
})

context('--context KUBE_CONTEXT goes ahead; an unreachable API server is a clear error, not a stack trace', () => {
  const r = run('04-verify', ['--env-file', VALID, '--context', 'homelab-test', '--timeout', '5'])
  assert.is(r.code, 1)
  assert.match(r.stderr, /cannot reach the API server of context homelab-test \(https:\/\/127\.0\.0\.1:9\)/)
  assert.not.match(r.stderr, /\n\s+at /)
})

context.run()

// ---
const tools = suite('scripts: missing tools are named')

tools('without helm on PATH, 02-traefik says to install it (exit 3), before contacting the cluster', () => {
  // PATH holds only node: no helm, no kubectl
  const r = run('02-traefik', ['--env-file', VALID, '--context', 'homelab-test'], { PATH: path.dirname(process.execPath) })
  assert.is(r.code, 3, r.stderr)
  assert.match(r.stderr, /ERROR: helm is not installed or not on PATH\n {2}- install helm 3 or 4/)
})

tools.run()
