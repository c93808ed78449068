/**
 * The route audit (lib/verify/audit.ts) on API objects recorded from the test cluster (converged.json,
 * rogue-routes.json, and audit-forms.json: the forms of test/recorded/audit-forms.ts), plus
 * hand-written ones for what the cluster's CRDs cannot store (hand-written-audit-forms.json).
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  auditIngresses,
  auditIngressRoutes,
  auditSettings,
  defaultEntrypoints,
  internalServicesReached,
  traefikIngressClassNames,
  traefikServesIngress,
} from '../lib/verify/audit.ts'
import type { Obj } from '../lib/verify/checks.ts'
import { loadConfig } from '../lib/config/load.ts'
import { adminHosts, INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
const HOSTS = adminHosts(config) // traefik, argocd, longhorn .home.example
const recorded = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'recorded', `${name}.json`), 'utf8'))
const converged = recorded('converged')
const rogue = recorded('rogue-routes')
const forms = recorded('audit-forms')
const handWritten = recorded('hand-written-audit-forms')
const ALL_ENTRYPOINTS = ['intweb', 'intwebsec', 'metrics', 'traefik', 'web', 'websecure']
const INTERNAL_DEFAULTS = { defaultEntrypoints: INTERNAL_ENTRYPOINTS }

/** The recorded Traefik pod, started with extra arguments. */
function podWith(...args: string[]): Obj {
  const pod = structuredClone(converged.pods[0])
  pod.spec.containers[0].args.push(...args)
  return pod
}
const routeChecks = (options = {}) =>
  auditIngressRoutes(forms.ingressRoutes, HOSTS, PUBLIC_ENTRYPOINTS, { ...options, traefikServices: forms.traefikServices })
const handWrittenChecks = (options = {}) =>
  auditIngressRoutes(handWritten.ingressRoutes, HOSTS, PUBLIC_ENTRYPOINTS, { ...options, traefikServices: handWritten.traefikServices })
const byName = (checks: { name: string; status: string; detail: string }[], prefix: string) => checks.filter((c) => c.name.startsWith(prefix))

// ---
const defaults = suite('audit: defaultEntrypoints')

defaults('the entrypoints marked asDefault', () => {
  const args = ['--entryPoints.intweb.asDefault=true', '--entryPoints.intwebsec.asDefault=true', '--entryPoints.web.address=:8000/tcp']
  assert.equal(defaultEntrypoints(args, ALL_ENTRYPOINTS), ['intweb', 'intwebsec'])
})

defaults("none marked: every entrypoint but Traefik's own and UDP ones", () => {
  assert.equal(defaultEntrypoints(['--entryPoints.dns.address=:53/udp'], [...ALL_ENTRYPOINTS, 'dns']), ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'])
})

defaults('flags as Traefik reads them: any case, a bare flag is true, =false is not marked', () => {
  assert.equal(defaultEntrypoints(['--entrypoints.INTWEB.asdefault', '--entryPoints.web.asDefault=false'], ALL_ENTRYPOINTS), ['intweb'])
  assert.equal(defaultEntrypoints(['--entryPoints.web.asDefault=false'], ['web', 'intweb']), ['web', 'intweb'])
})

defaults.run()

// ---
const settings = suite('audit: auditSettings (from the running Traefik pods and Deployment)')

settings('the recorded pod (no asDefault): every entrypoint it defines but traefik', () => {
  assert.equal(auditSettings(converged.pods), {
    defaultEntrypoints: ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'],
    defaultRuleSyntax: 'v3',
    ingressProviderClass: '',
  })
})

settings('asDefault on the internal entrypoints', () => {
  const pod = podWith('--entryPoints.intweb.asDefault=true', '--entryPoints.intwebsec.asDefault=true')
  assert.equal(auditSettings([pod]).defaultEntrypoints, ['intweb', 'intwebsec'])
})

settings('mid-rollout, pods with different arguments: the union of their defaults', () => {
  const next = podWith('--entryPoints.intweb.asDefault=true', '--entryPoints.intwebsec.asDefault=true')
  assert.equal(auditSettings([next, converged.pods[0]]).defaultEntrypoints, ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'])
})

settings('rule syntax and the Ingress provider class', () => {
  const pod = podWith('--core.defaultRuleSyntax=v2', '--providers.kubernetesingress.ingressClass=traefik-public')
  assert.equal(auditSettings([pod]), { defaultEntrypoints: ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'], defaultRuleSyntax: 'v2', ingressProviderClass: 'traefik-public' })
})

settings("a Deployment's pod template is read like a pod", () => {
  const pod = podWith('--entryPoints.intweb.asDefault=true', '--entryPoints.intwebsec.asDefault=true')
  const deployment = { metadata: { name: 'traefik', namespace: 'traefik' }, spec: { template: { spec: pod.spec } } }
  assert.equal(auditSettings([deployment]).defaultEntrypoints, ['intweb', 'intwebsec'])
  assert.equal(auditSettings([deployment, converged.pods[0]]).defaultEntrypoints, ['intweb', 'intwebsec', 'metrics', 'web', 'websecure'])
})

settings('no pod: nothing known (every entrypoint)', () => {
  assert.equal(auditSettings([]), {})
})

settings.run()

// ---
const routes = suite('audit: IngressRoutes')

routes('the converged cluster passes, with the settings of its own pod', () => {
  const checks = auditIngressRoutes(converged.ingressRoutes, HOSTS, PUBLIC_ENTRYPOINTS, auditSettings(converged.pods))
  assert.equal(
    checks.map((c) => [c.name, c.status, c.detail]),
    [
      ['IngressRoute argocd/argocd-internal (argocd.home.example) only on internal entrypoints', 'pass', 'intweb, intwebsec'],
      ['IngressRoute traefik/traefik-dashboard (traefik.home.example) only on internal entrypoints', 'pass', 'intweb, intwebsec'],
    ],
  )
})

routes('a HostRegexp route for an admin host on web fails', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/argocd-regexp '), [
    { name: 'IngressRoute default/argocd-regexp (argocd.home.example) only on internal entrypoints', status: 'fail', detail: 'it is bound to public entrypoint web' },
  ])
})

routes('an admin host in an || fails', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/blog-or-longhorn ').map((c) => [c.name, c.status]), [
    ['IngressRoute default/blog-or-longhorn (longhorn.home.example) only on internal entrypoints', 'fail'],
  ])
})

routes('a TraefikService chain to api@internal on websecure fails, naming the chain', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/status-page '), [
    {
      name: "IngressRoute default/status-page (Traefik's API/dashboard) only on internal entrypoints",
      status: 'fail',
      detail: 'it is bound to public entrypoint websecure (api@internal through TraefikService default/status-split -> TraefikService default/status-mirror)',
    },
  ])
})

routes('a TraefikService cycle ends, and reaches no admin service', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/loop '), [])
})

routes('no entryPoints: internal when the default entrypoints are internal, public otherwise', () => {
  // The recorded pod has no asDefault: Traefik's defaults are all its entrypoints but `traefik`.
  const name = 'IngressRoute default/argocd-no-entrypoints (argocd.home.example) only on internal entrypoints'
  assert.equal(byName(routeChecks(INTERNAL_DEFAULTS), name), [{ name, status: 'pass', detail: "it lists no entryPoints: Traefik's default entrypoints are intweb, intwebsec" }])
  assert.equal(byName(routeChecks(), name), [{ name, status: 'fail', detail: 'it lists no entryPoints, so Traefik serves it on every entrypoint, public ones included' }])
  assert.equal(byName(routeChecks(auditSettings(forms.pods)), name), [
    { name, status: 'fail', detail: 'it lists no entryPoints, so Traefik serves it on its default entrypoints (intweb, intwebsec, metrics, web, websecure), public web, websecure included' },
  ])
})

routes("a public catch-all (no Host matcher) is a public app's, not reported", () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/blog-catchall '), [])
})

routes('a rule Traefik accepts but the audit cannot read, on a public entrypoint, fails and says why', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/unreadable-regexp '), [
    {
      name: 'IngressRoute default/unreadable-regexp route 1 serves no admin host on public entrypoints',
      status: 'fail',
      detail:
        'cannot tell: HostRegexp(`^\\pL+\\.home\\.example$`): Unicode classes (\\p, \\P) are not translated; it is on websecure. Use Host(...) matchers or a plainer HostRegexp, or bind it to internal entrypoints',
    },
  ])
})

routes('a rule Traefik rejects, on a public entrypoint, warns (its router serves nothing)', () => {
  const checks = byName(routeChecks(), 'IngressRoute default/single-quotes ')
  assert.equal(checks.map((c) => [c.name, c.status]), [['IngressRoute default/single-quotes route 1 serves no admin host on public entrypoints', 'warn']])
  assert.match(checks[0].detail, /^Traefik rejects this rule: single quotes .*; Traefik serves nothing for this router, fix or remove it/)
})

routes('a route of v2 syntax is read with v2 rules: several hosts in one Host', () => {
  assert.equal(byName(routeChecks(), 'IngressRoute default/v2-hosts ').map((c) => [c.name, c.status]), [
    ['IngressRoute default/v2-hosts (argocd.home.example) only on internal entrypoints', 'fail'],
  ])
})

routes("a child route lands on its parent's entrypoints, whatever the defaults (hand-written)", () => {
  assert.equal(byName(handWrittenChecks(INTERNAL_DEFAULTS), 'IngressRoute default/argocd-under-edge '), [
    {
      name: 'IngressRoute default/argocd-under-edge (argocd.home.example) only on internal entrypoints',
      status: 'fail',
      detail: 'it is bound to public entrypoint websecure (through parent IngressRoute default/edge)',
    },
  ])
})

routes('a child route of a missing parent is not served (Traefik skips it) (hand-written)', () => {
  assert.equal(byName(handWrittenChecks(), 'IngressRoute default/argocd-under-missing-parent '), [])
})

routes('dashboard@internal behind a highestRandomWeight TraefikService on web fails (hand-written)', () => {
  assert.equal(byName(handWrittenChecks(), 'IngressRoute default/status-hrw '), [
    {
      name: "IngressRoute default/status-hrw (Traefik's dashboard) only on internal entrypoints",
      status: 'fail',
      detail: 'it is bound to public entrypoint web (dashboard@internal through TraefikService default/status-hrw)',
    },
  ])
})

routes('every recorded route: one of the checks above, or the kit\'s own routes passing', () => {
  assert.equal(
    routeChecks().map((c) => [c.name.split(' ')[1], c.status]),
    [
      ['argocd/argocd-internal', 'pass'],
      ['default/argocd-no-entrypoints', 'fail'],
      ['default/argocd-regexp', 'fail'],
      ['default/blog-or-longhorn', 'fail'],
      ['default/single-quotes', 'warn'],
      ['default/status-page', 'fail'],
      ['default/unreadable-regexp', 'fail'],
      ['default/v2-hosts', 'fail'],
      ['traefik/traefik-dashboard', 'pass'],
    ],
  )
})

routes('the recorded rogue routes, with the settings of the recorded pod', () => {
  const failed = auditIngressRoutes(rogue.ingressRoutes, HOSTS, PUBLIC_ENTRYPOINTS, auditSettings(rogue.pods)).filter((c) => c.status !== 'pass')
  assert.equal(
    failed.map((c) => [c.name, c.status]),
    [
      ['IngressRoute default/argocd-shortcut (argocd.home.example) only on internal entrypoints', 'fail'],
      ["IngressRoute default/dashboard-everywhere (Traefik's API/dashboard) only on internal entrypoints", 'fail'],
    ],
  )
})

routes('the rogue dashboard route with no entryPoints passes once the defaults are internal', () => {
  const check = auditIngressRoutes(rogue.ingressRoutes, HOSTS, PUBLIC_ENTRYPOINTS, INTERNAL_DEFAULTS).find((c) => c.name.includes('dashboard-everywhere'))
  assert.is(check?.status, 'pass')
})

routes.run()

// ---
const services = suite('audit: internalServicesReached')

services('a direct reference, a Kubernetes Service, and another provider', () => {
  assert.equal(internalServicesReached([{ kind: 'TraefikService', name: 'api@internal' }], 'default', []), [{ service: 'api@internal', through: [] }])
  assert.equal(internalServicesReached([{ name: 'api@internal' }], 'default', []), [])
  assert.equal(internalServicesReached([{ kind: 'TraefikService', name: 'ping@internal' }, { kind: 'TraefikService', name: 'wrr@file' }], 'default', []), [])
})

services('rest@internal through a @kubernetescrd reference in another namespace', () => {
  const ts = [{ metadata: { name: 'wrapper', namespace: 'tools' }, spec: { weighted: { services: [{ kind: 'TraefikService', name: 'rest@internal' }] } } }]
  assert.equal(internalServicesReached([{ kind: 'TraefikService', name: 'wrapper@kubernetescrd', namespace: 'tools' }], 'default', ts), [
    { service: 'rest@internal', through: ['TraefikService tools/wrapper'] },
  ])
})

services.run()

// ---
const ingresses = suite('audit: Ingresses')

const ingressChecks = (options = {}) => auditIngresses(forms.ingresses, HOSTS, PUBLIC_ENTRYPOINTS, { ...options, ingressClasses: forms.ingressClasses })

ingresses("Traefik's IngressClasses are those with its controller", () => {
  assert.equal(traefikIngressClassNames(forms.ingressClasses), ['traefik', 'traefik-public']) // nginx is not
  assert.equal(traefikIngressClassNames(forms.ingressClasses, 'traefik-public'), ['traefik-public'])
})

ingresses('class-less Ingresses: by the class annotation, as Traefik decides', () => {
  const ingress = (annotation?: string): Obj => ({ metadata: { name: 'x', annotations: annotation === undefined ? {} : { 'kubernetes.io/ingress.class': annotation } } })
  assert.ok(traefikServesIngress(ingress(), ['traefik']))
  assert.ok(traefikServesIngress(ingress('traefik'), []))
  assert.not.ok(traefikServesIngress(ingress('nginx'), ['traefik']))
  assert.not.ok(traefikServesIngress(ingress(), ['traefik'], 'traefik-public'))
  assert.ok(traefikServesIngress(ingress('traefik-public'), [], 'traefik-public'))
})

ingresses('the API server gave the class-less Ingress the default class, and left the annotated one alone', () => {
  const className = (name: string) => forms.ingresses.find((i: Obj) => i.metadata.name === name).spec.ingressClassName
  assert.is(className('longhorn-default-entrypoints'), 'traefik')
  assert.is(className('argocd-classless-annotated'), undefined)
})

const noAnnotation = 'it has no traefik.ingress.kubernetes.io/router.entrypoints annotation, so Traefik serves it on every entrypoint, public ones included'

ingresses("an Ingress of a second Traefik IngressClass, a wildcard host, a class-less one: every entrypoint fails", () => {
  assert.equal(
    ingressChecks().map((c) => [c.name, c.status, c.detail]),
    [
      ['Ingress default/argocd-classless-annotated (argocd.home.example) only on internal entrypoints', 'fail', noAnnotation],
      ['Ingress default/longhorn-default-entrypoints (longhorn.home.example) only on internal entrypoints', 'fail', noAnnotation],
      ['Ingress default/longhorn-second-class (longhorn.home.example) only on internal entrypoints', 'fail', noAnnotation],
      [
        'Ingress default/wildcard-on-web (traefik.home.example, argocd.home.example, longhorn.home.example) only on internal entrypoints',
        'fail',
        'it is bound to public entrypoint web (host *.home.example)',
      ],
    ],
  )
})

ingresses('without the annotation, internal default entrypoints pass', () => {
  assert.equal(
    ingressChecks(INTERNAL_DEFAULTS).map((c) => [c.name.split(' ')[1], c.status]),
    [
      ['default/argocd-classless-annotated', 'pass'],
      ['default/longhorn-default-entrypoints', 'pass'],
      ['default/longhorn-second-class', 'pass'],
      ['default/wildcard-on-web', 'fail'],
    ],
  )
})

ingresses('a provider limited to one class serves only that class', () => {
  assert.equal(ingressChecks({ ingressProviderClass: 'traefik-public' }).map((c) => c.name.split(' ')[1]), ['default/longhorn-second-class'])
})

ingresses('the recorded Ingresses, with the IngressClass the chart made', () => {
  const chartClass = [{ metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } }]
  const checks = auditIngresses(rogue.ingresses, HOSTS, PUBLIC_ENTRYPOINTS, { ...auditSettings(rogue.pods), ingressClasses: chartClass })
  assert.equal(
    checks.map((c) => [c.name, c.status]),
    [
      ['Ingress default/argocd-internal-ingress (argocd.home.example) only on internal entrypoints', 'pass'],
      ['Ingress default/longhorn-ingress (longhorn.home.example) only on internal entrypoints', 'fail'],
    ],
  )
})

ingresses.run()
