/**
 * ROUTES_API=gateway on the test cluster: refused while the Gateway API CRDs are absent; with the real
 * standard-channel CRDs of sigs.k8s.io/gateway-api v1.4.0 (test/cluster: build gateway-api), 02 makes the
 * GatewayClass and two Gateways and 03 one HTTPRoute per admin UI, accepted by the API server's schema and
 * CEL rules; a rerun changes nothing; switching to ingressroute and back leaves nothing of the other mode.
 *
 * What is real: the API server with the Gateway API CRDs and cert-manager's CRDs (from its chart), helm with
 * the stand-in chart. What stands in: cert-manager's controller and Traefik do not run here, so no status is
 * written (the real Traefik's Gateway provider is not run by this file).
 */
import { spawnSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, installFakeApp, kubectl, kubectlMaybe, ownedState, resetCluster, runScript, skipReason, testCluster } from './harness.ts'
import { installCertManagerCrds, installGatewayApiCrds, removeCrds } from './gateway-crds.ts'

const cluster = testCluster()
const built = cluster ? spawnSync('bash', [CLUSTER_SH, 'built', 'gateway-api', 'cert-manager']).status === 0 : false
const skip = !cluster ? skipReason() : !built ? 'the Gateway API CRDs or cert-manager are not built (bash test/cluster/cluster.sh build gateway-api cert-manager)' : ''
if (skip) console.log(`\n  gateway integration tests skipped: ${skip}\n`)

const GATEWAY = { CERTIFICATES: 'cert-manager', ROUTES_API: 'gateway' }
const INGRESSROUTE = { CERTIFICATES: 'cert-manager', ROUTES_API: 'ingressroute' }

const test = suite('integration: ROUTES_API=gateway')
const it = skip ? test.skip : test

const json = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json').stdout)
const kitObjects = (kinds: string) => {
  const out = kubectlMaybe('get', kinds, '-A', '-l', 'app.kubernetes.io/managed-by=homelab-ingress', '-o', 'json')
  return out.code === 0 ? JSON.parse(out.stdout).items.map((o: any) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort() : []
}
const GATEWAY_KINDS = 'gatewayclasses.gateway.networking.k8s.io,gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io'

test.before(() => {
  if (skip) return
  resetCluster()
  removeCrds(/gateway\.networking\.k8s\.io$/)
  removeCrds(/cert-manager\.io$/)
  installCertManagerCrds()
  installFakeApp('argocd', 'argocd-server', 80)
})

test.after(() => {
  if (skip) return
  resetCluster()
  kubectlMaybe('delete', 'clusterissuers.cert-manager.io,certificates.cert-manager.io', '--all', '-A', '--wait=true')
  removeCrds(/gateway\.networking\.k8s\.io$/)
  removeCrds(/cert-manager\.io$/)
  kubectlMaybe('delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=60s')
})

it('gateway mode without the Gateway API CRDs: refused (exit 3) naming the release to install, nothing changed', () => {
  assert.is(runScript('01-metallb').code, 0)
  const before = ownedState()
  const r = runScript('02-traefik', [], GATEWAY)
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, /ROUTES_API=gateway: the Gateway API CRDs are not installed in context homelab-test \(missing: gatewayclasses\.gateway\.networking\.k8s\.io, gateways\.gateway\.networking\.k8s\.io, httproutes\.gateway\.networking\.k8s\.io, grpcroutes\.gateway\.networking\.k8s\.io, referencegrants\.gateway\.networking\.k8s\.io\); nothing was changed/)
  assert.match(r.stderr, /v1\.4\.0/)
  assert.equal(ownedState(), before)
})

it('gateway mode with CERTIFICATES=acme: a configuration error naming traefik/traefik#11970 and the fix', () => {
  const r = runScript('02-traefik', [], { ROUTES_API: 'gateway' })
  assert.is(r.code, 2, r.output)
  assert.match(r.stderr, /ROUTES_API: gateway needs CERTIFICATES=cert-manager: .*traefik\/traefik#11970.*set CERTIFICATES=cert-manager/)
})

it('with the v1.4.0 CRDs: 02 makes the GatewayClass and two Gateways (the API server\'s schema accepts them), the provider on; 03 one HTTPRoute, no IngressRoute', () => {
  installGatewayApiCrds()
  const two = runScript('02-traefik', [], GATEWAY)
  assert.is(two.code, 0, two.output)
  assert.match(two.stdout, /Gateway API objects: 3 created/)
  const args: string[] = json('-n', 'traefik', 'get', 'deployment', 'traefik').spec.template.spec.containers[0].args
  assert.ok(args.includes('--providers.kubernetesgateway'), args.join(' '))
  const internal = json('-n', 'traefik', 'get', 'gateways.gateway.networking.k8s.io', 'homelab-ingress-internal')
  assert.equal(internal.spec.listeners.map((l: any) => [l.name, l.port, l.protocol]), [['intweb', 8001, 'HTTP']])
  assert.equal(internal.spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[0].values, ['argocd', 'longhorn-system'])
  assert.is(json('get', 'gatewayclasses.gateway.networking.k8s.io', 'homelab-ingress').spec.controllerName, 'traefik.io/gateway-controller')
  const three = runScript('03-internal-routes', [], GATEWAY)
  assert.is(three.code, 0, three.output)
  const route = json('-n', 'argocd', 'get', 'httproutes.gateway.networking.k8s.io', 'argocd-internal')
  assert.equal(route.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'homelab-ingress-internal', namespace: 'traefik' }])
  assert.equal(route.spec.hostnames, ['argocd.home.example'])
  assert.equal(kitObjects('ingressroutes.traefik.io'), [])
  assert.equal(kitObjects(GATEWAY_KINDS), [
    'Gateway traefik/homelab-ingress-internal',
    'Gateway traefik/homelab-ingress-public',
    'GatewayClass homelab-ingress',
    'HTTPRoute argocd/argocd-internal',
  ])
})

it('a rerun of 02 and 03 in gateway mode changes nothing', () => {
  const versions = () => kubectl('get', GATEWAY_KINDS, '-A', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}').stdout
  const before = versions()
  assert.is(runScript('02-traefik', [], GATEWAY).code, 0)
  const three = runScript('03-internal-routes', [], GATEWAY)
  assert.is(three.code, 0, three.output)
  assert.equal(versions(), before)
})

it('gateway -> ingressroute -> gateway: each rerun leaves nothing of the other mode', () => {
  assert.is(runScript('02-traefik', [], INGRESSROUTE).code, 0)
  const three = runScript('03-internal-routes', [], INGRESSROUTE)
  assert.is(three.code, 0, three.output)
  assert.equal(kitObjects(GATEWAY_KINDS), [])
  assert.equal(kitObjects('ingressroutes.traefik.io'), ['IngressRoute argocd/argocd-internal'])
  assert.not.ok(json('-n', 'traefik', 'get', 'deployment', 'traefik').spec.template.spec.containers[0].args.includes('--providers.kubernetesgateway'))
  assert.is(runScript('02-traefik', [], GATEWAY).code, 0)
  assert.is(runScript('03-internal-routes', [], GATEWAY).code, 0)
  assert.equal(kitObjects('ingressroutes.traefik.io'), [])
  assert.equal(kitObjects(GATEWAY_KINDS).length, 4)
})

it('teardown removes the kit\'s HTTPRoutes, Gateways and GatewayClass; a Gateway of the user\'s stays', () => {
  applyYaml(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: mine, namespace: argocd}
spec:
  gatewayClassName: homelab-ingress
  listeners: [{name: http, port: 8000, protocol: HTTP}]
`)
  const r = runScript('99-teardown', [], GATEWAY)
  assert.is(r.code, 0, r.output)
  assert.equal(kitObjects(GATEWAY_KINDS), [])
  assert.is(json('-n', 'argocd', 'get', 'gateways.gateway.networking.k8s.io', 'mine').metadata.name, 'mine')
})

test.run()
