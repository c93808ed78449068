/** 04-verify's judgements of the rollout, the running arguments, the CRDs and the Services' ports. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { crdCheck, nodePortsCheck, phoneHomeCheck, rolloutCheck } from '../lib/verify/checks.ts'
import { traefikFlags } from '../lib/traefik/flags.ts'

const deployment = (args: string[], status: Record<string, unknown> = {}, generation = 3) => ({
  metadata: { name: 'traefik', namespace: 'traefik', generation, labels: { 'helm.sh/chart': 'traefik-41.3.0' } },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'traefik', image: 'docker.io/traefik:v3.7.11', args }] } } },
  status: { observedGeneration: generation, replicas: 1, updatedReplicas: 1, availableReplicas: 1, ...status },
})

// ---
const phone = suite('checks: phone-home, from the running arguments')

phone('both off, as chart 37.1+ writes it (camelCase) or as 33-35 writes it (lower case)', () => {
  assert.is(phoneHomeCheck(deployment(['--global.checkNewVersion=false']), false).status, 'pass')
  assert.is(phoneHomeCheck(deployment(['--global.checknewversion=false', '--global.sendanonymoususage=false']), false).status, 'pass')
})

phone("the version check is on when no flag says otherwise (Traefik's default): the chart 36 case fails", () => {
  const check = phoneHomeCheck(deployment(['--entryPoints.web.address=:8000/tcp']), false)
  assert.is(check.status, 'fail')
  assert.match(check.detail, /version check/)
})

phone('a bare flag means true; the last one wins', () => {
  assert.is(phoneHomeCheck(deployment(['--global.checkNewVersion=false', '--global.sendAnonymousUsage']), false).status, 'fail')
  assert.is(phoneHomeCheck(deployment(['--global.checkNewVersion', '--global.checkNewVersion=false']), false).status, 'pass')
})

phone('TRAEFIK_PHONE_HOME=true: reported, not failed', () => {
  assert.is(phoneHomeCheck(deployment([]), true).status, 'pass')
})

phone.run()

// ---
const rollout = suite('checks: the rollout')

rollout('complete: generation observed, every replica updated and available', () => {
  assert.is(rolloutCheck(deployment([]), 'traefik/traefik').status, 'pass')
})

rollout('the controller has not seen the newest generation (kube-controller-manager stopped)', () => {
  const check = rolloutCheck(deployment([], { observedGeneration: 2 }), 'traefik/traefik')
  assert.is(check.status, 'fail')
  assert.match(check.detail, /has not seen generation 3 yet/)
})

rollout('an old replica still running, and the reason Kubernetes gives', () => {
  const stuck = deployment([], {
    replicas: 2,
    availableReplicas: 0,
    conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "traefik-5d" has timed out progressing.' }],
  })
  const check = rolloutCheck(stuck, 'traefik/traefik')
  assert.is(check.status, 'fail')
  assert.match(check.detail, /1 old replica\(s\) still running/)
  assert.match(check.detail, /ProgressDeadlineExceeded: ReplicaSet "traefik-5d" has timed out progressing/)
})

rollout.run()

// ---
const crds = suite("checks: the CRDs' chart")

crds('stamped with the release chart: pass; another chart or none: a warning that says to rerun 02', () => {
  assert.is(crdCheck('traefik-41.3.0', 'traefik-41.3.0').status, 'pass')
  assert.match(crdCheck('traefik-33.2.1', 'traefik-41.3.0').detail, /came from traefik-33\.2\.1, the release runs traefik-41\.3\.0/)
  assert.is(crdCheck(undefined, 'traefik-41.3.0').status, 'warn')
})

crds.run()

// ---
const nodePorts = suite('checks: no NodePorts')
const service = (spec: Record<string, unknown>) => ({ metadata: { name: 'traefik-internal' }, spec })

nodePorts('allocateLoadBalancerNodePorts false and no nodePort: pass', () => {
  assert.is(nodePortsCheck(service({ allocateLoadBalancerNodePorts: false, ports: [{ name: 'intweb', port: 80 }] }), 'traefik-internal', 'traefik').status, 'pass')
})

nodePorts('NodePorts left from before: fail, with the patch that removes them', () => {
  const check = nodePortsCheck(
    service({ allocateLoadBalancerNodePorts: false, ports: [{ name: 'intweb', port: 80, nodePort: 31000 }, { name: 'intwebsec', port: 443 }] }),
    'traefik-internal',
    'traefik',
  )
  assert.is(check.status, 'fail')
  assert.match(check.detail, /intweb: 31000/)
  assert.match(check.detail, /kubectl -n traefik patch service traefik-internal --type=json -p '\[\{"op":"remove","path":"\/spec\/ports\/0\/nodePort"\}\]'/)
})

nodePorts.run()

// ---
const flags = suite("traefikFlags: a running Traefik's arguments, read as Traefik reads them")

flags('names ignore case, a bare flag is true, the last occurrence wins', () => {
  const f = traefikFlags(['--global.checkNewVersion', '--api.insecure=false', '--API.Insecure=True', '--log.level=DEBUG', 'traefik'])
  assert.is(f.bool('global.checknewversion'), true)
  assert.is(f.bool('api.insecure'), true)
  assert.is(f.value('LOG.LEVEL'), 'DEBUG')
  assert.is(f.value('global.sendAnonymousUsage'), undefined)
})

flags('entrypoints keep the name as written; a bare address is empty, a bare asDefault true', () => {
  const e = traefikFlags(['--entryPoints.intWeb.address=:8001/tcp', '--entrypoints.intweb.asDefault', '--entryPoints.udp.address', '--entryPoints.web.asDefault=false']).entrypoints()
  assert.equal(e.get('intweb'), { name: 'intWeb', address: ':8001/tcp', asDefault: true })
  assert.equal(e.get('udp'), { name: 'udp', address: '' })
  assert.equal(e.get('web'), { name: 'web', asDefault: false })
})

flags.run()
