/**
 * The reachability audit (lib/verify/audit.ts): the kit's own routes as the test cluster recorded them
 * (converged.json: chart 41.3.0's Traefik pod, asDefault included), next to the route forms of
 * test/recorded/audit-forms.ts, with the verdicts written by hand there and here. Objects the audit
 * reads but a form cannot state (pod IPs, other providers, UDP entrypoints) are written here.
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import {
  type AuditScope,
  auditRoutes,
  auditSettings,
  defaultEntrypoints,
  type RouteObjects,
  traefikIngressClassNames,
  traefikServesIngress,
} from '../lib/verify/audit.ts'
import type { Check, Obj } from '../lib/verify/checks.ts'
import { loadConfig } from '../lib/config/load.ts'
import { INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS } from '../lib/render/render.ts'
import { adminBackends } from '../lib/steps/verify.ts'
import { AUDIT_FORM_VERDICTS, AUDIT_FORMS, AUDIT_FORMS_CLEAN } from './recorded/audit-forms.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
const converged = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'recorded', 'converged.json'), 'utf8'))
const ALL_ENTRYPOINTS = ['intweb', 'intwebsec', 'metrics', 'traefik', 'web', 'websecure']

const forms: Obj[] = YAML.parseAllDocuments(AUDIT_FORMS).map((d) => d.toJS())
const ofKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind)
/** The route objects of a list of API objects, by kind, plus the kit's converged ones. */
function objectsOf(extra: Obj[], withKit = true): RouteObjects {
  const all = [...(withKit ? [...converged.ingressRoutes.map((r: Obj) => ({ kind: 'IngressRoute', ...r })), ...converged.allServices.map((s: Obj) => ({ kind: 'Service', ...s })), ...converged.pods.map((p: Obj) => ({ kind: 'Pod', ...p }))] : []), ...extra]
  return {
    ingressRoutes: ofKind(all, 'IngressRoute'),
    ingressRouteTCPs: ofKind(all, 'IngressRouteTCP'),
    ingressRouteUDPs: ofKind(all, 'IngressRouteUDP'),
    ingresses: ofKind(all, 'Ingress'),
    ingressClasses: [{ metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } }],
    traefikServices: ofKind(all, 'TraefikService'),
    middlewares: ofKind(all, 'Middleware'),
    services: ofKind(all, 'Service'),
    endpointSlices: ofKind(all, 'EndpointSlice'),
    pods: ofKind(all, 'Pod'),
  }
}
const scope = (more: Partial<AuditScope> = {}): AuditScope => ({
  ...auditSettings(converged.pods),
  publicEntrypoints: PUBLIC_ENTRYPOINTS,
  admin: adminBackends(config),
  traefik: { namespace: 'traefik', podLabels: converged.pods.map((p: Obj) => p.metadata.labels) },
  internalIp: config.internalIp,
  internalEntrypoints: INTERNAL_ENTRYPOINTS,
  ...more,
})
const verdicts = (checks: Check[]) => checks.filter((c) => / only on internal entrypoints$| the audit can judge$/.test(c.name)).map((c) => [c.name.split(' ').slice(0, 2).join(' '), c.status])
const detailOf = (checks: Check[], object: string) => checks.filter((c) => c.name.startsWith(`${object} `)).map((c) => c.detail).join(' | ')
const summary = (checks: Check[]) => checks.find((c) => c.name === 'Routers on public entrypoints reach no admin UI')!

// ---
const settings = suite('audit: the running Traefik (recorded: chart 41.3.0)')

settings('the recorded Traefik pod comes from chart 41.3.0, with intweb and intwebsec as default entrypoints', () => {
  assert.is(converged.pods[0].metadata.labels['helm.sh/chart'], 'traefik-41.3.0')
  assert.equal(auditSettings(converged.pods).defaultEntrypoints, ['intweb', 'intwebsec'])
  assert.equal(auditSettings(converged.pods).entrypointPorts, { intweb: 8001, intwebsec: 8444, metrics: 9100, traefik: 8080, web: 8000, websecure: 8443 })
  assert.is(auditSettings(converged.pods).allowCrossNamespace, false)
})

settings('defaultEntrypoints: asDefault ones, else all but traefik and UDP', () => {
  assert.equal(defaultEntrypoints(['--entryPoints.intweb.asDefault=true', '--entryPoints.intwebsec.asDefault=true'], ALL_ENTRYPOINTS), ['intweb', 'intwebsec'])
  assert.equal(defaultEntrypoints(['--entryPoints.dns.address=:53/udp'], [...ALL_ENTRYPOINTS, 'dns']), ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'])
  assert.equal(defaultEntrypoints(['--entrypoints.INTWEB.asdefault', '--entryPoints.web.asDefault=false'], ALL_ENTRYPOINTS), ['intweb'])
})

settings('nothing known: no defaults, every entrypoint', () => {
  assert.equal(auditSettings([]), {})
})

settings.run()

// ---
const kit = suite("audit: the kit's own routes")

kit('converged: the dashboard and ArgoCD reach admin UIs on internal entrypoints only', () => {
  const checks = auditRoutes(objectsOf([]), scope())
  assert.equal(
    checks.map((c) => [c.name, c.status, c.detail]),
    [
      ['IngressRoute argocd/argocd-internal (argocd.home.example) only on internal entrypoints', 'pass', 'intweb, intwebsec'],
      ["IngressRoute traefik/traefik-dashboard (Traefik's API/dashboard) only on internal entrypoints", 'pass', 'intweb, intwebsec'],
      ['Routers on public entrypoints reach no admin UI', 'pass', '0 routers on web, websecure judged by what they reach (any host, path or SNI)'],
    ],
  )
})

kit.run()

// ---
const reach = suite('audit: every form, judged by what it reaches')

reach('each form gets the verdict written for it; public apps and refused references are not named', () => {
  const checks = auditRoutes(objectsOf(forms), scope())
  const got = verdicts(checks).filter(([name]) => !/^IngressRoute (argocd\/argocd-internal|traefik\/traefik-dashboard)$/.test(name as string))
  assert.equal(got.sort(), [...AUDIT_FORM_VERDICTS].sort())
  for (const clean of AUDIT_FORMS_CLEAN) assert.not.ok(checks.some((c) => c.name.startsWith(`${clean} `)), `${clean} is named`)
  assert.is(summary(checks).status, 'fail')
  assert.match(summary(checks).detail, /^16 routers on web, websecure judged by what they reach .*; 11 route objects above fail$/)
})

reach('the way to the admin UI is named, with the fix', () => {
  const checks = auditRoutes(objectsOf(forms), scope())
  assert.is(
    detailOf(checks, 'IngressRoute argocd/status-public'),
    'on public web, websecure, it reaches argocd.home.example: Service argocd/argocd-server (argocd.home.example); fix: set its entryPoints to intweb, intwebsec, or point it at a public app\'s backend',
  )
  assert.match(detailOf(checks, 'IngressRoute argocd/alias-public'), /Service argocd\/argocd-alias -> pod argocd\/argocd-server-0 of argocd\.home\.example \(the selector app\.kubernetes\.io\/name=argocd-server selects it\)/)
  assert.match(detailOf(checks, 'IngressRoute argocd/part-of-public'), /Service argocd\/argocd-everything -> pod argocd\/argocd-server-0 of argocd\.home\.example/)
  assert.match(detailOf(checks, 'IngressRoute default/status-page'), /TraefikService default\/status-split -> TraefikService default\/status-mirror -> api@internal/)
  assert.match(detailOf(checks, 'IngressRoute longhorn-system/shop-error-pages'), /Middleware longhorn-system\/shop-chain -> Middleware longhorn-system\/longhorn-errors -> its error page -> Service longhorn-system\/longhorn-frontend/)
  assert.match(detailOf(checks, 'IngressRoute longhorn-system/by-hand-public'), /Service longhorn-system\/longhorn-by-hand -> endpoint 10\.244\.99\.9 \(pod longhorn-system\/longhorn-ui-0 of longhorn\.home\.example\)/)
  assert.match(detailOf(checks, 'IngressRoute traefik/backdoor'), /Service traefik\/traefik-backdoor -> the Traefik pods \(selector app\.kubernetes\.io\/name=traefik\) -> Traefik's entrypoint intweb/)
  assert.match(detailOf(checks, 'IngressRouteTCP longhorn-system/longhorn-any-sni'), /^on public websecure, it reaches longhorn\.home\.example/)
  assert.match(detailOf(checks, 'Ingress argocd/argocd-default-backend'), /^default backend: on public web, .*fix: set the annotation traefik\.ingress\.kubernetes\.io\/router\.entrypoints: intweb,intwebsec/)
})

reach('a Service sharing the admin pods is caught by its selector alone when no admin pod runs', () => {
  const withoutPods = forms.filter((o) => o.kind !== 'Pod')
  const checks = auditRoutes(objectsOf(withoutPods), scope())
  assert.equal(verdicts(checks).filter(([n]) => n === 'IngressRoute argocd/alias-public'), [['IngressRoute argocd/alias-public', 'fail']])
  assert.match(detailOf(checks, 'IngressRoute argocd/alias-public'), /selects every pod argocd\/argocd-server selects/)
  // a looser selector with no pod to compare: it may select other pods, it need not select these
  assert.not.ok(checks.some((c) => c.name.startsWith('IngressRoute argocd/part-of-public ')))
})

reach('endpoints by address: an admin pod IP, or INTERNAL_IP', () => {
  const pod = forms.find((o) => o.kind === 'Pod' && o.metadata.name === 'longhorn-ui-0')!
  const withIp = { ...pod, status: { podIP: '10.244.7.7' } }
  const slice = (address: string): Obj => ({
    kind: 'EndpointSlice',
    metadata: { name: 'by-ip', namespace: 'default', labels: { 'kubernetes.io/service-name': 'raw' } },
    ports: [{ port: 8000 }],
    endpoints: [{ addresses: [address] }],
  })
  const rest: Obj[] = [
    withIp,
    { kind: 'Service', metadata: { name: 'longhorn-frontend', namespace: 'longhorn-system' }, spec: { selector: { app: 'longhorn-ui' }, ports: [{ port: 80 }] } },
    { kind: 'Service', metadata: { name: 'raw', namespace: 'default' }, spec: { ports: [{ port: 80, targetPort: 8000 }] } },
    { kind: 'IngressRoute', metadata: { name: 'raw-route', namespace: 'default' }, spec: { entryPoints: ['web'], routes: [{ kind: 'Rule', match: 'Host(`x`)', services: [{ name: 'raw', port: 80 }] }] } },
  ]
  assert.match(detailOf(auditRoutes(objectsOf([...rest, slice('10.244.7.7')]), scope()), 'IngressRoute default/raw-route'), /endpoint 10\.244\.7\.7 \(pod longhorn-system\/longhorn-ui-0 of longhorn\.home\.example\)/)
  assert.match(detailOf(auditRoutes(objectsOf([...rest, slice(config.internalIp)]), scope()), 'IngressRoute default/raw-route'), /INTERNAL_IP, the admin address/)
  assert.not.ok(auditRoutes(objectsOf([...rest, slice('192.0.2.10')]), scope()).some((c) => c.status === 'fail'), 'a NAS on the LAN is not an admin UI')
})

reach('references across namespaces count only where Traefik allows them', () => {
  const cross = (allow: boolean | undefined) => verdicts(auditRoutes(objectsOf(forms), scope({ allowCrossNamespace: allow }))).filter(([n]) => n === 'IngressRoute default/cross-namespace')
  assert.equal(cross(false), [])
  assert.equal(cross(true), [['IngressRoute default/cross-namespace', 'fail']])
  assert.equal(cross(undefined), [['IngressRoute default/cross-namespace', 'fail']], 'unknown settings: followed')
})

reach('ExternalName Services: followed where Traefik allows them, to a Service or to INTERNAL_IP', () => {
  const extra: Obj[] = [
    { kind: 'Service', metadata: { name: 'to-argocd', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'argocd-server.argocd.svc.cluster.local' } },
    { kind: 'Service', metadata: { name: 'to-lan', namespace: 'default' }, spec: { type: 'ExternalName', externalName: config.internalIp } },
    { kind: 'Service', metadata: { name: 'to-web', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'example.org' } },
    ...['to-argocd', 'to-lan', 'to-web'].map((s) => ({ kind: 'IngressRoute', metadata: { name: `via-${s}`, namespace: 'default' }, spec: { entryPoints: ['websecure'], routes: [{ kind: 'Rule', match: 'PathPrefix(`/`)', services: [{ name: s, port: 80 }] }] } })),
  ]
  const judged = (allow: boolean | undefined) => verdicts(auditRoutes(objectsOf([...forms, ...extra]), scope({ allowExternalNameServices: allow }))).filter(([n]) => String(n).includes('/via-'))
  assert.equal(judged(true), [['IngressRoute default/via-to-argocd', 'fail'], ['IngressRoute default/via-to-lan', 'fail']])
  assert.equal(judged(false), [])
})

reach("a service of another provider on a public entrypoint fails closed, saying why and how", () => {
  const route: Obj = { kind: 'IngressRoute', metadata: { name: 'file-backed', namespace: 'default' }, spec: { entryPoints: ['web'], routes: [{ kind: 'Rule', match: 'PathPrefix(`/`)', services: [{ name: 'wrr@file', kind: 'TraefikService' }] }] } }
  const checks = auditRoutes(objectsOf([route]), scope())
  const check = checks.find((c) => c.name.startsWith('IngressRoute default/file-backed'))!
  assert.is(check.status, 'fail')
  assert.is(check.detail, "on public web: cannot tell what wrr@file reaches: wrr@file is a service of Traefik's file provider, which the audit cannot read from the cluster; use a Service or a TraefikService of this cluster, or bind the route to internal entrypoints")
  const internal = { ...route, spec: { ...route.spec, entryPoints: ['intweb'] } }
  assert.not.ok(auditRoutes(objectsOf([internal]), scope()).some((c) => c.status === 'fail'), 'on an internal entrypoint it is no finding')
})

reach("Traefik's admin services, and only those", () => {
  const to = (service: string, entryPoints?: string[]): Obj => ({ kind: 'IngressRoute', metadata: { name: service.replace('@', '-'), namespace: 'default' }, spec: { ...(entryPoints ? { entryPoints } : {}), routes: [{ kind: 'Rule', match: 'PathPrefix(`/`)', services: [{ name: service, kind: 'TraefikService' }] }] } })
  const checks = auditRoutes(objectsOf(['api@internal', 'dashboard@internal', 'rest@internal', 'prometheus@internal', 'ping@internal', 'noop@internal'].map((s) => to(s, ['web']))), scope())
  assert.equal(verdicts(checks).filter(([n]) => String(n).startsWith('IngressRoute default/')), [
    ['IngressRoute default/api-internal', 'fail'],
    ['IngressRoute default/dashboard-internal', 'fail'],
    ['IngressRoute default/rest-internal', 'fail'],
    ['IngressRoute default/prometheus-internal', 'fail'],
  ])
  // no entryPoints: the defaults decide; unknown defaults mean every entrypoint
  assert.equal(verdicts(auditRoutes(objectsOf([to('api@internal')]), scope())).filter(([n]) => n === 'IngressRoute default/api-internal'), [['IngressRoute default/api-internal', 'pass']])
  assert.equal(verdicts(auditRoutes(objectsOf([to('api@internal')]), scope({ defaultEntrypoints: undefined }))).filter(([n]) => n === 'IngressRoute default/api-internal'), [['IngressRoute default/api-internal', 'fail']])
})

reach("a child IngressRoute lands on its parents' entrypoints; a missing parent serves nothing", () => {
  const parent = (entryPoints: string[]): Obj => ({ kind: 'IngressRoute', metadata: { name: 'edge', namespace: 'argocd' }, spec: { entryPoints, routes: [{ kind: 'Rule', match: 'Host(`edge.example.com`)', services: [{ name: 'public-app', port: 80 }] }] } })
  const child: Obj = { kind: 'IngressRoute', metadata: { name: 'under-edge', namespace: 'argocd' }, spec: { entryPoints: ['intweb'], parentRefs: [{ name: 'edge' }], routes: [{ kind: 'Rule', match: 'PathPrefix(`/argocd`)', services: [{ name: 'argocd-server', port: 80 }] }] } }
  const services = forms.filter((o) => o.kind === 'Service')
  const onWeb = auditRoutes(objectsOf([...services, parent(['web']), child]), scope())
  assert.equal(verdicts(onWeb).filter(([n]) => n === 'IngressRoute argocd/under-edge'), [['IngressRoute argocd/under-edge', 'fail']])
  assert.match(detailOf(onWeb, 'IngressRoute argocd/under-edge'), /through parent IngressRoute argocd\/edge.*fix: move its parent \(parent IngressRoute argocd\/edge\) to intweb, intwebsec/)
  assert.equal(verdicts(auditRoutes(objectsOf([...services, parent(['intwebsec']), child]), scope())).filter(([n]) => n === 'IngressRoute argocd/under-edge'), [['IngressRoute argocd/under-edge', 'pass']])
  assert.not.ok(auditRoutes(objectsOf([...services, child]), scope()).some((c) => c.name.startsWith('IngressRoute argocd/under-edge')))
})

reach('UDP routes land on every UDP entrypoint when they name none', () => {
  const udp: Obj = { kind: 'IngressRouteUDP', metadata: { name: 'syslog', namespace: 'longhorn-system' }, spec: { routes: [{ services: [{ name: 'longhorn-frontend', port: 80 }] }] } }
  const services = forms.filter((o) => o.kind === 'Service')
  const withPublicUdp = scope({ publicEntrypoints: [...PUBLIC_ENTRYPOINTS, 'dns'], udpEntrypoints: ['dns'] })
  assert.equal(verdicts(auditRoutes(objectsOf([...services, udp]), withPublicUdp)), [
    ['IngressRoute argocd/argocd-internal', 'pass'],
    ['IngressRoute traefik/traefik-dashboard', 'pass'],
    ['IngressRouteUDP longhorn-system/syslog', 'fail'],
  ])
  assert.equal(verdicts(auditRoutes(objectsOf([...services, udp]), scope({ udpEntrypoints: [] }))).filter(([n]) => String(n).includes('syslog')), [['IngressRouteUDP longhorn-system/syslog', 'pass']])
})

reach("an Ingress's Middlewares annotation: an errors page on an admin UI", () => {
  const services = forms.filter((o) => o.kind === 'Service' || o.kind === 'Middleware')
  const ingress: Obj = {
    kind: 'Ingress',
    metadata: { name: 'shop', namespace: 'longhorn-system', annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure', 'traefik.ingress.kubernetes.io/router.middlewares': 'longhorn-system-longhorn-errors@kubernetescrd' } },
    spec: { ingressClassName: 'traefik', rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', backend: { service: { name: 'shop', port: { number: 80 } } } }] } }] },
  }
  assert.match(detailOf(auditRoutes(objectsOf([...services, ingress]), scope()), 'Ingress longhorn-system/shop'), /^rule shop\.example\.com \/: on public websecure, it reaches longhorn\.home\.example: Middleware longhorn-system\/longhorn-errors -> its error page/)
})

reach.run()

// ---
const ingresses = suite("audit: which Ingresses Traefik serves")

ingresses("Traefik's IngressClasses are those with its controller", () => {
  const classes: Obj[] = [
    { metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } },
    { metadata: { name: 'traefik-public' }, spec: { controller: 'traefik.io/ingress-controller' } },
    { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } },
  ]
  assert.equal(traefikIngressClassNames(classes), ['traefik', 'traefik-public'])
  assert.equal(traefikIngressClassNames(classes, 'traefik-public'), ['traefik-public'])
})

ingresses('class-less Ingresses: by the class annotation, as Traefik decides', () => {
  const ingress = (annotation?: string): Obj => ({ metadata: { name: 'x', annotations: annotation === undefined ? {} : { 'kubernetes.io/ingress.class': annotation } } })
  assert.ok(traefikServesIngress(ingress(), ['traefik']))
  assert.ok(traefikServesIngress(ingress('traefik'), []))
  assert.not.ok(traefikServesIngress(ingress('nginx'), ['traefik']))
  assert.not.ok(traefikServesIngress(ingress(), ['traefik'], 'traefik-public'))
  assert.ok(traefikServesIngress(ingress('traefik-public'), [], 'traefik-public'))
})

ingresses("another controller's Ingress to an admin UI on web is not Traefik's to judge", () => {
  const nginx: Obj = { kind: 'Ingress', metadata: { name: 'argocd-nginx', namespace: 'argocd', annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'web' } }, spec: { ingressClassName: 'nginx', defaultBackend: { service: { name: 'argocd-server', port: { number: 80 } } } } }
  assert.not.ok(auditRoutes(objectsOf([nginx]), scope()).some((c) => c.name.startsWith('Ingress argocd/argocd-nginx')))
})

ingresses.run()
