/**
 * The stand-in charts in test/chart/ against what the official Traefik charts rendered
 * (test/fixtures/traefik-chart-output/, recorded once with the real charts): same objects, same
 * fields, object by object. Needs only a helm binary, no cluster.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { chartShape } from '../lib/traefik/chart.ts'
import { loadConfig } from '../lib/config/load.ts'
import { traefikValues } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const OUTPUT = path.join(ROOT, 'test', 'fixtures', 'traefik-chart-output')
const STAND_INS = [
  { version: '33.2.1', values: 'values-33.yaml' },
  { version: '41.3.0', values: 'values-41.yaml' },
]
const standIn = (version: string) => path.join(ROOT, 'test', 'chart', `traefik-${version}`)

/** helm on PATH, else the test cluster's cached helm v3 (test/cluster/versions.env names its version). */
function findHelm(): { helm?: string; skip?: string } {
  if (spawnSync('helm', ['version', '--short'], { encoding: 'utf8' }).status === 0) return { helm: 'helm' }
  const versions = fs.readFileSync(path.join(ROOT, 'test', 'cluster', 'versions.env'), 'utf8')
  const version = /^HELM3_VERSION=(\S+)/m.exec(versions)?.[1]
  const cache = process.env.HOMELAB_INGRESS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'homelab-ingress')
  const cached = path.join(cache, 'bin', `helm-${version}`, 'helm')
  if (version && fs.existsSync(cached)) return { helm: cached }
  return { skip: `no helm: none on PATH and no ${cached} (npm run cluster:build builds it)` }
}

const { helm, skip } = findHelm()
if (skip) console.log(`\n  stand-in chart tests skipped: ${skip}\n`)

function runHelm(args: string[]) {
  const r = spawnSync(helm!, args, { cwd: ROOT, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type K8sObject = { kind: string; metadata: { name: string; namespace?: string } } & { [key: string]: Json }

/**
 * Objects of a multi-document YAML stream, keyed "kind namespace/name". Parsed as YAML 1.1, as
 * Kubernetes reads manifests, so that `yes` unquoted and `"yes"` stay different.
 */
function objectsByName(text: string, what: string): Map<string, K8sObject> {
  const objects = new Map<string, K8sObject>()
  for (const doc of YAML.parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`${what}: ${doc.errors[0].message}`)
    const o = doc.toJS() as K8sObject | null
    if (o === null) continue
    const key = `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`
    if (objects.has(key)) throw new Error(`${what}: two objects ${key}`)
    objects.set(key, o)
  }
  return objects
}

const isMap = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: Json | undefined) => JSON.stringify(v)
const step = (key: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

/** The `name` of every item when all items are maps with distinct names, else undefined. */
function names(list: Json[]): string[] | undefined {
  const out = list.map((item) => (isMap(item) && typeof item.name === 'string' ? item.name : undefined))
  if (out.some((n) => n === undefined) || new Set(out).size !== out.length) return undefined
  return out as string[]
}

/**
 * Every difference between what the real chart rendered and what the stand-in rendered, one line
 * each, with the path to it. A key whose value is null counts as absent (the API server stores no
 * nulls). Lists of named items (containers, ports, volumes, env) are paired by name and must also
 * keep the same order; other lists are compared item by item.
 */
function differences(real: Json | undefined, standIn: Json | undefined, at: string): string[] {
  if (isMap(real) && isMap(standIn)) {
    const keys = [...new Set([...Object.keys(real), ...Object.keys(standIn)])].sort()
    return keys.flatMap((key) => {
      const [r, s] = [real[key] ?? undefined, standIn[key] ?? undefined]
      if (r === undefined && s === undefined) return []
      if (s === undefined) return [`${at}${step(key)}: missing in the stand-in (real: ${show(r)})`]
      if (r === undefined) return [`${at}${step(key)}: only in the stand-in (${show(s)})`]
      return differences(r, s, `${at}${step(key)}`)
    })
  }
  if (Array.isArray(real) && Array.isArray(standIn)) {
    const [rn, sn] = [names(real), names(standIn)]
    if (rn && sn) {
      const out: string[] = []
      for (const [i, name] of rn.entries()) {
        const j = sn.indexOf(name)
        if (j < 0) out.push(`${at}[name=${name}]: missing in the stand-in (real: ${show(real[i])})`)
        else out.push(...differences(real[i], standIn[j], `${at}[name=${name}]`))
      }
      for (const [j, name] of sn.entries()) if (!rn.includes(name)) out.push(`${at}[name=${name}]: only in the stand-in (${show(standIn[j])})`)
      const [ro, so] = [rn.filter((n) => sn.includes(n)), sn.filter((n) => rn.includes(n))]
      if (show(ro) !== show(so)) out.push(`${at}: order differs: real ${show(ro)}, stand-in ${show(so)}`)
      return out
    }
    if (real.length === standIn.length) return real.flatMap((item, i) => differences(item, standIn[i], `${at}[${i}]`))
    const [rs, ss] = [real.map(show), standIn.map(show)]
    return [
      `${at}: real has ${real.length} items, the stand-in ${standIn.length}; only in the real one: ` +
        `[${rs.filter((x) => !ss.includes(x)).join(', ')}], only in the stand-in: [${ss.filter((x) => !rs.includes(x)).join(', ')}]`,
    ]
  }
  return show(real) === show(standIn) ? [] : [`${at}: real ${show(real)}, stand-in ${show(standIn)}`]
}

/** Differences between two renderings, object by object: missing and extra objects included. */
function compareRenderings(real: Map<string, K8sObject>, standIn: Map<string, K8sObject>): string[] {
  const out: string[] = []
  for (const [key, o] of real) {
    const s = standIn.get(key)
    if (!s) out.push(`${key}: missing in the stand-in`)
    else out.push(...differences(o as Json, s as Json, key))
  }
  for (const key of standIn.keys()) if (!real.has(key)) out.push(`${key}: only in the stand-in`)
  return out
}

/**
 * The properties a values schema error rejects as not allowed, as "a.b.key", sorted. Helm words
 * these differently by version: up to 3.18 "- ports.websecure: Additional property tls is not
 * allowed", from 3.19 "- at '/ports/websecure': additional properties 'tls' not allowed".
 */
function rejectedProperties(stderr: string): string[] {
  const out: string[] = []
  for (const line of stderr.split('\n')) {
    const old = /^- (\S+): Additional property (\S+) is not allowed/.exec(line.trim())
    const now = /^- at '([^']*)': additional properties (.+) not allowed/.exec(line.trim())
    if (old) out.push([...(old[1] === '(root)' ? [] : old[1].split('.')), old[2]].join('.'))
    if (now) for (const [, key] of now[2].matchAll(/'([^']+)'/g)) out.push([...now[1].split('/').filter(Boolean), key].join('.'))
  }
  return out.sort()
}

// ---
const same = suite('stand-in charts render the objects the real charts rendered')
const it = helm ? same : same.skip

for (const { version, values } of STAND_INS) {
  it(`${version}: values.yaml, values.schema.json and crds/ are byte copies of test/fixtures/traefik-chart-${version}/`, () => {
    const fixture = path.join(ROOT, 'test', 'fixtures', `traefik-chart-${version}`)
    const crds = fs.readdirSync(path.join(fixture, 'crds')).sort()
    assert.equal(fs.readdirSync(path.join(standIn(version), 'crds')).sort(), crds)
    for (const file of ['values.yaml', 'values.schema.json', ...crds.map((c) => path.join('crds', c))]) {
      assert.ok(fs.readFileSync(path.join(standIn(version), file)).equals(fs.readFileSync(path.join(fixture, file))), `${file} differs from the fixture`)
    }
  })

  it(`${version}: helm template with ${values} gives the objects of chart-${version}.yaml, field for field`, () => {
    const r = runHelm(['template', 'traefik', standIn(version), '-n', 'traefik', '-f', path.join(OUTPUT, values)])
    assert.is(r.code, 0, r.stderr)
    const real = objectsByName(fs.readFileSync(path.join(OUTPUT, `chart-${version}.yaml`), 'utf8'), `chart-${version}.yaml`)
    const diffs = compareRenderings(real, objectsByName(r.stdout, `stand-in ${version}`))
    assert.ok(diffs.length === 0, `the ${version} stand-in differs from the real chart in ${diffs.length} place(s):\n  ${diffs.join('\n  ')}`)
  })

  it(`${version}: helm lint passes with ${values}, and the chart's own defaults render`, () => {
    const lint = runHelm(['lint', standIn(version), '-f', path.join(OUTPUT, values)])
    assert.is(lint.code, 0, lint.stdout + lint.stderr)
    const defaults = runHelm(['template', 'traefik', standIn(version), '-n', 'traefik'])
    assert.is(defaults.code, 0, defaults.stderr)
  })
}

it('41.3.0 rejects the 33.x values for the reasons the real chart gave (chart-41.3.0-with-values-33.err)', () => {
  const r = runHelm(['template', 'traefik', standIn('41.3.0'), '-n', 'traefik', '-f', path.join(OUTPUT, 'values-33.yaml')])
  assert.is.not(r.code, 0, 'helm template accepted the 33.x values')
  assert.match(r.stderr, "values don't meet the specifications of the schema(s) in the following chart(s):\ntraefik:")
  const recorded = fs.readFileSync(path.join(OUTPUT, 'chart-41.3.0-with-values-33.err'), 'utf8')
  assert.equal(rejectedProperties(r.stderr), rejectedProperties(recorded), r.stderr)
})

/**
 * Keys the project sets beyond values-41.yaml. The expected results were read from the official
 * 41.3.0 templates and match what that chart renders for these values.
 */
const PROJECT_KEYS = {
  global: { checkNewVersion: true, sendAnonymousUsage: true },
  ports: { websecure: { asDefault: true, http: { middlewares: ['security-headers@kubernetescrd', 'other@file'] } } },
  service: {
    spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, externalTrafficPolicy: 'Local' },
    additionalServices: { internal: { spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, externalTrafficPolicy: 'Local' } } },
  },
  envFrom: [{ secretRef: { name: 'acme-dns' } }],
  certificatesResolvers: { letsencrypt: { acme: { httpChallenge: null, dnsChallenge: { provider: 'cloudflare' } } } },
  additionalArguments: ['--serversTransport.insecureSkipVerify=true'],
  providers: { kubernetesCRD: { allowExternalNameServices: true } },
  extraObjects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '{{ template "traefik.fullname" . }}-extra' }, data: { release: '{{ .Release.Name }}' } }],
}

it("41.3.0: the project's other keys come out as the official templates write them", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-standin-'))
  try {
    fs.writeFileSync(path.join(dir, 'project-keys.json'), JSON.stringify(PROJECT_KEYS))
    const r = runHelm(['template', 'traefik', standIn('41.3.0'), '-n', 'traefik', '-f', path.join(OUTPUT, 'values-41.yaml'), '-f', path.join(dir, 'project-keys.json')])
    assert.is(r.code, 0, r.stderr)
    const objects = objectsByName(r.stdout, 'stand-in 41.3.0')
    const deployment = objects.get('Deployment traefik/traefik') as any
    const container = deployment.spec.template.spec.containers[0]
    assert.equal(container.args, [
      '--global.sendAnonymousUsage',
      '--entryPoints.intweb.address=:8001/tcp',
      '--entryPoints.intwebsec.address=:8444/tcp',
      '--entryPoints.metrics.address=:9100/tcp',
      '--entryPoints.traefik.address=:8080/tcp',
      '--entryPoints.web.address=:8000/tcp',
      '--entryPoints.websecure.address=:8443/tcp',
      '--entryPoints.websecure.asDefault=true',
      '--api.dashboard=true',
      '--ping=true',
      '--metrics.prometheus=true',
      '--metrics.prometheus.entrypoint=metrics',
      '--providers.kubernetescrd',
      '--providers.kubernetescrd.allowExternalNameServices=true',
      '--providers.kubernetescrd.allowEmptyServices=true',
      '--providers.kubernetesingress',
      '--providers.kubernetesingress.allowEmptyServices=true',
      '--providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik',
      '--entryPoints.intwebsec.http.tls=true',
      '--entryPoints.websecure.http.middlewares=security-headers@kubernetescrd,other@file',
      '--entryPoints.websecure.http.tls=true',
      '--entryPoints.websecure.http.tls.certResolver=letsencrypt',
      '--log.level=INFO',
      '--certificatesresolvers.letsencrypt.acme.caServer=https://127.0.0.1:14000/dir',
      '--certificatesresolvers.letsencrypt.acme.dnsChallenge.provider=cloudflare',
      '--certificatesresolvers.letsencrypt.acme.email=ops@home.example',
      '--certificatesresolvers.letsencrypt.acme.storage=/data/acme.json',
      '--serversTransport.insecureSkipVerify=true',
    ])
    assert.equal(container.envFrom, [{ secretRef: { name: 'acme-dns' } }])
    for (const name of ['traefik', 'traefik-internal']) {
      const spec = (objects.get(`Service traefik/${name}`) as any).spec
      assert.equal([spec.type, spec.allocateLoadBalancerNodePorts, spec.externalTrafficPolicy], ['LoadBalancer', false, 'Local'], name)
    }
    assert.equal((objects.get('ConfigMap /traefik-extra') as any)?.data, { release: 'traefik' })
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})

same.run()

// ---
const kit = suite("the kit's own values through each stand-in (the real values schema judges them)")
const kitIt = helm ? kit : kit.skip
const kitConfig = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })

for (const { version } of STAND_INS) {
  kitIt(`${version}: the values the kit writes for it render, with the intent intact`, async () => {
    const shape = chartShape(version, 'test', 'auto')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-values-'))
    try {
      fs.writeFileSync(path.join(dir, 'values.yaml'), YAML.stringify(traefikValues(kitConfig, shape, version)))
      const r = runHelm(['template', 'traefik', standIn(version), '-n', 'traefik', '-f', path.join(dir, 'values.yaml')])
      assert.is(r.code, 0, r.stderr)
      const objects = objectsByName(r.stdout, `stand-in ${version} with the kit's values`)
      const services = ['traefik', 'traefik-internal'].map((name) => objects.get(`Service traefik/${name}`) as any)
      for (const svc of services) {
        assert.is(svc?.spec?.type, 'LoadBalancer', `${svc?.metadata?.name} type`)
        assert.is(svc?.spec?.allocateLoadBalancerNodePorts, false, `${svc?.metadata?.name} NodePorts`)
      }
      assert.equal(services[0].spec.ports.map((p: any) => p.targetPort), ['web', 'websecure'])
      assert.equal(services[1].spec.ports.map((p: any) => p.targetPort), ['intweb', 'intwebsec'])
      const deployment = objects.get('Deployment traefik/traefik') as any
      const args: string[] = deployment.spec.template.spec.containers[0].args
      assert.ok(args.includes('--entryPoints.intweb.asDefault=true') && args.includes('--entryPoints.intwebsec.asDefault=true'), 'asDefault')
      assert.not.ok(args.some((a) => /asDefault/.test(a) && /\.web(secure)?\./.test(a)), 'a public entrypoint is a default')
      assert.ok(args.some((a) => /^--global\.checkNewVersion=false$/i.test(a)), 'version check off')
      assert.not.ok(args.some((a) => /^--global\.sendAnonymousUsage(=true)?$/i.test(a)), 'usage report on')
      assert.ok(args.some((a) => /^--entryPoints\.websecure\.http\.tls\.certResolver=letsencrypt$/i.test(a)), 'websecure resolver')
      assert.is(deployment.spec.strategy.type, 'Recreate')
      // ADMIN_ALLOW_CIDRS: the allow-list Middleware comes with the release, on both admin entrypoints only.
      assert.ok(objects.get('Middleware traefik/admin-allowlist'), 'the allow-list Middleware')
      for (const ep of ['intweb', 'intwebsec']) assert.ok(args.includes(`--entryPoints.${ep}.http.middlewares=traefik-admin-allowlist@kubernetescrd`), ep)
      assert.not.ok(args.some((a) => /entryPoints\.web(secure)?\.http\.middlewares/.test(a)), 'a public entrypoint has the allow-list')
      assert.is(services[1].spec.externalTrafficPolicy, 'Local')
    } finally {
      fs.rmSync(dir, { recursive: true })
    }
  })
}

kitIt("41.3.0: gateway mode's values turn on the Gateway provider as the official chart's template does, with its ClusterRole rules", () => {
  const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: { CERTIFICATES: 'cert-manager', ROUTES_API: 'gateway' }, cwd: ROOT })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-values-'))
  try {
    fs.writeFileSync(path.join(dir, 'values.yaml'), YAML.stringify(traefikValues(config, '40-41', '41.3.0')))
    const r = runHelm(['template', 'traefik', standIn('41.3.0'), '-n', 'traefik', '-f', path.join(dir, 'values.yaml')])
    assert.is(r.code, 0, r.stderr)
    const objects = objectsByName(r.stdout, "stand-in 41.3.0 with gateway mode's values")
    const args: string[] = (objects.get('Deployment traefik/traefik') as any).spec.template.spec.containers[0].args
    // traefik/templates/_podtemplate.tpl of 41.3.0: the provider, and the status address from the chart's Service.
    assert.equal(args.filter((a) => a.startsWith('--providers.kubernetesgateway')), [
      '--providers.kubernetesgateway',
      '--providers.kubernetesgateway.statusaddress.service.name=traefik',
      '--providers.kubernetesgateway.statusaddress.service.namespace=traefik',
    ])
    assert.ok(args.includes('--providers.kubernetescrd'), 'the CRD provider stays on (the dashboard IngressRoute, the allow-list)')
    const rules: any[] = (objects.get('ClusterRole /traefik-traefik') as any).rules
    const gatewayRules = rules.filter((rule) => rule.apiGroups.includes('gateway.networking.k8s.io'))
    assert.equal(gatewayRules.map((rule) => rule.verbs), [['get', 'list', 'watch'], ['update']])
    assert.ok(gatewayRules[1].resources.includes('httproutes/status') && gatewayRules[1].resources.includes('gateways/status'))
    // The chart's own Gateway and GatewayClass are off: the kit makes its own.
    assert.not.ok([...objects.keys()].some((k) => k.startsWith('Gateway') ), 'a Gateway or GatewayClass from the chart')
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})

kit.run()

// ---
const comparison = suite('the comparison names every difference')

const REAL = `
kind: Deployment
metadata: { name: traefik, namespace: traefik }
spec:
  template:
    spec:
      containers:
        - name: traefik
          args: [--a, --b]
          ports: [{ name: web, containerPort: 8000 }, { name: websecure, containerPort: 8443 }]
          lifecycle: null
---
kind: Service
metadata: { name: traefik, namespace: traefik, labels: { helm.sh/chart: traefik-41.3.0 } }
`

comparison('the same objects in another order and with nulls dropped: no difference', () => {
  const standIn = REAL.split('---').reverse().join('---').replace('          lifecycle: null\n', '')
  assert.equal(compareRenderings(objectsByName(REAL, 'real'), objectsByName(standIn, 'stand-in')), [])
})

comparison('a changed argument, a reordered port, a changed label, a missing and an extra object', () => {
  const standIn = REAL.replace('[--a, --b]', '[--a, --c]')
    .replace('[{ name: web, containerPort: 8000 }, { name: websecure, containerPort: 8443 }]', '[{ name: websecure, containerPort: 8443 }, { name: web, containerPort: 8000 }]')
    .replace('traefik-41.3.0', 'traefik-33.2.1')
    .replace('kind: Deployment', 'kind: DaemonSet')
  assert.equal(compareRenderings(objectsByName(REAL, 'real'), objectsByName(standIn, 'stand-in')), [
    'Deployment traefik/traefik: missing in the stand-in',
    'Service traefik/traefik.metadata.labels["helm.sh/chart"]: real "traefik-41.3.0", stand-in "traefik-33.2.1"',
    'DaemonSet traefik/traefik: only in the stand-in',
  ])
  const [deployment] = objectsByName(standIn.replace('kind: DaemonSet', 'kind: Deployment'), 'stand-in').values()
  assert.equal(differences(objectsByName(REAL, 'real').get('Deployment traefik/traefik') as Json, deployment as Json, 'D'), [
    'D.spec.template.spec.containers[name=traefik].args[1]: real "--b", stand-in "--c"',
    'D.spec.template.spec.containers[name=traefik].ports: order differs: real ["web","websecure"], stand-in ["websecure","web"]',
  ])
})

comparison('schema errors of both helm wordings name the same rejected properties', () => {
  const helm318 = '- (root): Additional property globalArguments is not allowed\n- ports.websecure: Additional property tls is not allowed'
  const helm322 = "- at '/ports': validation failed\n  - at '/ports/websecure': additional properties 'tls' not allowed\n- at '': additional properties 'globalArguments' not allowed"
  assert.equal(rejectedProperties(helm318), ['globalArguments', 'ports.websecure.tls'])
  assert.equal(rejectedProperties(helm322), ['globalArguments', 'ports.websecure.tls'])
  assert.equal(rejectedProperties("- at '/a': additional properties 'x', 'y' not allowed"), ['a.x', 'a.y'])
})

comparison('YAML 1.1, as Kubernetes reads it: an unquoted yes is not the string "yes"', () => {
  const parsed = objectsByName('kind: X\nmetadata: {name: x}\na: yes\nb: "yes"', 'x').get('X /x')!
  assert.equal(differences('yes', parsed.a, 'a'), ['a: real "yes", stand-in true'])
  assert.equal(differences('yes', parsed.b, 'b'), [])
})

comparison.run()
