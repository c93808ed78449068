/** The verify checks on API objects recorded from the real test cluster (test/recorded/record.ts). */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/load.ts'
import { adminHosts, INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS } from '../lib/render/render.ts'
import { expectedRoutesCheck, latestEvent, loadBalancerCheck, servicePortsCheck } from '../lib/verify/checks.ts'
import { podsCheck } from '../lib/verify/pod-trouble.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
const recorded = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'recorded', `${name}.json`), 'utf8'))
const converged = recorded('converged')
const squatter = recorded('squatter')
const service = (data: any, name: string) => data.services.find((s: any) => s.metadata.name === name)

// ---
const pods = suite('verify: pods')

pods('the converged Traefik pod is Running and Ready', () => {
  const check = podsCheck(converged.pods)
  assert.is(check.status, 'pass', check.detail)
  assert.match(check.detail, /^traefik-[a-z0-9]+-[a-z0-9]+ Running$/)
})

pods('a pod whose Ready condition is False fails, saying why', () => {
  const pod = structuredClone(converged.pods[0])
  pod.status.conditions = pod.status.conditions.map((c: any) => (c.type === 'Ready' ? { ...c, status: 'False' } : c))
  const check = podsCheck([pod])
  assert.is(check.status, 'fail')
  assert.match(check.detail, /^0\/1 ready: traefik-.*: Running, not Ready$/)
})

pods('an unscheduled pod names the scheduler\'s message', () => {
  const pod = structuredClone(converged.pods[0])
  pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.' }] }
  assert.match(podsCheck([pod]).detail, /not scheduled: a PersistentVolumeClaim it uses is not bound yet \(scheduler: 0\/1 nodes are available: pod has unbound immediate PersistentVolumeClaims\.\)/)
})

pods('no pod at all fails', () => {
  assert.equal(podsCheck([]), { name: 'Traefik pods Running and Ready', status: 'fail', detail: 'no Traefik pod yet' })
})

pods.run()

// ---
const lb = suite('verify: LoadBalancer addresses')

lb('both Services got their configured address from our pools', () => {
  const external = loadBalancerCheck(service(converged, 'traefik'), 'traefik', 'EXTERNAL_IP', '127.0.0.201', converged.events)
  const internal = loadBalancerCheck(service(converged, 'traefik-internal'), 'traefik-internal', 'INTERNAL_IP', '127.0.0.200', converged.events)
  assert.equal([external.status, external.detail], ['pass', '127.0.0.201 from pool homelab-ingress-external'])
  assert.equal([internal.status, internal.detail], ['pass', '127.0.0.200 from pool homelab-ingress-internal'])
})

lb('a different expected address fails and shows what the Service has', () => {
  const check = loadBalancerCheck(service(converged, 'traefik'), 'traefik', 'EXTERNAL_IP', '127.0.0.202', converged.events)
  assert.is(check.status, 'fail')
  assert.match(check.detail, /^has 127\.0\.0\.201/)
})

lb("a pending address names MetalLB's reason and the Service holding it", () => {
  const check = loadBalancerCheck(service(squatter, 'traefik-internal'), 'traefik-internal', 'INTERNAL_IP', '127.0.0.200', squatter.events, squatter.allServices)
  assert.is(check.status, 'fail')
  assert.match(check.detail, /^EXTERNAL-IP is <pending>; MetalLB: AllocationFailed: Failed to allocate IP for "traefik\/traefik-internal": .*address also in use by traefik\/squatter; the address is held by Service traefik\/squatter$/)
})

lb('the external Service next to the squatter is fine', () => {
  const check = loadBalancerCheck(service(squatter, 'traefik'), 'traefik', 'EXTERNAL_IP', '127.0.0.201', squatter.events, squatter.allServices)
  assert.is(check.status, 'pass', check.detail)
})

lb('a missing Service says which step makes it', () => {
  assert.match(loadBalancerCheck(undefined, 'traefik', 'EXTERNAL_IP', '127.0.0.201', []).detail, /run 02-traefik/)
})

lb('latestEvent picks the newest event about the object', () => {
  const events = [
    { metadata: { name: 'a' }, involvedObject: { kind: 'Service', name: 's' }, reason: 'AllocationFailed', lastTimestamp: '2026-01-01T00:00:00Z' },
    { metadata: { name: 'b' }, involvedObject: { kind: 'Service', name: 's' }, reason: 'IPAllocated', lastTimestamp: '2026-01-01T00:00:05Z' },
    { metadata: { name: 'c' }, involvedObject: { kind: 'Service', name: 'other' }, reason: 'AllocationFailed', lastTimestamp: '2026-01-01T00:00:09Z' },
  ]
  assert.is(latestEvent(events, 'Service', 's')?.reason, 'IPAllocated')
})

lb.run()

// ---
const ports = suite('verify: Service ports')

ports('each recorded Service exposes only its own entrypoints', () => {
  assert.is(servicePortsCheck(service(converged, 'traefik'), 'traefik', PUBLIC_ENTRYPOINTS).status, 'pass')
  assert.is(servicePortsCheck(service(converged, 'traefik-internal'), 'traefik-internal', INTERNAL_ENTRYPOINTS).status, 'pass')
})

ports('an admin entrypoint on the external Service fails', () => {
  const external = structuredClone(service(converged, 'traefik'))
  external.spec.ports.push({ name: 'intweb', port: 8081, targetPort: 'intweb', protocol: 'TCP' })
  assert.equal(servicePortsCheck(external, 'traefik', PUBLIC_ENTRYPOINTS).detail, 'it also exposes intweb')
})

ports.run()

// ---
const routes = suite('verify: the kit\'s own routes')

routes('our routes exist where their namespace does; the absent app is skipped, not failed', () => {
  const checks = expectedRoutesCheck(config, converged.ingressRoutes, new Set(converged.namespaces))
  assert.equal(
    checks.map((c) => [c.name, c.status]),
    [
      ['dashboard IngressRoute traefik/traefik-dashboard exists', 'pass'],
      ['IngressRoute argocd/argocd-internal exists', 'pass'],
      ['IngressRoute longhorn-system/longhorn-internal exists', 'skip'],
    ],
  )
})

routes.run()
