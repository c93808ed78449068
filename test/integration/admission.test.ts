/**
 * The admission guard on the real test cluster: the kube-apiserver (1.33) evaluates the policy's
 * CEL itself. With ADMISSION_GUARD=deny each form of admin backend on a public entrypoint is
 * refused with the policy's message, the kit's own routes and public routes are not; with warn
 * the route is created and kubectl shows the warning; off removes the kit's policy and binding;
 * a policy of the same name that the kit did not create is refused, never adopted.
 *
 * The expected messages are written out here, as a user would read them, not taken from the code.
 * test.env turns the guard off for the other integration tests (they create rogue routes on
 * purpose); every run here says which mode it wants.
 */
import { spawnSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, installFakeApp, kubectl, kubectlMaybe, ownedState, resetCluster, type Run, runScript, sh, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  admission guard tests skipped: ${skipReason()}\n`)

const POLICY = 'homelab-ingress-admin-routes'
/** The default mode, which test.env turns off. */
const DENY = { ADMISSION_GUARD: 'deny' }
const VAP = 'validatingadmissionpolicies.admissionregistration.k8s.io'
const VAPB = 'validatingadmissionpolicybindings.admissionregistration.k8s.io'
const DENIED = `ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request: `
const FIX_ROUTE = '; homelab-ingress keeps admin UIs on the internal entrypoints only. Bind it to intweb/intwebsec (spec.entryPoints: [intweb, intwebsec]) or point it at a public backend'
const FIX_INGRESS = '; homelab-ingress keeps admin UIs on the internal entrypoints only. Bind it to intweb/intwebsec (annotation traefik.ingress.kubernetes.io/router.entrypoints: intweb,intwebsec) or point it at a public backend'

/** kubectl create of a YAML text (not apply: no last-applied annotation in the way), never throwing. */
const create = (yaml: string): Run => sh('kubectl', ['--context=homelab-test', 'create', '-f', '-'], { input: yaml, allowFail: true })
const exists = (kind: string, name: string, namespace?: string) =>
  kubectlMaybe('get', kind, name, ...(namespace ? ['-n', namespace] : [])).code === 0

type Form = { what: string; yaml: string; kind: string; name: string; namespace: string; message: string }

/** Routes that put an admin backend on a public entrypoint: each must be refused under deny. */
const REFUSED: Form[] = [
  {
    what: 'an IngressRoute on web to argocd-server, for a public host name',
    kind: 'ingressroutes.traefik.io',
    name: 'status-page',
    namespace: 'argocd',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: status-page, namespace: argocd}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: Host(\`status.public.example\`), services: [{name: argocd-server, port: 80}]}
`,
    message: `IngressRoute argocd/status-page puts the admin backend argocd/argocd-server on the public entrypoint web${FIX_ROUTE}`,
  },
  {
    what: "an IngressRoute in another namespace naming argocd's Service across namespaces, on both public entrypoints",
    kind: 'ingressroutes.traefik.io',
    name: 'shop',
    namespace: 'default',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: shop, namespace: default}
spec:
  entryPoints: [web, websecure]
  routes:
  - {kind: Rule, match: Host(\`shop.public.example\`), services: [{name: shop, port: 80}]}
  - {kind: Rule, match: PathPrefix(\`/cd\`), services: [{name: argocd-server, namespace: argocd, port: 80}]}
`,
    message: `IngressRoute default/shop puts the admin backend argocd/argocd-server on the public entrypoint web, websecure${FIX_ROUTE}`,
  },
  {
    what: 'an IngressRoute on websecure to the TraefikService api@internal',
    kind: 'ingressroutes.traefik.io',
    name: 'api-public',
    namespace: 'default',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: api-public, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: PathPrefix(\`/api\`), services: [{name: api@internal, kind: TraefikService}]}
`,
    message: `IngressRoute default/api-public puts the admin backend api@internal on the public entrypoint websecure${FIX_ROUTE}`,
  },
  {
    what: 'an IngressRouteTCP on websecure, HostSNI(`*`), to longhorn-frontend',
    kind: 'ingressroutetcps.traefik.io',
    name: 'longhorn-tcp',
    namespace: 'longhorn-system',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: longhorn-tcp, namespace: longhorn-system}
spec:
  entryPoints: [websecure]
  routes:
  - {match: HostSNI(\`*\`), services: [{name: longhorn-frontend, port: 80}]}
`,
    message: `IngressRouteTCP longhorn-system/longhorn-tcp puts the admin backend longhorn-system/longhorn-frontend on the public entrypoint websecure${FIX_ROUTE}`,
  },
  {
    what: 'an Ingress with router.entrypoints: web to longhorn-frontend',
    kind: 'ingresses.networking.k8s.io',
    name: 'longhorn-web',
    namespace: 'longhorn-system',
    yaml: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: longhorn-web
  namespace: longhorn-system
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: web}
spec:
  ingressClassName: traefik
  rules:
  - host: storage.public.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
`,
    message: `Ingress longhorn-system/longhorn-web puts the admin backend longhorn-system/longhorn-frontend on the public entrypoint web${FIX_INGRESS}`,
  },
  {
    what: "an Ingress whose default backend is argocd-server, on ' websecure' (spaces around the name)",
    kind: 'ingresses.networking.k8s.io',
    name: 'argocd-default-backend',
    namespace: 'argocd',
    yaml: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-default-backend
  namespace: argocd
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: 'intweb, websecure'}
spec:
  defaultBackend: {service: {name: argocd-server, port: {number: 80}}}
`,
    message: `Ingress argocd/argocd-default-backend puts the admin backend argocd/argocd-server on the public entrypoint websecure${FIX_INGRESS}`,
  },
  {
    what: "an IngressRoute on web to traefik-internal (Traefik's own internal entrypoints, past the allow-list)",
    kind: 'ingressroutes.traefik.io',
    name: 'back-door',
    namespace: 'traefik',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: back-door, namespace: traefik}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: PathPrefix(\`/\`), services: [{name: traefik-internal, port: 80}]}
`,
    message: `IngressRoute traefik/back-door puts the admin backend traefik/traefik-internal on the public entrypoint web${FIX_ROUTE}`,
  },
]

/** Routes the guard lets through under deny. */
const ALLOWED: Form[] = [
  {
    what: 'a public route to a public app',
    kind: 'ingressroutes.traefik.io',
    name: 'blog',
    namespace: 'default',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: blog, namespace: default}
spec:
  entryPoints: [web, websecure]
  routes:
  - {kind: Rule, match: Host(\`blog.public.example\`), services: [{name: blog, port: 80}]}
`,
    message: '',
  },
  {
    what: 'a route with no entryPoints to an admin Service (it lands on the default entrypoints, intweb/intwebsec)',
    kind: 'ingressroutes.traefik.io',
    name: 'argocd-defaults',
    namespace: 'argocd',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-defaults, namespace: argocd}
spec:
  routes:
  - {kind: Rule, match: Host(\`cd.home.example\`), services: [{name: argocd-server, port: 80}]}
`,
    message: '',
  },
  {
    what: 'api@internal on intwebsec',
    kind: 'ingressroutes.traefik.io',
    name: 'api-lan',
    namespace: 'default',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: api-lan, namespace: default}
spec:
  entryPoints: [intwebsec]
  routes:
  - {kind: Rule, match: Host(\`api.home.example\`), services: [{name: api@internal, kind: TraefikService}]}
`,
    message: '',
  },
  {
    what: 'an Ingress to longhorn-frontend without the entrypoints annotation (the default entrypoints)',
    kind: 'ingresses.networking.k8s.io',
    name: 'longhorn-defaults',
    namespace: 'longhorn-system',
    yaml: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: longhorn-defaults, namespace: longhorn-system}
spec:
  rules:
  - host: longhorn.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
`,
    message: '',
  },
  {
    what: "a public route to a Service named argocd-server in another namespace (not the configured admin Service)",
    kind: 'ingressroutes.traefik.io',
    name: 'other-argocd',
    namespace: 'default',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: other-argocd, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: Host(\`demo.public.example\`), services: [{name: argocd-server, port: 80}]}
`,
    message: '',
  },
]

/**
 * The API server picks a new or changed policy or binding up from its own informers, a moment after
 * the write: waits (bounded) until a server-side dry run of a route to api@internal on web meets
 * `expected`, so that what a test then sees is the policy in force.
 */
function untilEnforced(expected: 'deny' | 'warn' | 'off'): void {
  const probe = `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: guard-probe, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: PathPrefix(\`/\`), services: [{name: api@internal, kind: TraefikService}]}
`
  const deadline = Date.now() + 15_000
  let seen = ''
  while (Date.now() < deadline) {
    const r = sh('kubectl', ['--context=homelab-test', 'create', '--dry-run=server', '-f', '-'], { input: probe, allowFail: true })
    const now = r.code !== 0 ? (r.stderr.includes(DENIED) ? 'deny' : `error: ${r.stderr}`) : r.stderr.includes(`Warning: Validation failed for ValidatingAdmissionPolicy '${POLICY}'`) ? 'warn' : 'off'
    if (now === expected) return
    seen = now
    spawnSync('sleep', ['0.25'])
  }
  assert.unreachable(`the guard is not ${expected} after 15 s: ${seen}`)
}

const remove = (f: Form) => kubectlMaybe('delete', f.kind, f.name, '-n', f.namespace, '--ignore-not-found', '--wait=true')

function verifyGuardCheck(env: Record<string, string> = DENY): { status: string; detail: string; name: string } {
  const r = runScript('04-verify', ['--json', '--no-probe', '--timeout', '60'], env)
  const checks: { name: string; status: string; detail: string }[] = r.stdout.trim() ? JSON.parse(r.stdout).checks : []
  const found = checks.find((c) => c.name.startsWith('admission guard '))
  assert.ok(found, `no admission guard check in:\n${r.output}`)
  return found!
}

// ---
const deny = suite('integration: ADMISSION_GUARD=deny, evaluated by the kube-apiserver')
const it = cluster ? deny : deny.skip

deny.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  installFakeApp('longhorn-system', 'longhorn-frontend', 80)
  const r = runScript('run-all', ['--no-probe'], DENY)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 2 created; admission guard \(deny\): 2 created$/m)
  untilEnforced('deny')
})

deny.after(() => {
  if (!cluster) return
  for (const f of [...REFUSED, ...ALLOWED]) remove(f)
  kubectlMaybe('delete', 'ingressroutes.traefik.io', 'argocd-lan', '-n', 'argocd', '--ignore-not-found')
})

it('the policy and its binding carry the ownership labels, and the API server type-checked the policy', () => {
  const policy = JSON.parse(kubectl('get', VAP, POLICY, '-o', 'json').stdout)
  const binding = JSON.parse(kubectl('get', VAPB, POLICY, '-o', 'json').stdout)
  for (const o of [policy, binding]) {
    assert.is(o.metadata.labels['app.kubernetes.io/managed-by'], 'homelab-ingress')
    assert.is(o.metadata.labels['homelab-ingress/instance'], 'traefik.home.example')
  }
  assert.equal(binding.spec.validationActions, ['Deny'])
  // Type-checking warnings (against the CRDs' and Ingress's schemas) are reported in the status; print them for the record.
  const warnings = policy.status?.typeChecking?.expressionWarnings ?? []
  if (warnings.length) console.log(`\n  type-checking notes: ${JSON.stringify(warnings, null, 1)}\n`)
})

for (const form of REFUSED) {
  it(`refused: ${form.what}`, () => {
    const r = create(form.yaml)
    try {
      assert.is.not(r.code, 0, `created, should have been refused:\n${r.output}`)
      assert.ok(r.stderr.includes(DENIED + form.message), `expected\n  ${DENIED + form.message}\ngot\n  ${r.stderr}`)
      assert.not.ok(exists(form.kind, form.name, form.namespace), `${form.name} exists`)
    } finally {
      remove(form)
    }
  })
}

for (const form of ALLOWED) {
  it(`allowed: ${form.what}`, () => {
    const r = create(form.yaml)
    try {
      assert.is(r.code, 0, r.output)
      assert.not.match(r.stderr, /Warning/)
      assert.ok(exists(form.kind, form.name, form.namespace))
    } finally {
      remove(form)
    }
  })
}

it('an UPDATE that moves an internal admin route to web is refused; one that changes only its labels is not', () => {
  applyYaml(`apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-lan, namespace: argocd}
spec:
  entryPoints: [intweb, intwebsec]
  routes:
  - {kind: Rule, match: Host(\`cd.home.example\`), services: [{name: argocd-server, port: 80}]}
`)
  const moved = kubectlMaybe('patch', 'ingressroutes.traefik.io', 'argocd-lan', '-n', 'argocd', '--type', 'merge', '-p', '{"spec":{"entryPoints":["web"]}}')
  assert.is.not(moved.code, 0, moved.output)
  assert.ok(moved.stderr.includes(`${DENIED}IngressRoute argocd/argocd-lan puts the admin backend argocd/argocd-server on the public entrypoint web${FIX_ROUTE}`), moved.stderr)
  const live = JSON.parse(kubectl('get', 'ingressroutes.traefik.io', 'argocd-lan', '-n', 'argocd', '-o', 'json').stdout)
  assert.equal(live.spec.entryPoints, ['intweb', 'intwebsec'])
  const labelled = kubectlMaybe('label', 'ingressroutes.traefik.io', 'argocd-lan', '-n', 'argocd', 'team=platform')
  assert.is(labelled.code, 0, labelled.output)
})

it("the kit's own routes pass it: 03 recreates a deleted admin route, and a copy of the chart's dashboard route is accepted", () => {
  kubectl('delete', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd', '--wait=true')
  const r = runScript('03-internal-routes', [], DENY)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 1 created, 1 unchanged; admission guard \(deny\): 2 unchanged$/m, r.output)
  // The chart's dashboard IngressRoute (api@internal on the internal entrypoints), created again under another name.
  const dashboard = JSON.parse(kubectl('get', 'ingressroutes.traefik.io', 'traefik-dashboard', '-n', 'traefik', '-o', 'json').stdout)
  const copy = { apiVersion: dashboard.apiVersion, kind: dashboard.kind, metadata: { name: 'dashboard-copy', namespace: 'traefik' }, spec: dashboard.spec }
  assert.ok(JSON.stringify(copy.spec).includes('api@internal'), JSON.stringify(copy.spec))
  const created = sh('kubectl', ['--context=homelab-test', 'create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(copy), allowFail: true })
  assert.is(created.code, 0, created.output)
})

it('a rerun of 03 writes nothing', () => {
  const before = ownedState()
  assert.ok(Object.keys(before).some((k) => k.startsWith('ValidatingAdmissionPolicy ')), JSON.stringify(before))
  const r = runScript('03-internal-routes', [], DENY)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 2 unchanged; admission guard \(deny\): 2 unchanged$/m)
  assert.equal(ownedState(), before)
})

it('04-verify reports the guard in place; a missing binding fails it, and 03 puts it back', () => {
  const ok = verifyGuardCheck()
  assert.is(ok.status, 'pass', ok.detail)
  assert.is(ok.name, `admission guard ValidatingAdmissionPolicy ${POLICY} (ADMISSION_GUARD=deny)`)
  kubectl('delete', VAPB, POLICY, '--wait=true')
  const missing = verifyGuardCheck()
  assert.is(missing.status, 'fail')
  assert.match(missing.detail, /its binding is missing \(rerun 03-internal-routes\)/)
  const r = runScript('03-internal-routes', [], DENY)
  assert.match(r.stdout, /admission guard \(deny\): 1 created, 1 unchanged$/m)
  assert.is(verifyGuardCheck().status, 'pass')
  untilEnforced('deny')
})

deny.run()

// ---
const modes = suite('integration: ADMISSION_GUARD=warn, off, and a policy the kit did not create')
const mt = cluster ? modes : modes.skip

const WARN_FORM = REFUSED[0]

modes.after(() => {
  if (!cluster) return
  remove(WARN_FORM)
  kubectlMaybe('delete', VAP, POLICY, '--ignore-not-found')
  kubectlMaybe('delete', VAPB, POLICY, '--ignore-not-found')
})

mt('warn: 03 switches the binding to Warn and Audit, and the route is created with the warning kubectl shows', () => {
  const r = runScript('03-internal-routes', [], { ADMISSION_GUARD: 'warn' })
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /admission guard \(warn\): 1 changed, 1 unchanged$/m)
  assert.equal(JSON.parse(kubectl('get', VAPB, POLICY, '-o', 'json').stdout).spec.validationActions, ['Warn', 'Audit'])
  untilEnforced('warn')
  const created = create(WARN_FORM.yaml)
  try {
    assert.is(created.code, 0, created.output)
    assert.ok(
      created.stderr.includes(`Warning: Validation failed for ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}': ${WARN_FORM.message}`),
      created.stderr,
    )
    assert.ok(exists(WARN_FORM.kind, WARN_FORM.name, WARN_FORM.namespace))
  } finally {
    remove(WARN_FORM)
  }
  assert.is(verifyGuardCheck({ ADMISSION_GUARD: 'warn' }).status, 'pass')
  // 04 with deny configured sees the binding only warns
  const mismatch = verifyGuardCheck()
  assert.is(mismatch.status, 'fail')
  assert.match(mismatch.detail, /validationActions are \[Warn, Audit\], ADMISSION_GUARD=deny wants \[Deny\]/)
})

mt('off: 03 removes the policy and binding, a rerun writes nothing, and the route is created without a word', () => {
  const r = runScript('03-internal-routes', [], { ADMISSION_GUARD: 'off' })
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 2 unchanged; admission guard \(off\): 2 deleted$/m)
  assert.not.ok(exists(VAP, POLICY))
  assert.not.ok(exists(VAPB, POLICY))
  untilEnforced('off')
  const before = ownedState()
  const again = runScript('03-internal-routes', [], { ADMISSION_GUARD: 'off' })
  assert.match(again.stdout, /^03-internal-routes: 2 unchanged$/m)
  assert.equal(ownedState(), before)
  const created = create(WARN_FORM.yaml)
  try {
    assert.is(created.code, 0, created.output)
    assert.not.match(created.stderr, /Warning/)
  } finally {
    remove(WARN_FORM)
  }
  assert.is(verifyGuardCheck({ ADMISSION_GUARD: 'off' }).status, 'skip')
})

mt('--dry-run shows the policy and binding it would create, and writes nothing', () => {
  const before = ownedState()
  const r = runScript('03-internal-routes', ['--dry-run'], DENY)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 2 unchanged; admission guard \(deny\): 2 would be created$/m)
  assert.match(r.stderr, /\+kind: ValidatingAdmissionPolicy\n/)
  assert.match(r.stderr, /\+kind: ValidatingAdmissionPolicyBinding\n/)
  assert.equal(ownedState(), before)
  assert.not.ok(exists(VAP, POLICY))
})

mt('a policy of the same name that the kit did not create is refused, not adopted, and off leaves it alone', () => {
  applyYaml(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${POLICY}}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  validations: [{expression: 'true'}]
`)
  const r = runScript('03-internal-routes', [], DENY)
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, new RegExp(`ValidatingAdmissionPolicy ${POLICY} was not created by homelab-ingress`))
  assert.not.ok(exists(VAPB, POLICY), 'the binding was created although 03 refused')
  const policy = JSON.parse(kubectl('get', VAP, POLICY, '-o', 'json').stdout)
  assert.is(policy.metadata.labels, undefined)
  const off = runScript('03-internal-routes', [], { ADMISSION_GUARD: 'off' })
  assert.is(off.code, 0, off.output)
  assert.ok(exists(VAP, POLICY), 'off deleted a policy the kit did not create')
  const check = verifyGuardCheck()
  assert.is(check.status, 'fail')
  assert.match(check.detail, /a policy of that name exists that this configuration did not create/)
  kubectl('delete', VAP, POLICY)
})

modes.run()

// ---
const old = suite('integration: a cluster without ValidatingAdmissionPolicy, as before Kubernetes 1.30')
const ot = cluster ? old : old.skip
const clusterSh = (...args: string[]) => sh('bash', [CLUSTER_SH, ...args])
// The kube-apiserver of the test cluster restarted with both kinds switched off, and the admission
// plugin that enforces them (without its kinds it refuses every write, "not yet ready"): it serves
// admissionregistration.k8s.io/v1 (webhooks) without them, as 1.28 and 1.29 do.
const WITHOUT_VAP = [
  '--runtime-config=admissionregistration.k8s.io/v1/validatingadmissionpolicies=false,admissionregistration.k8s.io/v1/validatingadmissionpolicybindings=false',
  '--disable-admission-plugins=ValidatingAdmissionPolicy',
]

// uvu swallows an error thrown by before(): keep it and fail the test with it.
let oldSetup: Error | undefined
old.before(() => {
  if (!cluster) return
  try {
    clusterSh('stop-apiserver')
    clusterSh('start-apiserver', ...WITHOUT_VAP)
  } catch (err) {
    oldSetup = err as Error
  }
})

old.after(() => {
  if (!cluster) return
  clusterSh('stop-apiserver')
  clusterSh('start-apiserver')
})

ot('03 says the guard cannot be installed and carries on; 04 reports it skipped', () => {
  if (oldSetup) throw oldSetup
  assert.is(kubectlMaybe('get', VAP).code, 1, 'the API server still serves ValidatingAdmissionPolicy')
  const r = runScript('03-internal-routes', [], DENY)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^03-internal-routes: 2 unchanged; admission guard \(deny\): not available before Kubernetes 1\.30, the route audit alone$/m)
  assert.match(r.stderr, /this cluster does not serve ValidatingAdmissionPolicy \(admissionregistration\.k8s\.io\/v1, Kubernetes 1\.30 or newer\): ADMISSION_GUARD=deny cannot be installed/)
  const check = verifyGuardCheck()
  assert.is(check.status, 'skip')
  assert.match(check.detail, /this cluster has no ValidatingAdmissionPolicy/)
  const down = runScript('03-internal-routes', ['--dry-run'], { ADMISSION_GUARD: 'off' })
  assert.is(down.code, 0, down.output)
  assert.match(down.stdout, /^03-internal-routes: 2 unchanged$/m)
})

old.run()

// ---
const teardown = suite('integration: teardown removes the guard with everything else')
const tt = cluster ? teardown : teardown.skip

tt("99-teardown deletes this configuration's policy and binding", () => {
  const up = runScript('03-internal-routes', [], DENY)
  assert.is(up.code, 0, up.output)
  assert.match(up.stdout, /admission guard \(deny\): 2 created$/m)
  const down = runScript('99-teardown', [], DENY)
  assert.is(down.code, 0, down.output)
  assert.match(down.stderr, new RegExp(`ValidatingAdmissionPolicyBinding ${POLICY}: deleted\n.*ValidatingAdmissionPolicy ${POLICY}: deleted`))
  assert.not.ok(exists(VAP, POLICY))
  assert.not.ok(exists(VAPB, POLICY))
})

teardown.run()
