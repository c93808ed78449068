/**
 * The admission guard: the ValidatingAdmissionPolicy and binding rendered for each ADMISSION_GUARD,
 * and 04's check of what the cluster holds. Whether the CEL refuses the right routes is proven
 * where it is evaluated, by the real kube-apiserver (test/integration/admission.test.ts).
 */
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Config } from '../lib/config/config.ts'
import { loadConfig } from '../lib/config/load.ts'
import { admissionGuardManifests, admissionGuardName, adminServiceRefs } from '../lib/render/admission.ts'
import { renderAll } from '../lib/render/render.ts'
import { admissionGuardCheck, type GuardObjects } from '../lib/verify/admission.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = (env: Record<string, string> = {}): Config =>
  loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', 'minimal.env'), env, cwd: ROOT })

const variable = (policy: any, name: string): string => policy.spec.variables.find((v: any) => v.name === name)?.expression

// ---
const render = suite('admission guard: rendered objects')

render('deny: a policy and a binding named homelab-ingress-admin-routes, the binding denies', () => {
  const [policy, binding, ...rest] = admissionGuardManifests(config())
  assert.equal(rest, [])
  assert.is(policy.apiVersion, 'admissionregistration.k8s.io/v1')
  assert.is(policy.kind, 'ValidatingAdmissionPolicy')
  assert.is(binding.apiVersion, 'admissionregistration.k8s.io/v1')
  assert.is(binding.kind, 'ValidatingAdmissionPolicyBinding')
  assert.is(policy.metadata.name, 'homelab-ingress-admin-routes')
  assert.is(binding.metadata.name, 'homelab-ingress-admin-routes')
  assert.equal(binding.spec, { policyName: 'homelab-ingress-admin-routes', validationActions: ['Deny'] })
  assert.is(policy.metadata.namespace, undefined)
})

render('warn: the binding warns and audits; off: nothing', () => {
  const [, binding] = admissionGuardManifests(config({ ADMISSION_GUARD: 'warn' }))
  assert.equal((binding.spec as any).validationActions, ['Warn', 'Audit'])
  assert.equal(admissionGuardManifests(config({ ADMISSION_GUARD: 'off' })), [])
})

render('both carry the ownership labels of the configuration; INSTANCE goes into the name', () => {
  for (const o of admissionGuardManifests(config())) {
    assert.equal(o.metadata.labels, { 'app.kubernetes.io/managed-by': 'homelab-ingress', 'homelab-ingress/instance': 'traefik.home.example.com' })
  }
  const second = config({ INSTANCE: 'second' })
  assert.is(admissionGuardName(second), 'homelab-ingress-second-admin-routes')
  const [policy, binding] = admissionGuardManifests(second)
  assert.is(policy.metadata.labels?.['homelab-ingress/instance'], 'second')
  assert.is((binding.spec as any).policyName, 'homelab-ingress-second-admin-routes')
})

render('the policy matches CREATE and UPDATE of IngressRoutes, IngressRouteTCPs and Ingresses, and fails closed', () => {
  const [policy] = admissionGuardManifests(config())
  const spec = policy.spec as any
  assert.is(spec.failurePolicy, 'Fail')
  assert.equal(
    spec.matchConstraints.resourceRules.map((r: any) => [r.apiGroups, r.operations, r.resources]),
    [
      [['traefik.io'], ['CREATE', 'UPDATE'], ['ingressroutes', 'ingressroutetcps']],
      [['networking.k8s.io'], ['CREATE', 'UPDATE'], ['ingresses']],
    ],
  )
  assert.is(spec.validations.length, 1)
  assert.is(spec.validations[0].reason, 'Forbidden')
  assert.match(spec.validations[0].messageExpression, /Bind it to intweb\/intwebsec/)
  assert.match(spec.validations[0].messageExpression, /or point it at a public backend/)
})

render('the admin backends are the INTERNAL_ROUTES Services (each once) and traefik-internal, literal in the CEL', () => {
  const c = config({ INTERNAL_ROUTES: 'argocd=argocd/argocd-server:80,cd=argocd/argocd-server:443,grafana=monitoring/grafana:3000', TRAEFIK_NAMESPACE: 'edge' })
  assert.equal(adminServiceRefs(c), ['argocd/argocd-server', 'monitoring/grafana', 'edge/traefik-internal'])
  const [policy] = admissionGuardManifests(c)
  assert.is(variable(policy, 'adminServices'), "['argocd/argocd-server', 'monitoring/grafana', 'edge/traefik-internal']")
  assert.is(variable(policy, 'traefikAdminServices'), "['api@internal', 'dashboard@internal', 'rest@internal', 'prometheus@internal']")
  assert.is(variable(policy, 'publicEntryPointNames'), "['web', 'websecure']")
  const none = admissionGuardManifests(config({ INTERNAL_ROUTES: 'none' }))[0]
  assert.is(variable(none, 'adminServices'), "['traefik/traefik-internal']")
})

render('a quote in a name cannot end the CEL string literal', () => {
  const c = { ...config(), internalRoutes: [{ name: 'x', namespace: "a'b", service: 'c\\d', port: 80 }] }
  const [policy] = admissionGuardManifests(c)
  assert.is(variable(policy, 'adminServices'), "['a\\'b/c\\\\d', 'traefik/traefik-internal']")
})

render('render writes the policy and binding after the routes in 03-internal-routes.yaml, and none with off', () => {
  const deny = renderAll(config(), '40-41')['03-internal-routes.yaml']
  assert.match(deny, /kind: IngressRoute\n[\s\S]*kind: ValidatingAdmissionPolicy\n[\s\S]*kind: ValidatingAdmissionPolicyBinding\n/)
  const off = renderAll(config({ ADMISSION_GUARD: 'off' }), '40-41')['03-internal-routes.yaml']
  assert.not.match(off, /ValidatingAdmissionPolicy/)
})

render.run()

// ---
const check = suite("admission guard: 04's check")

/** The objects as the API server returns them: defaults filled in, status written, no kind in a list item. */
function live(c: Config, edit: (policy: any, binding: any) => void = () => {}): GuardObjects {
  const [p, b] = admissionGuardManifests(c).map((o) => structuredClone(o) as any)
  p.spec.matchConstraints.matchPolicy = 'Equivalent'
  p.spec.matchConstraints.namespaceSelector = {}
  p.spec.matchConstraints.objectSelector = {}
  for (const rule of p.spec.matchConstraints.resourceRules) rule.scope = '*'
  p.status = { observedGeneration: 1, typeChecking: {} }
  p.metadata = { ...p.metadata, uid: 'u1', resourceVersion: '10', generation: 1, creationTimestamp: '2026-12-08T02:00:00Z' }
  delete p.kind
  delete p.apiVersion
  b.metadata = { ...b.metadata, uid: 'u2', resourceVersion: '11', generation: 1 }
  edit(p, b)
  return { served: true, policy: p, binding: b }
}
const LIVE_DENY = () => live(config())

check('deny, both in place as rendered: pass', () => {
  const result = admissionGuardCheck(config(), LIVE_DENY())
  assert.is(result.status, 'pass', result.detail)
  assert.is(result.name, 'admission guard ValidatingAdmissionPolicy homelab-ingress-admin-routes (ADMISSION_GUARD=deny)')
  assert.match(result.detail, /validationActions \[Deny\]/)
})

check('a missing binding, a missing policy: fail, saying to rerun 03', () => {
  const noBinding = admissionGuardCheck(config(), { ...LIVE_DENY(), binding: undefined })
  assert.is(noBinding.status, 'fail')
  assert.match(noBinding.detail, /its binding is missing \(rerun 03-internal-routes\)/)
  const nothing = admissionGuardCheck(config(), { served: true })
  assert.is(nothing.status, 'fail')
  assert.match(nothing.detail, /the policy is missing/)
})

check('the binding warns where deny is configured: fail, naming both', () => {
  const warned = admissionGuardCheck(config(), live(config({ ADMISSION_GUARD: 'warn' })))
  assert.is(warned.status, 'fail')
  assert.match(warned.detail, /validationActions are \[Warn, Audit\], ADMISSION_GUARD=deny wants \[Deny\]/)
  const asWarn = admissionGuardCheck(config({ ADMISSION_GUARD: 'warn' }), live(config({ ADMISSION_GUARD: 'warn' })))
  assert.is(asWarn.status, 'pass', asWarn.detail)
})

check('a policy of an older INTERNAL_ROUTES: fail, naming where it differs', () => {
  const stale = live(config({ INTERNAL_ROUTES: 'argocd=argocd/argocd-server:80' }))
  const result = admissionGuardCheck(config(), stale)
  assert.is(result.status, 'fail')
  assert.match(result.detail, /differs from this configuration's at spec\.variables\[1\]\.expression/)
})

check("someone else's policy of that name: fail", () => {
  const foreign = live(config(), (p) => (p.metadata.labels = { team: 'security' }))
  const result = admissionGuardCheck(config(), foreign)
  assert.is(result.status, 'fail')
  assert.match(result.detail, /a policy of that name exists that this configuration did not create/)
})

check('a cluster without ValidatingAdmissionPolicy: skip, saying the audit alone guards', () => {
  const result = admissionGuardCheck(config(), { served: false })
  assert.is(result.status, 'skip')
  assert.match(result.detail, /Kubernetes 1\.30 or newer/)
})

check("off: skip when nothing is there, warn when this configuration's objects are left", () => {
  const off = config({ ADMISSION_GUARD: 'off' })
  assert.is(admissionGuardCheck(off, { served: true }).status, 'skip')
  const left = admissionGuardCheck(off, LIVE_DENY())
  assert.is(left.status, 'warn')
  assert.match(left.detail, /ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding are still there/)
  // another configuration's are not this one's business
  const others = admissionGuardCheck(off, live(config({ INSTANCE: 'other' })))
  assert.is(others.status, 'skip')
})

check.run()
