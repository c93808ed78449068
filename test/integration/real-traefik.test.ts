/**
 * The kit's result, asked through the real Traefik: the chart's Deployment run as a local process
 * (real-traefik.ts), its LoadBalancer Services forwarded on the loopback addresses, Pebble as the
 * ACME server. Admin hosts answer only on the internal address; a public host gets a real
 * certificate over HTTP-01 through the external one; rogue routes are caught both by asking and by
 * 04-verify.
 */
import fs from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, installFakeApp, kubectlMaybe, resetCluster, runScript, testCluster } from './harness.ts'
import { type Answer, EXTERNAL_IP, INTERNAL_IP, type RealTraefik, realTraefikUnavailable, request, startRealTraefik, TRAEFIK_VERSION } from './real-traefik.ts'

const cluster = testCluster()
const unavailable = realTraefikUnavailable()
if (unavailable) console.log(`\n  real Traefik tests skipped: ${unavailable}\n`)

const DOMAIN = 'home.example'
// The default INTERNAL_ROUTES plus one added entry (grafana), all with their namespaces present.
const ENV = { INTERNAL_ROUTES: 'argocd=argocd/argocd-server:80,longhorn=longhorn-system/longhorn-frontend:80,grafana=monitoring/grafana:3000' }
const DASHBOARD = `traefik.${DOMAIN}`
const ADMIN_HOSTS = [DASHBOARD, `argocd.${DOMAIN}`, `longhorn.${DOMAIN}`, `grafana.${DOMAIN}`]
const PUBLIC_HOST = 'shop.public.example'
const pathFor = (host: string) => (host === DASHBOARD ? '/dashboard/' : '/')

let rt: RealTraefik | undefined
// uvu swallows an error thrown by before(): keep it and fail each test with it.
let setupError: Error | undefined
const traefik = (): RealTraefik => {
  if (setupError) throw setupError
  return rt!
}

/** Polls a request until `ok` holds (routes take ~1 s to follow a change); returns the last answer. */
async function answerWhen(ask: () => Promise<Answer>, ok: (a: Answer) => boolean, seconds = 20): Promise<Answer> {
  const deadline = Date.now() + seconds * 1000
  let last: Answer | Error = new Error('no answer')
  while (Date.now() < deadline) {
    last = await ask().catch((err: Error) => err)
    if (!(last instanceof Error) && ok(last)) return last
    await new Promise((r) => setTimeout(r, 250))
  }
  if (last instanceof Error) throw last
  return last
}

function verify(): { code: number | null; failed: { name: string; detail: string }[]; checks: any[]; output: string } {
  const r = runScript('04-verify', ['--json', '--timeout', '60'], ENV)
  const checks = r.stdout.trim() ? JSON.parse(r.stdout).checks : []
  return { code: r.code, failed: checks.filter((c: any) => c.status === 'fail'), checks, output: r.output }
}

function acmeDomains(): string[] {
  const [file] = traefik().plan.acmeStorage
  const store = JSON.parse(fs.readFileSync(file, 'utf8') || '{}')
  return Object.values(store).flatMap((resolver: any) => (resolver.Certificates ?? []).map((c: any) => c.domain.main))
}

// Pebble's certificates, like Let's Encrypt's, carry the names only in subjectAltName (empty subject).
const subjectLine = (a: Answer) =>
  `subject "${Object.entries(a.certificate?.subject ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}" (${a.certificate?.subjectaltname}), issuer CN=${a.certificate?.issuer?.CN}, serial ${a.certificate?.serialNumber}`

// ---
const real = suite('integration: the real Traefik with the kit\'s configuration')
const it = cluster && !unavailable ? real : real.skip

real.before(async () => {
  if (!cluster || unavailable) return
  try {
    resetCluster()
    kubectlMaybe('delete', 'namespace', 'monitoring', '--ignore-not-found', '--wait=true', '--timeout=120s')
    installFakeApp('argocd', 'argocd-server', 80)
    installFakeApp('longhorn-system', 'longhorn-frontend', 80)
    installFakeApp('monitoring', 'grafana', 3000)
    const r = runScript('run-all', ['--no-probe'], ENV)
    if (r.code !== 0) throw new Error(`run-all failed:\n${r.output}`)
    rt = await startRealTraefik({ pebble: true })
    console.log(`\n  real Traefik on ${rt.traefikIp}: /ping after ${rt.timings.ping} ms, routes after ${rt.timings.routes} ms${rt.grantedConfigMaps ? '; test-only ClusterRole added for configmaps' : ''}`)
  } catch (err) {
    setupError = err as Error
  }
})

it('runs the chart\'s arguments with the entrypoints on loopback, and the Services decide which address reaches which', () => {
  const { plan, traefikIp } = traefik()
  for (const [name, port] of [['web', 8000], ['websecure', 8443], ['intweb', 8001], ['intwebsec', 8444]] as const) {
    assert.ok(plan.args.includes(`--entryPoints.${name}.address=${traefikIp}:${port}/tcp`), plan.args.join('\n'))
  }
  assert.ok(plan.args.includes('--api.dashboard=true'))
  assert.ok(plan.args.some((a) => /^--providers\.kubernetescrd\.endpoint=https:\/\/127\.0\.0\.1:\d+$/.test(a)))
  const routes = plan.routes.map((r) => `${r.listen.ip}:${r.listen.port} -> ${r.target.port}`).sort()
  assert.equal(routes, [`${INTERNAL_IP}:443 -> 8444`, `${INTERNAL_IP}:80 -> 8001`, `${EXTERNAL_IP}:443 -> 8443`, `${EXTERNAL_IP}:80 -> 8000`])
})

it('every admin host answers on INTERNAL_IP ports 80 and 443 and gets 404 on EXTERNAL_IP', async () => {
  traefik()
  for (const host of ADMIN_HOSTS) {
    for (const port of [80, 443]) {
      const inside = await request(INTERNAL_IP, port, host, pathFor(host))
      // The dashboard is Traefik's own; the apps' Services have no endpoints (kwok runs no pods),
      // so Traefik answers 503 where it has a route (allowEmptyServices, the chart's default).
      assert.is(inside.status, host === DASHBOARD ? 200 : 503, `${host} on ${INTERNAL_IP}:${port}: ${inside.body}`)
      const outside = await request(EXTERNAL_IP, port, host, pathFor(host))
      assert.is(outside.status, 404, `${host} on ${EXTERNAL_IP}:${port}: ${outside.body}`)
    }
  }
  const dashboard = await request(INTERNAL_IP, 443, DASHBOARD, '/dashboard/')
  assert.match(dashboard.body, /Traefik dashboard/)
  const version = JSON.parse((await request(INTERNAL_IP, 443, DASHBOARD, '/api/version')).body)
  assert.is(version.Version, TRAEFIK_VERSION)
})

it('04-verify probes every admin host through the real Traefik and passes', () => {
  traefik()
  const r = verify()
  assert.is(r.code, 0, r.output)
  const probes = r.checks.filter((c) => / answer(s| on)/.test(c.name))
  for (const host of ADMIN_HOSTS) {
    // names as "<host> answers on INTERNAL_IP <ip>[:port]": the probe may ask more than port 80
    for (const where of [`answers on INTERNAL_IP ${INTERNAL_IP}`, `does not answer on EXTERNAL_IP ${EXTERNAL_IP}`]) {
      assert.ok(probes.some((c) => c.name.startsWith(`${host} ${where}`)), `no probe "${host} ${where}" in ${JSON.stringify(r.checks, null, 1)}`)
    }
  }
  for (const c of probes) assert.is(c.status, 'pass', `${c.name}: ${c.detail}`)
  // The matrix as a user sees it, in the test log.
  const text = runScript('04-verify', ['--timeout', '60'], ENV)
  assert.is(text.code, 0, text.output)
  const table = text.stderr.split('\n').filter((l) => /^Reachability|^ {2}host |^ {2}\S+\.home\.example /.test(l))
  assert.ok(table.length >= 5, text.stderr)
  console.log(`\n${table.join('\n')}\n`)
})

it('fail closed: an admin IngressRoute that names no entrypoints answers on INTERNAL_IP only, and 04 passes', async () => {
  traefik()
  applyYaml(`apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-no-entrypoints, namespace: argocd}
spec:
  routes:
    - kind: Rule
      match: Host(\`argocd.${DOMAIN}\`) && PathPrefix(\`/no-entrypoints\`)
      services: [{name: argocd-server, port: 80}]
`)
  try {
    for (const port of [80, 443]) {
      const inside = await answerWhen(() => request(INTERNAL_IP, port, `argocd.${DOMAIN}`, '/no-entrypoints'), (a) => a.status === 503)
      assert.is(inside.status, 503, `on ${INTERNAL_IP}:${port}: ${inside.body}`)
      const outside = await request(EXTERNAL_IP, port, `argocd.${DOMAIN}`, '/no-entrypoints')
      assert.is(outside.status, 404, `on ${EXTERNAL_IP}:${port}: ${outside.body}`)
    }
    const r = verify()
    assert.is(r.code, 0, r.output)
    const audit = r.checks.find((c) => c.name.startsWith('IngressRoute argocd/argocd-no-entrypoints'))
    assert.is(audit?.status, 'pass', JSON.stringify(audit))
  } finally {
    kubectlMaybe('delete', 'ingressroutes.traefik.io', 'argocd-no-entrypoints', '-n', 'argocd', '--wait=true')
  }
})

it('ADMIN_ALLOW_CIDRS: a client outside the ranges gets 403 on the admin hosts; one inside is served', async () => {
  traefik()
  const narrow = { ...ENV, ADMIN_ALLOW_CIDRS: '127.0.0.0/24' }
  const r = runScript('02-traefik', [], narrow)
  assert.is(r.code, 0, r.output)
  try {
    for (const port of [80, 443]) {
      const outsider = await answerWhen(() => request(INTERNAL_IP, port, DASHBOARD, '/dashboard/', { localAddress: '127.0.5.9' }), (a) => a.status === 403)
      assert.is(outsider.status, 403, `from 127.0.5.9 on ${INTERNAL_IP}:${port}: ${outsider.body}`)
      const insider = await request(INTERNAL_IP, port, DASHBOARD, '/dashboard/', { localAddress: '127.0.0.9' })
      assert.is(insider.status, 200, `from 127.0.0.9 on ${INTERNAL_IP}:${port}: ${insider.body}`)
    }
    // The public entrypoints carry no allow-list: a public host is not the admin list's business.
    const publicAnswer = await request(EXTERNAL_IP, 80, `argocd.${DOMAIN}`, '/', { localAddress: '127.0.5.9' })
    assert.is(publicAnswer.status, 404)
  } finally {
    const back = runScript('02-traefik', [], ENV)
    assert.is(back.code, 0, back.output)
    await answerWhen(() => request(INTERNAL_IP, 80, DASHBOARD, '/dashboard/', { localAddress: '127.0.5.9' }), (a) => a.status === 200)
  }
})

it('a public host gets a certificate from Pebble over HTTP-01 through EXTERNAL_IP, served on EXTERNAL_IP:443', async () => {
  const { pebble } = traefik()
  applyYaml(`apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: shop, namespace: default}
spec:
  entryPoints: [web, websecure]
  routes:
  - kind: Rule
    match: Host(\`${PUBLIC_HOST}\`)
    services: [{name: shop, port: 80}]
  tls: {certResolver: letsencrypt}
`)
  const started = Date.now()
  const served = await answerWhen(() => request(EXTERNAL_IP, 443, PUBLIC_HOST, '/', { ca: pebble!.issuerRoot }), (a) => a.authorized === true, 60)
  console.log(`  ${PUBLIC_HOST}: ${subjectLine(served)}; verified against Pebble's root after ${Date.now() - started} ms`)
  assert.ok(served.authorized, `not verified: ${served.authorizationError}; ${subjectLine(served)}`)
  assert.is(served.certificate?.subjectaltname, `DNS:${PUBLIC_HOST}`)
  assert.match(String(served.certificate?.issuer?.CN), /^Pebble Intermediate CA/)
  assert.is(served.status, 503)
  // Pebble validated through the external address (its DNS names EXTERNAL_IP), on port 80.
  assert.match(traefik().forwarderLog(), new RegExp(`^connection ${EXTERNAL_IP.replaceAll('.', '\\.')}:80 from `, 'm'))
  // The route is on the public entrypoints only.
  assert.is((await request(INTERNAL_IP, 443, PUBLIC_HOST, '/')).status, 404)
})

it('admin hosts triggered no ACME order: one order at Pebble, and acme.json holds only the public host', () => {
  const { pebble } = traefik()
  assert.is(pebble!.orders(), 1, pebble!.log())
  assert.equal(acmeDomains(), [PUBLIC_HOST])
})

it('the certificate survives a Traefik restart via acme.json, with no new order', async () => {
  const t = traefik()
  const before = await request(EXTERNAL_IP, 443, PUBLIC_HOST, '/', { ca: t.pebble!.issuerRoot })
  const orders = t.pebble!.orders()
  const started = Date.now()
  await t.restart()
  const after = await answerWhen(() => request(EXTERNAL_IP, 443, PUBLIC_HOST, '/', { ca: t.pebble!.issuerRoot }), (a) => a.authorized === true, 30)
  console.log(`  after a restart: ${subjectLine(after)} served ${Date.now() - started} ms after the old process was told to stop`)
  assert.is(after.certificate?.serialNumber, before.certificate?.serialNumber)
  assert.is(t.pebble!.orders(), orders)
})

real.run()

// ---
// Rogue routes: each answers on the external address (asked directly), and 04-verify names it.

type Rogue = {
  what: string
  yaml: string
  /** kubectl delete arguments that remove it again */
  remove: string[]
  ask: () => Promise<Answer>
  /** the answer it gets on the external address: 503 from an app route (no endpoints), 200 from Traefik's API */
  answers: number
  /** what 04-verify's failing check must name */
  names: string
}

const ROGUES: Rogue[] = [
  {
    what: 'an admin IngressRoute on web',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-public, namespace: argocd}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: Host(\`argocd.${DOMAIN}\`), services: [{name: argocd-server, port: 80}]}
`,
    remove: ['ingressroutes.traefik.io', 'argocd-public', '-n', 'argocd'],
    ask: () => request(EXTERNAL_IP, 80, `argocd.${DOMAIN}`),
    answers: 503,
    names: 'IngressRoute argocd/argocd-public',
  },
  {
    what: 'an admin IngressRoute on websecure only',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: longhorn-public, namespace: longhorn-system}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: Host(\`longhorn.${DOMAIN}\`), services: [{name: longhorn-frontend, port: 80}]}
`,
    remove: ['ingressroutes.traefik.io', 'longhorn-public', '-n', 'longhorn-system'],
    ask: () => request(EXTERNAL_IP, 443, `longhorn.${DOMAIN}`),
    answers: 503,
    names: 'IngressRoute longhorn-system/longhorn-public',
  },
  {
    what: 'a HostRegexp IngressRoute matching the admin hosts on web',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: grafana-wildcard, namespace: monitoring}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'HostRegexp(\`^.+\\.home\\.example$\`)', services: [{name: grafana, port: 3000}]}
`,
    remove: ['ingressroutes.traefik.io', 'grafana-wildcard', '-n', 'monitoring'],
    ask: () => request(EXTERNAL_IP, 80, `grafana.${DOMAIN}`),
    answers: 503,
    names: 'IngressRoute monitoring/grafana-wildcard',
  },
  {
    what: 'an Ingress of a second IngressClass of Traefik\'s controller',
    yaml: `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik-public}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-other-class
  namespace: argocd
  # Without it the route would land on the default entrypoints, the internal ones (fail closed).
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: web}
spec:
  ingressClassName: traefik-public
  rules:
  - host: argocd.${DOMAIN}
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
`,
    remove: ['ingresses.networking.k8s.io', 'argocd-other-class', '-n', 'argocd'],
    ask: () => request(EXTERNAL_IP, 80, `argocd.${DOMAIN}`),
    answers: 503,
    names: 'Ingress argocd/argocd-other-class',
  },
  {
    what: 'a TraefikService wrapping api@internal on websecure',
    yaml: `apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: api-wrapper, namespace: traefik}
spec:
  weighted:
    services: [{name: api@internal, kind: TraefikService}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: api-public, namespace: traefik}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: PathPrefix(\`/api\`), services: [{name: api-wrapper, kind: TraefikService}]}
`,
    remove: ['ingressroutes.traefik.io', 'api-public', '-n', 'traefik'],
    // any name without a route of its own (PUBLIC_HOST's route would win: longer rule)
    ask: () => request(EXTERNAL_IP, 443, 'anything.public.example', '/api/version'),
    answers: 200,
    names: 'traefik/api-public',
  },
]

const rogues = suite('integration: rogue routes on the real Traefik')
const rg = cluster && !unavailable ? rogues : rogues.skip

// The last suite of the file stops everything (the first one's processes serve both suites).
rogues.after(async () => {
  for (const r of ROGUES) kubectlMaybe('delete', ...r.remove, '--ignore-not-found')
  kubectlMaybe('delete', 'traefikservices.traefik.io', 'api-wrapper', '-n', 'traefik', '--ignore-not-found')
  kubectlMaybe('delete', 'ingressclass', 'traefik-public', '--ignore-not-found')
  if (rt) {
    const mem = rt.memory()
    console.log(`\n  peak memory (MB): ${Object.entries(mem).map(([k, v]) => `${k} ${Math.round(v / 1024)}`).join(', ')}`)
    await rt.stop()
  }
})

for (const rogue of ROGUES) {
  rg(`${rogue.what} answers on EXTERNAL_IP`, async () => {
    traefik()
    applyYaml(rogue.yaml)
    try {
      // Traefik may briefly see the route before what it points at (503 "no available server")
      const answer = await answerWhen(rogue.ask, (a) => a.status === rogue.answers)
      assert.is(answer.status, rogue.answers, `${rogue.what} on ${EXTERNAL_IP}: ${answer.body}`)
      if (rogue.answers === 200) assert.is(JSON.parse(answer.body).Version, TRAEFIK_VERSION)
    } finally {
      kubectlMaybe('delete', ...rogue.remove, '--wait=true')
    }
    // and it is gone again once removed
    await answerWhen(rogue.ask, (a) => a.status === 404)
  })

  rg(`${rogue.what}: 04-verify fails naming it, and passes once it is removed`, async () => {
    traefik()
    applyYaml(rogue.yaml)
    try {
      await answerWhen(rogue.ask, (a) => a.status === rogue.answers)
      const r = verify()
      assert.is(r.code, 1, r.output)
      assert.ok(r.failed.some((c) => c.name.includes(rogue.names)), `no failed check names ${rogue.names}:\n${JSON.stringify(r.failed, null, 1)}`)
    } finally {
      kubectlMaybe('delete', ...rogue.remove, '--wait=true')
    }
    await answerWhen(rogue.ask, (a) => a.status === 404)
    const clean = verify()
    assert.is(clean.code, 0, clean.output)
  })
}

rogues.run()
