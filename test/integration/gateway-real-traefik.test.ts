/**
 * Gateway mode with the real Traefik v3.6.12 and its Gateway provider, on the real Gateway API v1.4.0 CRDs:
 * the admin host answers through the internal Gateway on INTERNAL_IP and gets 404 on EXTERNAL_IP, and
 * Traefik writes its status on the GatewayClass, Gateways and HTTPRoute through the API, which 04's pure
 * checks (lib/verify/gateway.ts) read as served. cert-manager stands in as in gateway.test.ts (its CRDs,
 * no controller; HTTP-01 without PUBLIC_PROBE_HOST orders nothing, so no HTTPS listener needs a Secret).
 * Run under flock /tmp/homelab-ingress-lb.lock (it binds INTERNAL_IP/EXTERNAL_IP ports 80 and 443).
 */
import { spawnSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, installFakeApp, kubectl, kubectlMaybe, resetCluster, runScript, testCluster } from './harness.ts'
import { installCertManagerCrds, installGatewayApiCrds, removeCrds } from './gateway-crds.ts'
import { type Answer, EXTERNAL_IP, INTERNAL_IP, type RealTraefik, realTraefikUnavailable, request, startRealTraefik } from './real-traefik.ts'
import { gatewayCheck, gatewayClassCheck, httpRouteCheck } from '../../lib/verify/gateway.ts'

const cluster = testCluster()
const unavailable = realTraefikUnavailable()
const built = cluster ? spawnSync('bash', [CLUSTER_SH, 'built', 'gateway-api', 'cert-manager']).status === 0 : false
const skip = !cluster ? 'no test cluster' : unavailable ?? (!built ? 'the Gateway API CRDs or cert-manager are not built (bash test/cluster/cluster.sh build gateway-api cert-manager)' : '')
if (skip) console.log(`\n  gateway real Traefik tests skipped: ${skip}\n`)

const ENV = { CERTIFICATES: 'cert-manager', ROUTES_API: 'gateway', INTERNAL_ROUTES: 'argocd=argocd/argocd-server:80' }
const HOST = 'argocd.home.example'
const CONTROLLER = 'traefik.io/gateway-controller'

let rt: RealTraefik | undefined
let setupError: Error | undefined
const traefik = (): RealTraefik => {
  if (setupError) throw setupError
  return rt!
}

async function answerWhen(ask: () => Promise<Answer>, ok: (a: Answer) => boolean, seconds = 30): Promise<Answer> {
  const deadline = Date.now() + seconds * 1000
  let last: Answer | Error = new Error('no answer')
  while (Date.now() < deadline) {
    last = await ask().catch((e: Error) => e)
    if (!(last instanceof Error) && ok(last)) return last
    await new Promise((r) => setTimeout(r, 250))
  }
  if (last instanceof Error) throw last
  return last
}

async function objectWhen(args: string[], ok: (o: any) => boolean, seconds = 30): Promise<any> {
  const deadline = Date.now() + seconds * 1000
  let last: any
  while (Date.now() < deadline) {
    last = JSON.parse(kubectl(...args, '-o', 'json').stdout)
    if (ok(last)) return last
    await new Promise((r) => setTimeout(r, 500))
  }
  return last
}

const test = suite('integration: gateway mode with the real Traefik')
const it = skip ? test.skip : test

test.before(async () => {
  if (skip) return
  try {
    resetCluster()
    removeCrds(/gateway\.networking\.k8s\.io$/)
    installCertManagerCrds()
    installGatewayApiCrds()
    installFakeApp('argocd', 'argocd-server', 80)
    for (const step of ['01-metallb', '02-traefik', '03-internal-routes']) {
      const r = runScript(step, [], ENV)
      if (r.code !== 0) throw new Error(`${step} failed:\n${r.output}`)
    }
    rt = await startRealTraefik()
  } catch (err) {
    setupError = err as Error
  }
})

test.after(async () => {
  if (skip) return
  await rt?.stop()
  resetCluster()
  removeCrds(/gateway\.networking\.k8s\.io$/)
  removeCrds(/cert-manager\.io$/)
  kubectlMaybe('delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=60s')
})

it('Traefik runs its Gateway provider (the chart\'s flag, with the test API server)', () => {
  const args = traefik().plan.args
  assert.ok(args.includes('--providers.kubernetesgateway'), args.join(' '))
  assert.ok(args.some((a) => a.startsWith('--providers.kubernetesgateway.endpoint=')), args.join(' '))
})

it('the admin host answers through the internal Gateway on INTERNAL_IP:80 and gets 404 on EXTERNAL_IP:80', async () => {
  traefik()
  // The Service has no endpoints (kwok runs no pods): a route answers 503 (or 500), no route 404.
  const inside = await answerWhen(() => request(INTERNAL_IP, 80, HOST, '/'), (a) => a.status !== 404)
  assert.ok(inside.status === 503 || inside.status === 500, `${HOST} on ${INTERNAL_IP}:80: ${inside.status} ${inside.body}\n${traefik().traefikLog().slice(-3000)}`)
  const outside = await request(EXTERNAL_IP, 80, HOST, '/')
  assert.is(outside.status, 404, `${HOST} on ${EXTERNAL_IP}:80: ${outside.body}`)
  console.log(`  ${HOST}: ${inside.status} on ${INTERNAL_IP}:80 (route, no endpoints), ${outside.status} on ${EXTERNAL_IP}:80`)
})

it('Traefik writes its status: GatewayClass Accepted, both Gateways Accepted/Programmed, the HTTPRoute Accepted/ResolvedRefs on the internal Gateway; 04\'s checks pass on them', async () => {
  traefik()
  const accepted = (o: any, type = 'Accepted') => (o.status?.conditions ?? []).some((c: any) => c.type === type && c.status === 'True')
  const cls = await objectWhen(['get', 'gatewayclasses.gateway.networking.k8s.io', 'homelab-ingress'], accepted)
  assert.equal(gatewayClassCheck(cls, 'homelab-ingress', CONTROLLER).status, 'pass', JSON.stringify(cls.status))
  for (const [name, listeners] of [['homelab-ingress-internal', ['intweb']], ['homelab-ingress-public', ['web']]] as const) {
    const gw = await objectWhen(['-n', 'traefik', 'get', 'gateways.gateway.networking.k8s.io', name], (o) => accepted(o) && accepted(o, 'Programmed'))
    const check = gatewayCheck(gw, `traefik/${name}`, [...listeners])
    assert.is(check.status, 'pass', `${check.detail} ${JSON.stringify(gw.status)}`)
    console.log(`  Gateway ${name}: ${check.detail}`)
  }
  const route = await objectWhen(['-n', 'argocd', 'get', 'httproutes.gateway.networking.k8s.io', 'argocd-internal'], (o) => (o.status?.parents ?? []).length > 0)
  const check = httpRouteCheck(route, 'argocd/argocd-internal', { name: 'homelab-ingress-internal', namespace: 'traefik' }, CONTROLLER)
  assert.is(check.status, 'pass', `${check.detail} ${JSON.stringify(route.status)}`)
})

it('04-verify in gateway mode reports the GatewayClass, both Gateways and the admin HTTPRoute as served (from Traefik\'s status), and no IngressRoute check for it', () => {
  traefik()
  const r = runScript('04-verify', ['--no-probe', '--json', '--timeout', '30'], ENV)
  const checks: { name: string; status: string; detail: string }[] = r.stdout.trim() ? JSON.parse(r.stdout).checks : []
  // (the route audit's verdict on the same HTTPRoute is its own check, below)
  const gatewayChecks = checks.filter((c) => /^(GatewayClass|Gateway|HTTPRoute) /.test(c.name) && !/ only on internal entrypoints$/.test(c.name))
  assert.equal(gatewayChecks.map((c) => [c.name, c.status]), [
    ['GatewayClass homelab-ingress accepted by Traefik', 'pass'],
    ['Gateway traefik/homelab-ingress-internal accepted and programmed', 'pass'],
    ['Gateway traefik/homelab-ingress-public accepted and programmed', 'pass'],
    ['HTTPRoute argocd/argocd-internal served through Gateway traefik/homelab-ingress-internal', 'pass'],
  ], r.output)
  assert.not.ok(checks.some((c) => c.name.startsWith('IngressRoute argocd/')), r.output)
  const audited = checks.find((c) => c.name === 'HTTPRoute argocd/argocd-internal (argocd.home.example) only on internal entrypoints')
  assert.equal([audited?.status, audited?.detail], ['pass', 'intweb through Gateway traefik/homelab-ingress-internal listener intweb'], r.output)
})

it('an HTTPRoute from a namespace the internal Gateway does not allow is not accepted, and 04\'s check says why', async () => {
  traefik()
  installFakeApp('squatters', 'grab', 80)
  applyYaml(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: grab, namespace: squatters}
spec:
  parentRefs: [{name: homelab-ingress-internal, namespace: traefik}]
  hostnames: [grab.home.example]
  rules: [{backendRefs: [{name: grab, port: 80}]}]
`)
  const route = await objectWhen(['-n', 'squatters', 'get', 'httproutes.gateway.networking.k8s.io', 'grab'], (o) => (o.status?.parents ?? []).length > 0)
  const check = httpRouteCheck(route, 'squatters/grab', { name: 'homelab-ingress-internal', namespace: 'traefik' }, CONTROLLER)
  assert.is(check.status, 'fail', JSON.stringify(route.status))
  assert.match(check.detail, /do not allow routes from this namespace/)
  const answer = await request(INTERNAL_IP, 80, 'grab.home.example', '/')
  assert.is(answer.status, 404)
  console.log(`  squatters/grab: ${check.detail}`)
})

test.run()
