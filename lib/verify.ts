/**
 * Step 04: proves the result. Waits (watches, bounded) for the Traefik pods and both LoadBalancer
 * addresses, then audits every IngressRoute in the cluster and, where this machine can reach the
 * addresses, asks Traefik for each admin host on both of them.
 *
 * The checks themselves are pure functions of API objects, so they are tested on recorded objects.
 */
import http from 'node:http'
import { retryTransient } from './cluster.ts'
import type { Config } from './config.ts'
import {
  adminHosts,
  EXTERNAL_SERVICE,
  hostsFileLine,
  INTERNAL_ENTRYPOINTS,
  INTERNAL_SERVICE,
  internalRouteManifests,
  PUBLIC_ENTRYPOINTS,
  RELEASE_NAME,
} from './render.ts'
import type { StepContext, StepResult } from './step.ts'
import { watchUntil, type WatchState } from './wait.ts'

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn'
export type Check = { name: string; status: CheckStatus; detail: string }
export type VerifyReport = { ok: boolean; context: string; checks: Check[]; hostsLine: string }

type Obj = { metadata: { name: string; namespace?: string; [k: string]: any }; spec?: any; status?: any; [k: string]: any }

// --- pure checks

export function traefikPodSelector(config: Pick<Config, 'traefikNamespace'>): string {
  return `app.kubernetes.io/name=traefik,app.kubernetes.io/instance=${RELEASE_NAME}-${config.traefikNamespace}`
}

export function podsCheck(pods: Obj[]): Check {
  const name = 'Traefik pods Running and Ready'
  if (pods.length === 0) return { name, status: 'fail', detail: 'no Traefik pod yet' }
  const notReady = pods.filter((p) => !isPodReady(p))
  if (notReady.length === 0) {
    return { name, status: 'pass', detail: pods.map((p) => `${p.metadata.name} Running`).join(', ') }
  }
  const why = notReady.map((p) => `${p.metadata.name}: ${podTrouble(p)}`).join('; ')
  return { name, status: 'fail', detail: `${pods.length - notReady.length}/${pods.length} ready (${why})` }
}

function isPodReady(pod: Obj): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !pod.metadata.deletionTimestamp &&
    (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  )
}

function podTrouble(pod: Obj): string {
  const waiting = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((c: any) => c.state?.waiting?.reason)
    .filter(Boolean)
  const unscheduled = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False')
  if (unscheduled) return `not scheduled: ${unscheduled.message ?? unscheduled.reason}`
  return [pod.status?.phase ?? 'Unknown', ...waiting].join(', ')
}

/** The newest event about one object, by its last time. */
export function latestEvent(events: Obj[], kind: string, name: string): Obj | undefined {
  const time = (e: Obj) => Date.parse(e.lastTimestamp ?? e.eventTime ?? e.series?.lastObservedTime ?? e.metadata.creationTimestamp ?? 0) || 0
  return events
    .filter((e) => e.involvedObject?.kind === kind && e.involvedObject?.name === name)
    .sort((a, b) => time(a) - time(b))
    .at(-1)
}

export function loadBalancerCheck(
  service: Obj | undefined,
  serviceName: string,
  setting: string,
  expectedIp: string,
  events: Obj[],
  allServices: Obj[] = [],
): Check {
  const name = `Service ${serviceName} EXTERNAL-IP = ${setting} ${expectedIp}`
  if (!service) return { name, status: 'fail', detail: `Service ${serviceName} does not exist (run 02-traefik)` }
  const ips: string[] = (service.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip).filter(Boolean)
  if (ips.includes(expectedIp)) {
    const pool = service.metadata.annotations?.['metallb.io/ip-allocated-from-pool']
    return { name, status: 'pass', detail: `${expectedIp}${pool ? ` from pool ${pool}` : ''}` }
  }
  const parts = [ips.length ? `has ${ips.join(', ')}` : 'EXTERNAL-IP is <pending>']
  const event = latestEvent(events, 'Service', serviceName)
  if (event && event.reason !== 'IPAllocated') parts.push(`MetalLB: ${event.reason}: ${event.message}`)
  const holder = allServices.find(
    (s) =>
      !(s.metadata.namespace === service.metadata.namespace && s.metadata.name === service.metadata.name) &&
      (s.status?.loadBalancer?.ingress ?? []).some((i: any) => i.ip === expectedIp),
  )
  if (holder) parts.push(`the address is held by Service ${holder.metadata.namespace}/${holder.metadata.name}`)
  return { name, status: 'fail', detail: parts.join('; ') }
}

/** A Service must only carry ports that lead to the entrypoints it is meant for. */
export function servicePortsCheck(service: Obj | undefined, serviceName: string, allowed: string[]): Check {
  const name = `Service ${serviceName} exposes only ${allowed.join('/')}`
  if (!service) return { name, status: 'fail', detail: `Service ${serviceName} does not exist` }
  const targets: string[] = (service.spec?.ports ?? []).map((p: any) => String(p.targetPort ?? p.name))
  const stray = targets.filter((t) => !allowed.includes(t))
  if (stray.length > 0) return { name, status: 'fail', detail: `it also exposes ${stray.join(', ')}` }
  if (targets.length === 0) return { name, status: 'fail', detail: 'it exposes no port' }
  return { name, status: 'pass', detail: targets.join(', ') }
}

/** Hosts named in a router rule's Host(...) matchers. */
export function hostsInRule(rule: string): string[] {
  const hosts: string[] = []
  for (const m of rule.matchAll(/\bHost\(([^)]*)\)/g)) {
    for (const part of m[1].split(',')) {
      const host = part.trim().replace(/^[`"']|[`"']$/g, '').toLowerCase()
      if (host) hosts.push(host)
    }
  }
  return hosts
}

/**
 * Every IngressRoute serving an admin host, or Traefik's own API, must be bound to entrypoints
 * that no public Service exposes. No entryPoints at all means every entrypoint.
 */
export function auditIngressRoutes(routes: Obj[], hosts: string[], publicEntrypoints: string[]): Check[] {
  const admin = new Set(hosts.map((h) => h.toLowerCase()))
  const checks: Check[] = []
  for (const route of routes) {
    const ref = `IngressRoute ${route.metadata.namespace}/${route.metadata.name}`
    const rules: any[] = route.spec?.routes ?? []
    const served = rules.flatMap((r) => hostsInRule(String(r.match ?? '')).filter((h) => admin.has(h)))
    const servesApi = rules.some((r) => (r.services ?? []).some((s: any) => String(s.name).endsWith('@internal') && String(s.name).startsWith('api')))
    if (served.length === 0 && !servesApi) continue
    const what = served.length ? [...new Set(served)].join(', ') : "Traefik's API/dashboard"
    const entryPoints: string[] = route.spec?.entryPoints ?? []
    const name = `${ref} (${what}) only on internal entrypoints`
    if (entryPoints.length === 0) {
      checks.push({ name, status: 'fail', detail: 'it lists no entryPoints, so Traefik serves it on every entrypoint, public ones included' })
      continue
    }
    const exposed = entryPoints.filter((e) => publicEntrypoints.includes(e))
    checks.push(
      exposed.length
        ? { name, status: 'fail', detail: `it is bound to public entrypoint${exposed.length > 1 ? 's' : ''} ${exposed.join(', ')}` }
        : { name, status: 'pass', detail: entryPoints.join(', ') },
    )
  }
  return checks
}

const ENTRYPOINTS_ANNOTATION = 'traefik.ingress.kubernetes.io/router.entrypoints'

/**
 * Plain Ingress objects are served too (the chart enables Traefik's kubernetesingress provider):
 * one of Traefik's class, or of no class, for an admin host must carry the entrypoints annotation
 * and name only internal entrypoints; without it Traefik serves it on every entrypoint.
 */
export function auditIngresses(ingresses: Obj[], hosts: string[], publicEntrypoints: string[], traefikClasses = ['traefik']): Check[] {
  const admin = new Set(hosts.map((h) => h.toLowerCase()))
  const checks: Check[] = []
  for (const ingress of ingresses) {
    const cls = ingress.spec?.ingressClassName ?? ingress.metadata.annotations?.['kubernetes.io/ingress.class']
    if (cls !== undefined && !traefikClasses.includes(cls)) continue
    const served = [...new Set<string>((ingress.spec?.rules ?? []).map((r: any) => String(r.host ?? '').toLowerCase()).filter((h: string) => admin.has(h)))]
    if (served.length === 0) continue
    const name = `Ingress ${ingress.metadata.namespace}/${ingress.metadata.name} (${served.join(', ')}) only on internal entrypoints`
    const annotation: string | undefined = ingress.metadata.annotations?.[ENTRYPOINTS_ANNOTATION]
    if (!annotation) {
      checks.push({ name, status: 'fail', detail: `it has no ${ENTRYPOINTS_ANNOTATION} annotation, so Traefik serves it on every entrypoint, public ones included` })
      continue
    }
    const exposed = annotation.split(',').map((e) => e.trim()).filter((e) => publicEntrypoints.includes(e))
    checks.push(
      exposed.length
        ? { name, status: 'fail', detail: `it is bound to public entrypoint${exposed.length > 1 ? 's' : ''} ${exposed.join(', ')}` }
        : { name, status: 'pass', detail: annotation },
    )
  }
  return checks
}

/** Which of our own routes must exist: the dashboard always, the rest where their namespace exists. */
export function expectedRoutesCheck(config: Config, routes: Obj[], namespaces: Set<string>): Check[] {
  const has = (ns: string, name: string) => routes.some((r) => r.metadata.namespace === ns && r.metadata.name === name)
  const checks: Check[] = []
  const dashboard = `${RELEASE_NAME}-dashboard`
  checks.push({
    name: `dashboard IngressRoute ${config.traefikNamespace}/${dashboard} exists`,
    status: has(config.traefikNamespace, dashboard) ? 'pass' : 'fail',
    detail: has(config.traefikNamespace, dashboard) ? 'present' : 'missing (rerun 02-traefik)',
  })
  for (const manifest of internalRouteManifests(config)) {
    const { namespace = '', name } = manifest.metadata
    const label = `IngressRoute ${namespace}/${name} exists`
    if (!namespaces.has(namespace)) {
      checks.push({ name: label, status: 'skip', detail: `namespace ${namespace} does not exist (the app is not installed)` })
    } else {
      checks.push({ name: label, status: has(namespace, name) ? 'pass' : 'fail', detail: has(namespace, name) ? 'present' : 'missing (rerun 03-internal-routes)' })
    }
  }
  return checks
}

export type ProbeResult = { reachable: boolean; status?: number; error?: string }

/** Judges one admin host asked on both addresses. A 404 is Traefik saying "no route here". */
export function probeCheck(host: string, internal: ProbeResult, external: ProbeResult, config: Pick<Config, 'internalIp' | 'externalIp'>): Check[] {
  const checks: Check[] = []
  const onInternal = `${host} answers on INTERNAL_IP ${config.internalIp}`
  if (!internal.reachable) {
    checks.push({ name: onInternal, status: 'skip', detail: `cannot reach ${config.internalIp}:80 from here (${internal.error}); run 04-verify on a machine in the LAN to probe` })
  } else if (internal.status === 404) {
    checks.push({ name: onInternal, status: 'fail', detail: 'Traefik answered 404: no route for this host on the internal entrypoints' })
  } else {
    checks.push({ name: onInternal, status: 'pass', detail: `HTTP ${internal.status}` })
  }
  const onExternal = `${host} does not answer on EXTERNAL_IP ${config.externalIp}`
  if (!external.reachable) {
    checks.push({ name: onExternal, status: 'skip', detail: `cannot reach ${config.externalIp}:80 from here (${external.error})` })
  } else if (external.status === 404) {
    checks.push({ name: onExternal, status: 'pass', detail: 'HTTP 404 (no route)' })
  } else {
    checks.push({ name: onExternal, status: 'fail', detail: `HTTP ${external.status}: the admin UI is reachable through the public address` })
  }
  return checks
}

export function probeHttp(ip: string, host: string, path: string, timeoutMs = 3000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const request = http.request({ host: ip, port: 80, path, method: 'GET', headers: { Host: host }, timeout: timeoutMs }, (response) => {
      response.resume()
      resolve({ reachable: true, status: response.statusCode })
    })
    request.on('timeout', () => request.destroy(new Error('timed out')))
    request.on('error', (err: NodeJS.ErrnoException) => resolve({ reachable: false, error: err.code ?? err.message }))
    request.end()
  })
}

// --- the step

export async function verifyIngress(ctx: StepContext & { probe: boolean }): Promise<StepResult & { report: VerifyReport }> {
  const { config, cluster, log } = ctx
  const ns = config.traefikNamespace
  log.step(`04-verify: Traefik in ${ns}, ${EXTERNAL_SERVICE} on ${config.externalIp}, ${INTERNAL_SERVICE} on ${config.internalIp}`)

  const selector = traefikPodSelector(config)
  const waitedChecks = (state: WatchState, allServices: Obj[] = []): Check[] => {
    const services = state[1]
    const events = [...state[2].values()]
    return [
      podsCheck([...state[0].values()]),
      loadBalancerCheck(services.get(`${ns}/${EXTERNAL_SERVICE}`), EXTERNAL_SERVICE, 'EXTERNAL_IP', config.externalIp, events, allServices),
      loadBalancerCheck(services.get(`${ns}/${INTERNAL_SERVICE}`), INTERNAL_SERVICE, 'INTERNAL_IP', config.internalIp, events, allServices),
    ]
  }
  let lastState: WatchState = [new Map(), new Map(), new Map()]
  await watchUntil(cluster, {
    what: 'waiting for Traefik',
    timeoutSeconds: ctx.timeoutSeconds,
    log,
    sources: [
      {
        path: `/api/v1/namespaces/${ns}/pods`,
        query: { labelSelector: selector },
        list: () => cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector }),
      },
      { path: `/api/v1/namespaces/${ns}/services`, list: () => cluster.core.listNamespacedService({ namespace: ns }) },
      {
        path: `/api/v1/namespaces/${ns}/events`,
        query: { fieldSelector: 'involvedObject.kind=Service' },
        list: () => cluster.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.kind=Service' }),
      },
    ],
    evaluate: (state, elapsed) => {
      lastState = state
      const failing = waitedChecks(state).filter((c) => c.status === 'fail')
      if (failing.length === 0) return { done: true, status: 'ready' }
      // MetalLB has said no, or the Services are not there at all: waiting longer will not help.
      const hopeless = failing.some((c) => /AllocationFailed|does not exist/.test(c.detail))
      if (hopeless && elapsed >= Math.min(15, ctx.timeoutSeconds)) return { done: true, status: 'failed' }
      return { done: false, status: failing.map((c) => c.detail).join('; ') }
    },
  })

  const [allServices, routes, namespaces, ingresses] = await Promise.all([
    cluster.core.listServiceForAllNamespaces(),
    retryTransient(() => cluster.custom.listClusterCustomObject({ group: 'traefik.io', version: 'v1alpha1', plural: 'ingressroutes' })).catch((err) => {
      if ((err as { code?: number }).code === 404) return { items: [] }
      throw err
    }) as Promise<{ items: Obj[] }>,
    cluster.core.listNamespace(),
    cluster.networking.listIngressForAllNamespaces(),
  ])
  // Every Service in the cluster is known now, to name whoever holds an address.
  const checks = waitedChecks(lastState, allServices.items as Obj[])
  const externalService = lastState[1].get(`${ns}/${EXTERNAL_SERVICE}`) as Obj | undefined
  const internalService = lastState[1].get(`${ns}/${INTERNAL_SERVICE}`) as Obj | undefined

  const publicEntrypoints = [
    ...new Set([...PUBLIC_ENTRYPOINTS, ...(externalService?.spec?.ports ?? []).map((p: any) => String(p.targetPort ?? p.name))]),
  ]
  checks.push(servicePortsCheck(externalService, EXTERNAL_SERVICE, PUBLIC_ENTRYPOINTS))
  checks.push(servicePortsCheck(internalService, INTERNAL_SERVICE, INTERNAL_ENTRYPOINTS))
  const namespaceNames = new Set(namespaces.items.map((n) => n.metadata?.name ?? ''))
  checks.push(...expectedRoutesCheck(config, routes.items, namespaceNames))
  checks.push(...auditIngressRoutes(routes.items, adminHosts(config), publicEntrypoints))
  checks.push(...auditIngresses(ingresses.items as Obj[], adminHosts(config), publicEntrypoints))

  if (ctx.probe) {
    for (const host of adminHosts(config)) {
      const path = host.startsWith('traefik.') ? '/dashboard/' : '/'
      const [internal, external] = await Promise.all([probeHttp(config.internalIp, host, path), probeHttp(config.externalIp, host, path)])
      checks.push(...probeCheck(host, internal, external, config))
    }
  }

  const ok = checks.every((c) => c.status !== 'fail')
  const report: VerifyReport = { ok, context: cluster.context, checks, hostsLine: hostsFileLine(config) }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length
  const summary = `04-verify: ${ok ? 'OK' : 'FAILED'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`
  return { ok, summary, report }
}

export function formatReport(report: VerifyReport): string {
  const mark: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', skip: 'skip', warn: 'warn' }
  const lines = report.checks.map((c) => `  [${mark[c.status]}] ${c.name}: ${c.detail}`)
  lines.push('', 'Hosts-file line for the admin UIs (on the machines you administer from):', `  ${report.hostsLine}`)
  return lines.join('\n')
}
