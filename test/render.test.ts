import fs from 'node:fs'
import path from 'node:path'
import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { CHART_SHAPES, type ChartShape, type Config } from '../lib/config/config.ts'
import { loadConfig } from '../lib/config/load.ts'
import { resolveChart } from '../lib/traefik/chart.ts'
import { internalRouteManifests, metallbManifests, renderAll, traefikValues, writeRendered } from '../lib/render/render.ts'
import { renderTemplate } from '../lib/base/template.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const FIXTURES = path.join(ROOT, 'test', 'fixtures')
const GOLDEN = path.join(ROOT, 'test', 'golden')
const config = (file: string) => loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', file), env: {}, cwd: ROOT })
const CASES = ['minimal.env', 'full.env', 'test-cluster.env']
/** Values in the newest shape (chart 40-41), the one the default chart version takes. */
const values = (name: string, shape: ChartShape = '40-41') => traefikValues(config(name), shape)
const shapeOf = async (c: Config) => (await resolveChart(c)).shape

/** The openAPIV3Schema a CRD serves for one version. */
function crdSchema(file: string, version: string): object {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).map((d) => d.toJS())
  const crd = docs.find((d) => d?.kind === 'CustomResourceDefinition')
  return crd.spec.versions.find((v: any) => v.name === version).schema.openAPIV3Schema
}

// Kubernetes' schema extensions (x-kubernetes-*) are not JSON Schema keywords; strict mode off.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
const validators: Record<string, ReturnType<typeof ajv.compile>> = {
  IPAddressPool: ajv.compile(crdSchema('metallb-v0.16.1/metallb.io_ipaddresspools.yaml', 'v1beta1')),
  L2Advertisement: ajv.compile(crdSchema('metallb-v0.16.1/metallb.io_l2advertisements.yaml', 'v1beta1')),
  IngressRoute: ajv.compile(crdSchema('traefik-chart-33.2.1/crds/traefik.io_ingressroutes.yaml', 'v1alpha1')),
}
const valuesSchema = (chart: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, `traefik-chart-${chart}`, 'values.schema.json'), 'utf8'))
// One Ajv per chart: both schemas carry the same $id.
const compileValuesSchema = (chart: string) => new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(valuesSchema(chart))
/** The real charts' values schemas the kit's values are checked against, by the shape they take. */
const valuesValidators: Partial<Record<ChartShape, { chart: string; validate: ReturnType<typeof ajv.compile> }>> = {
  '33-35': { chart: '33.2.1', validate: compileValuesSchema('33.2.1') },
  '40-41': { chart: '41.3.0', validate: compileValuesSchema('41.3.0') },
}
const validateValues = valuesValidators['40-41']!.validate

function assertValid(validate: ReturnType<typeof ajv.compile>, object: unknown, what: string) {
  const ok = validate(object)
  assert.ok(ok, `${what}: ${ajv.errorsText(validate.errors)}`)
}

// ---
const golden = suite('render: golden files')

for (const name of CASES) {
  golden(`${name} renders exactly test/golden/${path.basename(name, '.env')}/`, async () => {
    const dir = path.join(GOLDEN, path.basename(name, '.env'))
    const files = renderAll(config(name), await shapeOf(config(name)))
    if (process.env.UPDATE_GOLDEN === '1') {
      fs.mkdirSync(dir, { recursive: true })
      for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text)
    }
    for (const [file, text] of Object.entries(files)) {
      assert.fixture(text, fs.readFileSync(path.join(dir, file), 'utf8'), `${name} -> ${file} (UPDATE_GOLDEN=1 npm test rewrites after a deliberate change)`)
    }
  })
}

golden('writeRendered writes the three files the steps apply', () => {
  const out = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.render-'))
  try {
    const written = writeRendered(config('minimal.env'), '40-41', out).map((f) => path.basename(f))
    assert.equal(written, ['01-metallb.yaml', '02-traefik-values.yaml', '03-internal-routes.yaml'])
  } finally {
    fs.rmSync(out, { recursive: true })
  }
})

for (const shape of CHART_SHAPES) {
  golden(`test-cluster.env in the shape of chart ${shape} renders exactly test/golden/shapes/02-traefik-values.${shape}.yaml`, () => {
    const file = path.join(GOLDEN, 'shapes', `02-traefik-values.${shape}.yaml`)
    const text = YAML.stringify(values('test-cluster.env', shape), { lineWidth: 0 })
    if (process.env.UPDATE_GOLDEN === '1') {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, text)
    }
    assert.fixture(text, fs.readFileSync(file, 'utf8'), `shape ${shape} (UPDATE_GOLDEN=1 npm test rewrites after a deliberate change)`)
  })
}

golden.run()

// ---
const schemas = suite('render: valid against the upstream schemas in test/fixtures')

for (const name of CASES) {
  schemas(`${name}: MetalLB objects match the v0.16.1 CRDs`, () => {
    for (const o of metallbManifests(config(name))) assertValid(validators[o.kind], o, `${o.kind} ${o.metadata.name}`)
  })
  schemas(`${name}: IngressRoutes match the chart's traefik.io CRD`, () => {
    for (const o of internalRouteManifests(config(name))) assertValid(validators.IngressRoute, o, o.metadata.name)
  })
  for (const [shape, { chart, validate }] of Object.entries(valuesValidators)) {
    schemas(`${name}: Traefik values in shape ${shape} match chart ${chart}'s values.schema.json`, () => {
      assertValid(validate, values(name, shape as ChartShape), `values for ${chart}`)
    })
  }
}

schemas('the schema check can fail: the chart rejects ports.web.expose: true', () => {
  const v = values('minimal.env')
  v.ports.web.expose = true
  assert.not.ok(validateValues(v))
})

schemas("chart 41.3.0's schema rejects values in the shape of chart 33-35 (what the kit used to send)", () => {
  assert.not.ok(validateValues(values('minimal.env', '33-35')))
  const errors = ajv.errorsText(validateValues.errors)
  assert.match(errors, /additional properties/i)
})

schemas('the schema check can fail: a pool with autoAssign "no"', () => {
  const [pool] = metallbManifests(config('minimal.env'))
  assert.not.ok(validators.IPAddressPool({ ...pool, spec: { ...(pool.spec as object), autoAssign: 'no' } }))
})

schemas.run()

// ---
const content = suite('render: what the manifests say')

content('one /32 pool per address, autoAssign off, only for the Traefik namespace', () => {
  const [internal, external, l2] = metallbManifests(config('minimal.env'))
  assert.equal((internal.spec as any).addresses, ['192.168.0.200/32'])
  assert.equal((external.spec as any).addresses, ['192.168.0.201/32'])
  for (const pool of [internal, external]) {
    assert.is((pool.spec as any).autoAssign, false)
    assert.equal((pool.spec as any).serviceAllocation.namespaces, ['traefik'])
  }
  assert.equal((l2.spec as any).ipAddressPools, [internal.metadata.name, external.metadata.name])
})

content('Services ask for their address with the current annotation, or the legacy one when told', () => {
  const current = values('minimal.env')
  assert.equal(current.service.annotations, { 'metallb.io/loadBalancerIPs': '192.168.0.201' })
  assert.equal(current.service.additionalServices.internal.annotations, { 'metallb.io/loadBalancerIPs': '192.168.0.200' })
  const legacy = values('full.env')
  assert.equal(legacy.service.annotations, { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.11' })
})

content('public entrypoints only on the main Service, admin ones only on the internal Service', () => {
  const { ports } = values('minimal.env')
  assert.equal(ports.web.expose, { default: true, internal: false })
  assert.equal(ports.websecure.expose, { default: true, internal: false })
  assert.equal(ports.intweb.expose, { default: false, internal: true })
  assert.equal(ports.intwebsec.expose, { default: false, internal: true })
  assert.equal(ports.traefik.expose, { default: false })
})

content('fail closed: the internal entrypoints are the default ones; no NodePorts on either Service', () => {
  const v = values('minimal.env')
  assert.equal(Object.entries(v.ports).filter(([, p]: [string, any]) => p.asDefault).map(([name]) => name), ['intweb', 'intwebsec'])
  assert.is(v.service.spec.allocateLoadBalancerNodePorts, false)
  assert.is(v.service.additionalServices.internal.spec.allocateLoadBalancerNodePorts, false)
})

content('ADMIN_ALLOW_CIDRS: an ipAllowList on both admin entrypoints, in the release; client addresses kept; off turns it off', () => {
  const v = values('minimal.env')
  assert.equal(v.extraObjects.map((o: any) => [o.kind, o.metadata.namespace, o.metadata.name]), [['Middleware', 'traefik', 'admin-allowlist']])
  assert.equal(v.extraObjects[0].spec.ipAllowList.sourceRange, ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', 'fc00::/7', 'fe80::/10'])
  for (const name of ['intweb', 'intwebsec']) assert.equal(v.ports[name].http.middlewares, ['traefik-admin-allowlist@kubernetescrd'], name)
  for (const name of ['web', 'websecure']) assert.is(v.ports[name].http?.middlewares, undefined, name)
  assert.is(v.service.additionalServices.internal.spec.externalTrafficPolicy, 'Local')
  assert.is(v.service.spec.externalTrafficPolicy, undefined)
  const off = traefikValues(loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', 'minimal.env'), env: { ADMIN_ALLOW_CIDRS: 'off' }, cwd: ROOT }), '40-41')
  assert.is(off.extraObjects, undefined)
  assert.is(off.ports.intweb.http?.middlewares, undefined)
})

content('the dashboard is on the internal entrypoints only, under traefik.<DOMAIN>', () => {
  const { ingressRoute } = values('minimal.env')
  assert.equal(ingressRoute.dashboard.entryPoints, ['intweb', 'intwebsec'])
  assert.match(ingressRoute.dashboard.matchRule, /^Host\(`traefik\.home\.example\.com`\) && /)
})

content('acme.json on a persistent volume; Recreate so two pods never share the RWO volume', () => {
  const v = values('minimal.env')
  // annotated with the configuration's instance: helm keeps the volume after the release, teardown --purge asks it whose it is
  assert.equal(v.persistence, { enabled: true, name: 'data', accessMode: 'ReadWriteOnce', size: '128Mi', storageClass: 'longhorn', path: '/data', annotations: { 'homelab-ingress/instance': 'traefik.home.example.com' } })
  assert.is(v.certificatesResolvers.letsencrypt.acme.storage, '/data/acme.json')
  assert.is(v.updateStrategy.type, 'Recreate')
  assert.is(v.deployment.replicas, 1)
  assert.is(v.deployment.initContainers[0].volumeMounts[0].mountPath, '/data')
})

content('no phone-home by default; api.insecure never set', () => {
  assert.equal(values('minimal.env').global, { checkNewVersion: false, sendAnonymousUsage: false })
  assert.not.match(JSON.stringify(values('minimal.env')), /api\.insecure/)
  assert.equal(values('full.env').global, { checkNewVersion: true, sendAnonymousUsage: true })
  // Chart 35 and older know only command-line flags for it.
  assert.equal(values('minimal.env', '33-35').globalArguments, ['--global.checknewversion=false', '--global.sendanonymoususage=false'])
  assert.is(values('minimal.env', '33-35').global, undefined)
  assert.equal(values('full.env', '33-35').globalArguments, ['--global.checknewversion=true', '--global.sendanonymoususage=true'])
})

content('HTTP-01 leaves intwebsec without a resolver; DNS-01 gives it one and reads the provider secret', () => {
  const http = values('minimal.env')
  assert.is(http.ports.intwebsec.http.tls.certResolver, undefined)
  assert.equal(http.certificatesResolvers.letsencrypt.acme.httpChallenge, { entryPoint: 'web' })
  const dns = values('full.env')
  assert.is(dns.ports.intwebsec.http.tls.certResolver, 'letsencrypt')
  assert.is(values('full.env', '33-35').ports.intwebsec.tls.certResolver, 'letsencrypt')
  assert.equal(dns.certificatesResolvers.letsencrypt.acme.dnsChallenge, { provider: 'cloudflare' })
  assert.is(dns.certificatesResolvers.letsencrypt.acme.httpChallenge, undefined)
  assert.equal(dns.envFrom, [{ secretRef: { name: 'cloudflare-token' } }])
})

content('IngressRoutes use traefik.io/v1alpha1, live beside their Service, and bind only intweb/intwebsec', () => {
  const routes = internalRouteManifests(config('minimal.env'))
  assert.is(routes.length, 2)
  for (const r of routes) {
    assert.is(r.apiVersion, 'traefik.io/v1alpha1')
    assert.equal((r.spec as any).entryPoints, ['intweb', 'intwebsec'])
  }
  assert.is(routes[0].metadata.namespace, 'argocd')
  assert.equal((routes[0].spec as any).routes[0], {
    kind: 'Rule',
    match: 'Host(`argocd.home.example.com`)',
    services: [{ name: 'argocd-server', port: 80 }],
  })
})

content.run()

// ---
const template = suite('template: values stay inside their scalar')

template('a value full of YAML syntax becomes one string, not structure', () => {
  const [route] = renderTemplate('03-internal-route.yaml', {
    ROUTE_NAME: 'x\nspec: {evil: true}',
    ROUTE_NAMESPACE: 'ns"\n---\nkind: Secret',
    ROUTE_HOST: 'h',
    ROUTE_SERVICE: '[a, b]',
    ROUTE_PORT: 80,
  })
  assert.is(route.metadata.name, 'x\nspec: {evil: true}-internal')
  assert.is(route.metadata.namespace, 'ns"\n---\nkind: Secret')
  assert.equal(Object.keys(route.spec), ['entryPoints', 'routes'])
  assert.is(route.spec.routes[0].services[0].name, '[a, b]')
})

template('a whole-scalar placeholder keeps the value type', () => {
  const [route] = renderTemplate('03-internal-route.yaml', { ROUTE_NAME: 'a', ROUTE_NAMESPACE: 'b', ROUTE_HOST: 'c', ROUTE_SERVICE: 'd', ROUTE_PORT: 8080 })
  assert.is(route.spec.routes[0].services[0].port, 8080)
})

template('a missing value is an error, not an empty string', () => {
  assert.throws(() => renderTemplate('03-internal-route.yaml', { ROUTE_NAME: 'a' }), /no value for \$\{ROUTE_NAMESPACE\}/)
})

template.run()
