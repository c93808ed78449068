/** CERTIFICATES=cert-manager: the Traefik values in every chart shape, the ClusterIssuer and the Certificates. */
import fs from 'node:fs'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CHART_SHAPES, type ChartShape } from '../lib/config/config.ts'
import { loadConfig } from '../lib/config/load.ts'
import { certManagerManifests, renderAll, traefikValues } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const FIXTURES = path.join(ROOT, 'test', 'fixtures')
const config = (file: string, env: Record<string, string> = {}) =>
  loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', file), env, cwd: ROOT })
const schema = (chart: string) =>
  new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(
    JSON.parse(fs.readFileSync(path.join(FIXTURES, `traefik-chart-${chart}`, 'values.schema.json'), 'utf8')),
  )
const SCHEMAS: Partial<Record<ChartShape, ReturnType<typeof schema>>> = { '33-35': schema('33.2.1'), '40-41': schema('41.3.0') }
const ENTRYPOINTS = ['web', 'websecure', 'intweb', 'intwebsec']

const values = suite('cert-manager mode: Traefik values in every chart shape')

for (const shape of CHART_SHAPES) {
  values(`shape ${shape}: TRAEFIK_REPLICAS replicas, no volume, no resolver, rolling with none unavailable, PDB, spread, drain, default certificate`, () => {
    const v = traefikValues(config('cert-manager.env'), shape)
    assert.is(v.deployment.replicas, 3)
    assert.is(v.deployment.initContainers, undefined, 'no volume-permissions init container (no acme.json)')
    assert.equal(v.persistence, { enabled: false })
    assert.is(v.certificatesResolvers, undefined)
    assert.equal(v.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
    assert.equal(v.podDisruptionBudget, { enabled: true, maxUnavailable: 1 })
    const [spread] = v.topologySpreadConstraints
    assert.is(spread.topologyKey, 'kubernetes.io/hostname')
    assert.equal(spread.labelSelector.matchLabels, { 'app.kubernetes.io/name': 'traefik', 'app.kubernetes.io/instance': 'traefik-traefik' })
    for (const name of ENTRYPOINTS) {
      assert.equal(v.ports[name].transport, { lifeCycle: { requestAcceptGraceTimeout: '15s', graceTimeOut: '10s' } }, name)
    }
    // TLS stays on for both secure entrypoints; no entrypoint names a resolver.
    const tls = (port: any) => port.http?.tls ?? port.tls
    assert.equal(tls(v.ports.websecure), { enabled: true })
    assert.equal(tls(v.ports.intwebsec), { enabled: true })
    assert.not.match(JSON.stringify(v), /certResolver|acme\.json|letsencrypt/)
    assert.equal(v.tlsStore, { default: { defaultCertificate: { secretName: 'homelab-ingress-public-tls' } } })
    const validate = SCHEMAS[shape]
    if (validate) assert.ok(validate(v), `chart schema for ${shape}: ${JSON.stringify(validate.errors)}`)
  })
}

values('DNS-01: the admin wildcard is the default certificate, and Traefik gets no DNS credentials', () => {
  const v = traefikValues(config('cert-manager-dns.env'), '33-35')
  assert.equal(v.tlsStore, { default: { defaultCertificate: { secretName: 'homelab-ingress-admin-tls' } } })
  assert.is(v.envFrom, undefined)
  assert.is(v.deployment.replicas, 2)
})

values('HTTP-01 without PUBLIC_PROBE_HOST: no certificate to make the default, so no TLSStore', () => {
  const v = traefikValues(config('cert-manager.env', { PUBLIC_PROBE_HOST: ' ' }), '40-41')
  assert.is(v.tlsStore, undefined)
})

values('acme mode is unchanged: one replica, the volume, the resolver, Recreate', () => {
  const v = traefikValues(config('minimal.env'), '40-41')
  assert.is(v.deployment.replicas, 1)
  assert.is(v.persistence.enabled, true)
  assert.is(v.updateStrategy.type, 'Recreate')
  assert.is(v.podDisruptionBudget, undefined)
  assert.is(v.tlsStore, undefined)
  assert.ok(v.certificatesResolvers.letsencrypt)
})

values.run()

const objects = suite('cert-manager mode: ClusterIssuer and Certificates')

objects('HTTP-01: the issuer answers through the public entrypoint web; only the public host gets an order', () => {
  const [issuer, ...certificates] = certManagerManifests(config('cert-manager.env'))
  assert.is(issuer.kind, 'ClusterIssuer')
  assert.is(issuer.metadata.name, 'homelab-ingress-acme')
  assert.equal(issuer.metadata.labels, { 'app.kubernetes.io/managed-by': 'homelab-ingress', 'homelab-ingress/instance': 'traefik.home.example.com' })
  const acme = (issuer.spec as any).acme
  assert.is(acme.server, 'https://acme-staging-v02.api.letsencrypt.org/directory')
  assert.is(acme.email, 'admin@example.com')
  assert.equal(acme.solvers, [
    {
      http01: {
        ingress: { ingressClassName: 'traefik', ingressTemplate: { metadata: { annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'web' } } } },
      },
    },
  ])
  assert.is(certificates.length, 1)
  assert.equal((certificates[0].spec as any).dnsNames, ['blog.example.org'])
  assert.is(certificates[0].metadata.namespace, 'traefik')
  assert.equal((certificates[0].spec as any).issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'homelab-ingress-acme' })
  // No admin host (LAN-only) is ever ordered over HTTP-01.
  assert.not.match(JSON.stringify(certificates.map((c) => (c.spec as any).dnsNames)), /home\.example\.com/)
})

objects('DNS-01: one wildcard for the admin domain, the provider reading the same Secret key Traefik would', () => {
  const [issuer, ...certificates] = certManagerManifests(config('cert-manager-dns.env'))
  assert.equal((issuer.spec as any).acme.solvers, [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cloudflare-token', key: 'CF_DNS_API_TOKEN' } } } }])
  assert.equal(certificates.map((c) => [c.metadata.name, (c.spec as any).dnsNames, (c.spec as any).secretName]), [
    ['homelab-ingress-admin', ['*.home.example.com'], 'homelab-ingress-admin-tls'],
  ])
})

objects('DNS-01: a public host outside the wildcard gets its own certificate; one under it does not', () => {
  const outside = certManagerManifests(config('cert-manager-dns.env', { PUBLIC_PROBE_HOST: 'blog.example.org' }))
  assert.equal(outside.slice(1).map((c) => (c.spec as any).dnsNames), [['*.home.example.com'], ['blog.example.org']])
  const under = certManagerManifests(config('cert-manager-dns.env', { PUBLIC_PROBE_HOST: 'blog.home.example.com' }))
  assert.equal(under.slice(1).map((c) => (c.spec as any).dnsNames), [['*.home.example.com']])
  const deeper = certManagerManifests(config('cert-manager-dns.env', { PUBLIC_PROBE_HOST: 'a.blog.home.example.com' }))
  assert.equal(deeper.slice(1).map((c) => (c.spec as any).dnsNames), [['*.home.example.com'], ['a.blog.home.example.com']])
})

objects('INSTANCE names the cluster-wide issuer, so two configurations do not share one', () => {
  const [issuer] = certManagerManifests(config('cert-manager.env', { INSTANCE: 'lab2' }))
  assert.is(issuer.metadata.name, 'homelab-ingress-lab2-acme')
})

objects('render writes 02-cert-manager.yaml only in cert-manager mode', async () => {
  assert.ok('02-cert-manager.yaml' in renderAll(config('cert-manager.env'), '40-41'))
  assert.not.ok('02-cert-manager.yaml' in renderAll(config('minimal.env'), '40-41'))
})

objects.run()
