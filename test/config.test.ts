import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ACME_DIRECTORIES, SETTINGS } from '../lib/config/config.ts'
import { loadConfig } from '../lib/config/load.ts'
import { ConfigError } from '../lib/base/errors.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const ENV_DIR = path.join(ROOT, 'test', 'env')
const load = (file: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ envFile: file, env, cwd: ROOT })

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.details
    throw err
  }
  assert.unreachable('expected a ConfigError')
  return []
}

// ---
const valid = suite('config: valid env files')

for (const file of fs.readdirSync(path.join(ENV_DIR, 'valid'))) {
  valid(`${file} loads`, () => {
    const config = load(path.join(ENV_DIR, 'valid', file))
    assert.ok(config.kubeContext.length > 0)
  })
}

valid('defaults fill every optional setting', () => {
  const config = load(path.join(ENV_DIR, 'valid', 'minimal.env'))
  assert.is(config.acmeCaServer, ACME_DIRECTORIES.production)
  assert.equal(config.acmeChallenge, { type: 'http' })
  assert.is(config.traefikNamespace, 'traefik')
  assert.equal(config.traefikChart, { kind: 'repo', ref: 'traefik/traefik', repo: 'traefik' })
  assert.is(config.traefikChartVersion, '41.3.0')
  assert.is(config.traefikChartShape, 'auto')
  assert.is(config.metallbNamespace, 'metallb-system')
  assert.is(config.metallbAnnotationPrefix, 'metallb.io')
  assert.is(config.storageClass, 'longhorn')
  assert.equal(config.internalRoutes, [
    { name: 'argocd', namespace: 'argocd', service: 'argocd-server', port: 80 },
    { name: 'longhorn', namespace: 'longhorn-system', service: 'longhorn-frontend', port: 80 },
  ])
  assert.is(config.traefikPhoneHome, false)
  assert.is(config.publicProbeHost, '')
  assert.is(config.admissionGuard, 'deny')
})

valid('every setting is parsed from the full file', () => {
  const config = load(path.join(ENV_DIR, 'valid', 'full.env'))
  assert.is(config.acmeCaServer, ACME_DIRECTORIES.staging)
  assert.equal(config.acmeChallenge, { type: 'dns', provider: 'cloudflare' })
  assert.equal(config.traefikChart, { kind: 'oci', ref: 'oci://ghcr.io/traefik/helm/traefik' })
  assert.is(config.metallbAnnotationPrefix, 'metallb.universe.tf')
  assert.equal(config.internalRoutes[1], { name: 'grafana', namespace: 'monitoring', service: 'grafana', port: 3000 })
  assert.is(config.traefikPhoneHome, true)
  assert.is(config.publicProbeHost, 'blog.example.org')
  assert.is(config.admissionGuard, 'warn')
})

valid('ADMISSION_GUARD takes off, warn and deny', () => {
  for (const mode of ['off', 'warn', 'deny']) {
    assert.is(load(path.join(ENV_DIR, 'valid', 'minimal.env'), { ADMISSION_GUARD: mode }).admissionGuard, mode)
  }
  const problems = problemsOf(() => load(path.join(ENV_DIR, 'valid', 'minimal.env'), { ADMISSION_GUARD: 'Deny' }))
  assert.equal(problems.filter((p) => p.startsWith('ADMISSION_GUARD:')).length, 1, problems.join('\n'))
  assert.match(problems.join('\n'), /ADMISSION_GUARD: "Deny" is not deny, warn or off/)
})

valid('CERTIFICATES is acme with one replica by default; cert-manager takes 2 unless TRAEFIK_REPLICAS says otherwise', () => {
  const minimal = load(path.join(ENV_DIR, 'valid', 'minimal.env'))
  assert.equal([minimal.certificates, minimal.traefikReplicas], ['acme', 1])
  assert.equal([load(path.join(ENV_DIR, 'valid', 'cert-manager-dns.env')).certificates, load(path.join(ENV_DIR, 'valid', 'cert-manager-dns.env')).traefikReplicas], ['cert-manager', 2])
  assert.is(load(path.join(ENV_DIR, 'valid', 'cert-manager.env')).traefikReplicas, 3)
  assert.is(load(path.join(ENV_DIR, 'valid', 'minimal.env'), { TRAEFIK_REPLICAS: '1' }).traefikReplicas, 1)
  assert.is(load(path.join(ENV_DIR, 'valid', 'minimal.env'), { CERTIFICATES: 'cert-manager', TRAEFIK_REPLICAS: '1' }).traefikReplicas, 1)
})

valid('ROUTES_API is ingressroute by default; gateway with cert-manager loads', () => {
  assert.is(load(path.join(ENV_DIR, 'valid', 'minimal.env')).routesApi, 'ingressroute')
  assert.is(load(path.join(ENV_DIR, 'valid', 'gateway.env')).routesApi, 'gateway')
  assert.is(load(path.join(ENV_DIR, 'valid', 'minimal.env'), { CERTIFICATES: 'cert-manager', ROUTES_API: 'gateway' }).routesApi, 'gateway')
})

valid('ROUTES_API=gateway with CERTIFICATES=acme is refused, naming the fix', () => {
  const problems = problemsOf(() => load(path.join(ENV_DIR, 'valid', 'minimal.env'), { ROUTES_API: 'gateway' }))
  assert.ok(problems.some((p) => p.startsWith('ROUTES_API:') && p.includes('set CERTIFICATES=cert-manager')), problems.join('\n'))
})

valid('a local chart path resolves against the working directory', () => {
  const config = load(path.join(ENV_DIR, 'valid', 'test-cluster.env'))
  assert.equal(config.traefikChart, { kind: 'local', ref: path.join(ROOT, 'test', 'chart', 'traefik-41.3.0') })
})

valid('INTERNAL_ROUTES=none leaves only the dashboard; a trailing dot on DOMAIN is dropped', () => {
  const config = load(path.join(ENV_DIR, 'valid', 'quoted-and-no-routes.env'))
  assert.equal(config.internalRoutes, [])
  assert.is(config.domain, 'home.arpa')
  assert.is(config.kubeContext, 'k3s-default')
})

valid('the environment overrides the file', () => {
  const config = load(path.join(ENV_DIR, 'valid', 'minimal.env'), { INTERNAL_IP: '192.168.0.210', TRAEFIK_NAMESPACE: 'edge' })
  assert.is(config.internalIp, '192.168.0.210')
  assert.is(config.traefikNamespace, 'edge')
})

valid('without --env-file and without .env, the environment alone is enough', () => {
  const empty = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.cfg-'))
  try {
    const config = loadConfig({
      cwd: empty,
      env: { KUBE_CONTEXT: 'c', INTERNAL_IP: '10.1.1.1', EXTERNAL_IP: '10.1.1.2', DOMAIN: 'a.b', ACME_EMAIL: 'x@a.b' },
    })
    assert.is(config.domain, 'a.b')
  } finally {
    fs.rmSync(empty, { recursive: true })
  }
})

valid.run()

// ---
const invalid = suite('config: invalid env files (first line names the rule)')

for (const file of fs.readdirSync(path.join(ENV_DIR, 'invalid'))) {
  const full = path.join(ENV_DIR, 'invalid', file)
  const firstLine = fs.readFileSync(full, 'utf8').split('\n')[0]
  const expected = /^# rejects: (.+)$/.exec(firstLine)?.[1]
  invalid(`${file} is rejected: ${expected}`, () => {
    assert.ok(expected, `${file} must start with "# rejects: <message>"`)
    const problems = problemsOf(() => load(full))
    assert.ok(
      problems.some((p) => p.includes(expected!)),
      `expected a problem containing ${JSON.stringify(expected)}, got:\n${problems.join('\n')}`,
    )
  })
}

invalid('every problem is reported at once, one line each', () => {
  const problems = problemsOf(() =>
    loadConfig({ cwd: ROOT, envFile: path.join(ENV_DIR, 'valid', 'minimal.env'), env: { INTERNAL_IP: '1.2.3', DOMAIN: 'A B', ACME_CA: 'prod' } }),
  )
  assert.is(problems.length, 3)
  assert.ok(problems[0].startsWith('INTERNAL_IP: '))
  assert.ok(problems[1].startsWith('DOMAIN: '))
  assert.ok(problems[2].startsWith('ACME_CA: '))
  for (const p of problems) assert.not.match(p, /\n/)
})

invalid('a missing --env-file is an error naming the file', () => {
  const problems = problemsOf(() => load('no-such.env'))
  assert.match(problems[0], /--env-file no-such\.env: no such file/)
})

invalid('every problem names the variable it is about', () => {
  for (const file of fs.readdirSync(path.join(ENV_DIR, 'invalid'))) {
    for (const problem of problemsOf(() => load(path.join(ENV_DIR, 'invalid', file)))) {
      assert.match(problem, /^[A-Z_]+: /, `${file}: ${problem}`)
    }
  }
})

invalid.run()

// ---
const documented = suite('config: env.example')

documented('documents every variable the kit reads, and no other', () => {
  const text = fs.readFileSync(path.join(ROOT, 'env.example'), 'utf8')
  const named = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1])
  assert.equal([...new Set(named)].sort(), Object.keys(SETTINGS).sort())
})

documented('shows each default as the kit applies it', () => {
  const text = fs.readFileSync(path.join(ROOT, 'env.example'), 'utf8')
  for (const [name, setting] of Object.entries(SETTINGS)) {
    if (setting.default === undefined || setting.default === '') continue
    assert.ok(text.includes(`# ${name}=${setting.default}\n`), `env.example should show "# ${name}=${setting.default}"`)
  }
})

documented.run()
