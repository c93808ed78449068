/** Gateway mode (ROUTES_API=gateway): Traefik's values, the GatewayClass and Gateways, the admin HTTPRoutes. */
import fs from 'node:fs'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import YAML from 'yaml'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CHART_SHAPES, type ChartShape } from '../lib/config/config.ts'
import { loadConfig } from '../lib/config/load.ts'
import { gatewayManifests, renderAll, traefikValues } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const FIXTURES = path.join(ROOT, 'test', 'fixtures')
const config = (file: string, env: Record<string, string> = {}) =>
  loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', file), env, cwd: ROOT })
const schema = (chart: string) =>
  new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(
    JSON.parse(fs.readFileSync(path.join(FIXTURES, `traefik-chart-${chart}`, 'values.schema.json'), 'utf8')),
  )
const SCHEMAS: Partial<Record<ChartShape, ReturnType<typeof schema>>> = { '33-35': schema('33.2.1'), '40-41': schema('41.3.0') }
const DNS = { ACME_CHALLENGE: 'dns:cloudflare', ACME_DNS_SECRET: 'cloudflare-token' }

const byKind = (objects: any[], kind: string) => objects.filter((o) => o.kind === kind)
const gateway = (objects: any[], name: string) => objects.find((o) => o.kind === 'Gateway' && o.metadata.name === name)
const listener = (gw: any, name: string) => gw.spec.listeners.find((l: any) => l.name === name)

const values = suite('gateway mode: Traefik values')

for (const shape of CHART_SHAPES) {
  values(`shape ${shape}: the Gateway provider on, the chart's own Gateway and GatewayClass off`, () => {
    const v = traefikValues(config('gateway.env'), shape)
    assert.equal(v.providers.kubernetesGateway, { enabled: true })
    assert.equal(v.gateway, { enabled: false })
    assert.equal(v.gatewayClass, { enabled: false })
    const validate = SCHEMAS[shape]
    if (validate) assert.ok(validate(v), `chart schema for ${shape}: ${JSON.stringify(validate.errors)}`)
  })
}

values('ingressroute mode leaves the Gateway provider as the chart has it (off)', () => {
  const v = traefikValues(config('cert-manager.env'), '40-41')
  assert.is(v.providers?.kubernetesGateway, undefined)
  assert.is(v.gateway, undefined)
})

values.run()

const objects = suite('gateway mode: GatewayClass and Gateways')

objects('one GatewayClass for Traefik, two Gateways in TRAEFIK_NAMESPACE using it, all labelled as the kit\'s', () => {
  const all = gatewayManifests(config('gateway.env')) as any[]
  const [cls] = byKind(all, 'GatewayClass')
  assert.is(cls.metadata.name, 'homelab-ingress')
  assert.is(cls.spec.controllerName, 'traefik.io/gateway-controller')
  assert.equal(byKind(all, 'Gateway').map((g) => [g.metadata.namespace, g.metadata.name, g.spec.gatewayClassName]), [
    ['traefik', 'homelab-ingress-internal', 'homelab-ingress'],
    ['traefik', 'homelab-ingress-public', 'homelab-ingress'],
  ])
  for (const o of all) {
    assert.is(o.apiVersion, 'gateway.networking.k8s.io/v1')
    assert.is(o.metadata.labels['app.kubernetes.io/managed-by'], 'homelab-ingress')
    assert.is(o.metadata.labels['homelab-ingress/instance'], 'traefik.home.example.com')
  }
})

objects('listeners sit on the ports of the entrypoints the chart values open (Traefik matches them by port)', () => {
  const c = config('gateway.env', { ...DNS, PUBLIC_PROBE_HOST: 'blog.example.org' })
  const v = traefikValues(c, '40-41')
  const all = gatewayManifests(c)
  const internal = gateway(all, 'homelab-ingress-internal')
  const pub = gateway(all, 'homelab-ingress-public')
  assert.equal(internal.spec.listeners.map((l: any) => [l.name, l.protocol]), [['intweb', 'HTTP'], ['intwebsec', 'HTTPS']])
  assert.equal(pub.spec.listeners.map((l: any) => [l.name, l.protocol]), [['web', 'HTTP'], ['websecure', 'HTTPS']])
  for (const l of [...internal.spec.listeners, ...pub.spec.listeners]) assert.is(l.port, v.ports[l.name].port, l.name)
  // The internal ports are not the public ones.
  assert.equal(internal.spec.listeners.map((l: any) => l.port), [8001, 8444])
  assert.equal(pub.spec.listeners.map((l: any) => l.port), [8000, 8443])
})

objects('the internal Gateway takes HTTPRoutes only from the admin UIs\' namespaces; the public one from all', () => {
  const all = gatewayManifests(config('gateway.env'))
  const internal = listener(gateway(all, 'homelab-ingress-internal'), 'intweb')
  assert.equal(internal.allowedRoutes, {
    namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['argocd', 'longhorn-system'] }] } },
    kinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
  })
  assert.equal(listener(gateway(all, 'homelab-ingress-public'), 'web').allowedRoutes, { namespaces: { from: 'All' } })
})

objects('INTERNAL_ROUTES=none: the internal Gateway takes routes from its own namespace only', () => {
  const all = gatewayManifests(config('gateway.env', { INTERNAL_ROUTES: 'none' }))
  assert.equal(listener(gateway(all, 'homelab-ingress-internal'), 'intweb').allowedRoutes.namespaces, { from: 'Same' })
})

objects('HTTPS listeners take the cert-manager Secrets: the DNS-01 wildcard inside, PUBLIC_PROBE_HOST\'s outside', () => {
  const all = gatewayManifests(config('gateway.env', { ...DNS, PUBLIC_PROBE_HOST: 'blog.example.org' }))
  const refs = (gw: string, l: string) => listener(gateway(all, gw), l).tls
  assert.equal(refs('homelab-ingress-internal', 'intwebsec'), {
    mode: 'Terminate',
    certificateRefs: [{ group: '', kind: 'Secret', name: 'homelab-ingress-admin-tls', namespace: 'traefik' }],
  })
  assert.equal(refs('homelab-ingress-public', 'websecure').certificateRefs, [{ group: '', kind: 'Secret', name: 'homelab-ingress-public-tls', namespace: 'traefik' }])
  // A public host the wildcard covers is served with the wildcard (cert-manager mode orders no other).
  const covered = gatewayManifests(config('gateway.env', { ...DNS, PUBLIC_PROBE_HOST: 'blog.home.example.com' }))
  assert.equal(listener(gateway(covered, 'homelab-ingress-public'), 'websecure').tls.certificateRefs.map((r: any) => r.name), ['homelab-ingress-admin-tls'])
})

objects('HTTP-01: no certificate for the LAN-only admin hosts, so no HTTPS listener inside; none outside without PUBLIC_PROBE_HOST', () => {
  const all = gatewayManifests(config('gateway.env'))
  assert.equal(gateway(all, 'homelab-ingress-internal').spec.listeners.map((l: any) => l.name), ['intweb'])
  assert.equal(gateway(all, 'homelab-ingress-public').spec.listeners.map((l: any) => l.name), ['web'])
  const withHost = gatewayManifests(config('gateway.env', { PUBLIC_PROBE_HOST: 'blog.example.org' }))
  assert.equal(listener(gateway(withHost, 'homelab-ingress-public'), 'websecure').tls.certificateRefs.map((r: any) => r.name), ['homelab-ingress-public-tls'])
})

objects('INSTANCE prefixes every name', () => {
  const all = gatewayManifests(config('gateway.env', { INSTANCE: 'lab2' }))
  assert.equal(all.map((o) => o.metadata.name), ['homelab-ingress-lab2', 'homelab-ingress-lab2-internal', 'homelab-ingress-lab2-public'])
})

objects.run()

const routes = suite('gateway mode: render')

routes('03 renders one HTTPRoute per admin UI on the internal Gateway, and no IngressRoute; 02-gateway.yaml holds the Gateways', () => {
  const files = renderAll(config('gateway.env'), '40-41')
  assert.equal(Object.keys(files), ['01-metallb.yaml', '02-traefik-values.yaml', '02-cert-manager.yaml', '02-gateway.yaml', '03-internal-routes.yaml'])
  // the routes, then the admission guard 03 applies with them
  const all = YAML.parseAllDocuments(files['03-internal-routes.yaml']).map((d) => d.toJS())
  assert.equal(all.slice(2).map((d) => d.kind), ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'])
  const docs = all.slice(0, 2)
  assert.equal(docs.map((d) => [d.kind, d.metadata.namespace, d.metadata.name]), [
    ['HTTPRoute', 'argocd', 'argocd-internal'],
    ['HTTPRoute', 'longhorn-system', 'longhorn-internal'],
  ])
  assert.equal(docs[0].spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'homelab-ingress-internal', namespace: 'traefik' }],
    hostnames: ['argocd.home.example.com'],
    rules: [{ backendRefs: [{ group: '', kind: 'Service', name: 'argocd-server', port: 80 }] }],
  })
  assert.is(docs[1].metadata.labels['homelab-ingress/route'], 'longhorn')
  assert.is(docs[1].metadata.labels['homelab-ingress/instance'], 'traefik.home.example.com')
  assert.equal(YAML.parseAllDocuments(files['02-gateway.yaml']).map((d) => d.toJS().kind), ['GatewayClass', 'Gateway', 'Gateway'])
})

routes('ingressroute mode renders IngressRoutes and no 02-gateway.yaml', () => {
  const files = renderAll(config('cert-manager.env'), '40-41')
  assert.is(files['02-gateway.yaml'], undefined)
  const kinds = YAML.parseAllDocuments(files['03-internal-routes.yaml']).map((d) => d.toJS().kind)
  assert.equal(kinds, ['IngressRoute', 'IngressRoute', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'])
})

routes.run()
