/**
 * A cluster with other actors, on the real test cluster: objects deleted or edited by hand are
 * repaired (and the repair is then a no-op); objects the kit did not create are refused and kept byte
 * for byte; two kit runs never interleave; two configurations side by side prune and tear down only
 * their own; 04 waits for the rollout and fails on one held back by a stopped controller-manager.
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  applyYaml,
  CLUSTER_DIR,
  helm,
  helmRelease,
  installFakeApp,
  kubectl,
  kubectlMaybe,
  ownedState,
  resetCluster,
  runScript,
  skipReason,
  startScript,
  TEST_CHART,
  testCluster,
} from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  shared-cluster tests skipped: ${skipReason()}\n`)

function converge(env: NodeJS.ProcessEnv = {}): void {
  const r = runScript('run-all', ['--no-probe'], env)
  assert.is(r.code, 0, r.output)
}

const json = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json').stdout)

// ---
const drift = suite('integration: drift is repaired, and the repair is then a no-op')
const dr = cluster ? drift : drift.skip

drift.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  converge()
})

dr('a deleted Service and dashboard route: 02 says what drifted and upgrades', () => {
  kubectl('delete', 'service', 'traefik-internal', '-n', 'traefik')
  kubectl('delete', 'ingressroutes.traefik.io', 'traefik-dashboard', '-n', 'traefik')
  const revision = Number(helmRelease()!.revision)
  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /drift: Service traefik\/traefik-internal missing/)
  assert.match(r.stderr, /drift: IngressRoute traefik\/traefik-dashboard missing/)
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik upgraded to repair drift \\(Service traefik-internal missing, IngressRoute traefik-dashboard missing\\) \\(revision ${revision + 1}, `, 'm'))
  assert.ok(kubectlMaybe('get', 'service', 'traefik-internal', '-n', 'traefik').code === 0, 'Service traefik-internal is back')
  assert.ok(kubectlMaybe('get', 'ingressroutes.traefik.io', 'traefik-dashboard', '-n', 'traefik').code === 0, 'the dashboard route is back')
  const verify = runScript('04-verify', ['--no-probe'])
  assert.is(verify.code, 0, verify.output)
  const before = ownedState()
  const again = runScript('02-traefik')
  assert.match(again.stdout, /^02-traefik: release traefik unchanged/m)
  assert.equal(ownedState(), before)
})

dr('arguments edited by hand (kubectl edit): 02 restores them', () => {
  const args: string[] = json('get', 'deployment', 'traefik', '-n', 'traefik').spec.template.spec.containers[0].args
  const patch = [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--api.insecure=true' }]
  kubectl('patch', 'deployment', 'traefik', '-n', 'traefik', '--type=json', '-p', JSON.stringify(patch))
  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /drift: Deployment traefik\/traefik changed at spec\.template\.spec\.containers\[0\]\.args/)
  assert.equal(json('get', 'deployment', 'traefik', '-n', 'traefik').spec.template.spec.containers[0].args, args)
  assert.match(runScript('02-traefik').stdout, /^02-traefik: release traefik unchanged/m)
})

dr('NodePorts turned on by hand: 02 turns them off and removes the ports Kubernetes kept', () => {
  kubectl('patch', 'service', 'traefik-internal', '-n', 'traefik', '--type=merge', '-p', '{"spec":{"allocateLoadBalancerNodePorts":true}}')
  const opened = json('get', 'service', 'traefik-internal', '-n', 'traefik').spec.ports
  assert.ok(opened.every((p: any) => p.nodePort > 0), JSON.stringify(opened))
  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /drift: Service traefik\/traefik-internal changed at spec\.allocateLoadBalancerNodePorts/)
  assert.match(r.stderr, /Service traefik\/traefik-internal: removed the NodePorts left from before/)
  const service = json('get', 'service', 'traefik-internal', '-n', 'traefik')
  assert.is(service.spec.allocateLoadBalancerNodePorts, false)
  assert.ok(service.spec.ports.every((p: any) => p.nodePort === undefined), JSON.stringify(service.spec.ports))
  const verify = runScript('04-verify', ['--no-probe'])
  assert.is(verify.code, 0, verify.output)
  assert.match(verify.stderr, /\[ok {2}\] Service traefik-internal has no NodePorts/)
})

dr('a pool and a route deleted by hand: 01 and 03 recreate them', () => {
  kubectl('delete', 'ipaddresspools.metallb.io', 'homelab-ingress-external', '-n', 'metallb-system')
  kubectl('delete', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd')
  const r1 = runScript('01-metallb')
  assert.is(r1.code, 0, r1.output)
  assert.match(r1.stdout, /^01-metallb: 1 created, 2 unchanged$/m)
  const r3 = runScript('03-internal-routes')
  assert.is(r3.code, 0, r3.output)
  assert.match(r3.stdout, /^03-internal-routes: 1 created/m)
})

drift.run()

// ---
const owners = suite("integration: what the kit did not create is refused and kept byte for byte")
const ow = cluster ? owners : owners.skip

owners.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
})

const USERS_ROUTE = `apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: admin-auth, namespace: argocd}
spec:
  basicAuth: {secret: admin-users}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-internal, namespace: argocd}
spec:
  entryPoints: [intwebsec]
  routes:
    - kind: Rule
      match: Host(\`argocd.home.example\`)
      middlewares: [{name: admin-auth}]
      services: [{name: argocd-server, port: 443, scheme: https}]
`

ow("a user's own IngressRoute with the kit's name: 03 refuses, names it and --adopt, changes nothing", () => {
  converge({ INTERNAL_ROUTES: 'none' })
  applyYaml(USERS_ROUTE)
  const before = kubectl('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd', '-o', 'json').stdout
  const r = runScript('03-internal-routes')
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, /IngressRoute argocd\/argocd-internal was not created by homelab-ingress/)
  assert.match(r.stderr, /--adopt/)
  assert.is(kubectl('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd', '-o', 'json').stdout, before)
  // Pruning never selects it either.
  const none = runScript('03-internal-routes', [], { INTERNAL_ROUTES: 'none' })
  assert.is(none.code, 0, none.output)
  assert.is(kubectl('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd', '-o', 'json').stdout, before)
})

ow('--adopt takes it over with the kit\'s own version', () => {
  const r = runScript('03-internal-routes', ['--adopt'])
  assert.is(r.code, 0, r.output)
  const route = json('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd')
  assert.equal(route.spec.entryPoints, ['intweb', 'intwebsec'])
  assert.is(route.metadata.labels['homelab-ingress/instance'], 'traefik.home.example')
})

ow("a traefik release the kit did not install: 02 refuses and keeps it; teardown leaves it", () => {
  resetCluster()
  const pools = runScript('01-metallb')
  assert.is(pools.code, 0, pools.output)
  helm('install', 'traefik', TEST_CHART, '-n', 'traefik', '--create-namespace')
  const before = helmRelease()!
  const r = runScript('02-traefik')
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, /helm release traefik\/traefik \(traefik-[\d.]+\) was not created by homelab-ingress/)
  assert.match(r.stderr, /--adopt/)
  assert.equal(helmRelease(), before)
  const down = runScript('99-teardown')
  assert.is(down.code, 0, down.output)
  assert.match(down.stderr, /left alone: release traefik\/traefik \(not installed by this configuration\)/)
  assert.equal(helmRelease(), before)
  helm('uninstall', 'traefik', '-n', 'traefik')
})

owners.run()

// ---
const two = suite('integration: two configurations side by side each prune and tear down only their own')
const tw = cluster ? two : two.skip

// A second domain in the same cluster: its own instance, namespace, addresses and route.
const SECOND = {
  INSTANCE: 'second',
  DOMAIN: 'second.example',
  TRAEFIK_NAMESPACE: 'traefik-second',
  INTERNAL_IP: '127.0.0.202',
  EXTERNAL_IP: '127.0.0.203',
  INTERNAL_ROUTES: 'grafana=argocd/argocd-server:80',
}

two.before(() => {
  if (!cluster) return
  resetCluster()
  kubectlMaybe('delete', 'namespace', 'traefik-second', '--ignore-not-found', '--wait=true')
  installFakeApp('argocd', 'argocd-server', 80)
  converge()
})

two.after(() => {
  if (!cluster) return
  kubectlMaybe('delete', 'namespace', 'traefik-second', '--ignore-not-found', '--wait=false')
})

tw('the second configuration gets objects of its own', () => {
  for (const step of ['01-metallb', '03-internal-routes']) {
    const r = runScript(step, [], SECOND)
    assert.is(r.code, 0, r.output)
  }
  const pools = kubectl('get', 'ipaddresspools.metallb.io', '-n', 'metallb-system', '-o', 'name').stdout.split('\n').filter(Boolean).sort()
  assert.equal(pools, [
    'ipaddresspool.metallb.io/homelab-ingress-external',
    'ipaddresspool.metallb.io/homelab-ingress-internal',
    'ipaddresspool.metallb.io/homelab-ingress-second-external',
    'ipaddresspool.metallb.io/homelab-ingress-second-internal',
  ])
  assert.is(json('get', 'ingressroutes.traefik.io', 'grafana-internal', '-n', 'argocd').metadata.labels['homelab-ingress/instance'], 'second')
})

tw("pruning the second's routes leaves the first's", () => {
  const r = runScript('03-internal-routes', [], { ...SECOND, INTERNAL_ROUTES: 'none' })
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 1 deleted$/m)
  assert.ok(kubectlMaybe('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd').code === 0, "the first configuration's route is still there")
  const back = runScript('03-internal-routes', [], SECOND)
  assert.is(back.code, 0, back.output)
})

tw("tearing the second down leaves the first's objects, and the first still verifies", () => {
  const before = ownedState()
  const down = runScript('99-teardown', [], SECOND)
  assert.is(down.code, 0, down.output)
  assert.match(down.stdout, /^99-teardown: 4 deleted$/m)
  assert.ok(kubectlMaybe('get', 'ingressroutes.traefik.io', 'grafana-internal', '-n', 'argocd').code !== 0, "the second's route is gone")
  // ownedState covers the first's objects (and the CRDs): untouched.
  const after = ownedState()
  for (const key of Object.keys(before).filter((k) => !/second|grafana/.test(k))) assert.is(after[key], before[key], key)
  const verify = runScript('04-verify', ['--no-probe'])
  assert.is(verify.code, 0, verify.output)
})

two.run()

// ---
const lease = suite('integration: two kit runs never interleave')
const le = cluster ? lease : lease.skip

lease.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  converge()
})

le('two run-alls started together: one waits for the other, both succeed', async () => {
  const lines: string[] = []
  const [a, b] = await Promise.all([
    startScript('run-all', ['--no-probe'], (l) => lines.push(`a ${l}`)),
    startScript('run-all', ['--no-probe'], (l) => lines.push(`b ${l}`)),
  ])
  assert.is(a.code, 0, a.output)
  assert.is(b.code, 0, b.output)
  assert.ok(
    lines.some((l) => /waiting for run-all pid \d+ on .* to finish \(lease traefik\/homelab-ingress\)/.test(l)),
    `neither run waited for the other:\n${lines.join('\n')}`,
  )
})

le('a lease held elsewhere: the run waits and says who holds it, then gives up at --timeout', () => {
  const now = new Date().toISOString().replace(/\.\d+Z$/, '.000000Z')
  applyYaml(`apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: homelab-ingress, namespace: traefik}
spec: {holderIdentity: someone else's run, leaseDurationSeconds: 60, acquireTime: "${now}", renewTime: "${now}"}
`)
  const r = runScript('03-internal-routes', ['--timeout', '3'])
  assert.is(r.code, 1, r.output)
  assert.match(r.stderr, /another homelab-ingress run holds the lease traefik\/homelab-ingress: someone else's run; gave up after \d+s/)
})

le('an expired lease (its holder died) is taken over', () => {
  const old = new Date(Date.now() - 120_000).toISOString().replace(/\.\d+Z$/, '.000000Z')
  applyYaml(`apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: homelab-ingress, namespace: traefik}
spec: {holderIdentity: a dead run, leaseDurationSeconds: 30, acquireTime: "${old}", renewTime: "${old}"}
`)
  const r = runScript('03-internal-routes')
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /taking over the expired lease of a dead run/)
  assert.is(json('get', 'lease', 'homelab-ingress', '-n', 'traefik').spec.holderIdentity, undefined, 'released at the end')
})

lease.run()

// ---
const rollout = suite('integration: 04 judges the rollout, not just the pods')
const ro = cluster ? rollout : rollout.skip

const controllerManagerPid = () => Number(fs.readFileSync(path.join(CLUSTER_DIR, 'pids', 'kube-controller-manager.pid'), 'utf8').split(' ')[0])

rollout.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  converge()
})

ro('a rollout held back by a stopped controller-manager fails 04; it passes once it runs again', () => {
  const pid = controllerManagerPid()
  process.kill(pid, 'SIGSTOP')
  try {
    const changed = runScript('02-traefik', [], { TRAEFIK_PHONE_HOME: 'true' })
    assert.is(changed.code, 0, changed.output)
    const held = runScript('04-verify', ['--no-probe', '--timeout', '5'], { TRAEFIK_PHONE_HOME: 'true' })
    assert.is(held.code, 1, held.output)
    assert.match(held.stderr, /\[FAIL\] Deployment traefik\/traefik rolled out: the Deployment controller has not seen generation \d+ yet/)
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  const verify = runScript('04-verify', ['--no-probe'], { TRAEFIK_PHONE_HOME: 'true' })
  assert.is(verify.code, 0, verify.output)
  assert.match(verify.stderr, /\[ok {2}\] Deployment traefik\/traefik rolled out/)
  assert.match(verify.stderr, /\[ok {2}\] Traefik phone-home on \(TRAEFIK_PHONE_HOME=true\)/)
})

rollout.run()
