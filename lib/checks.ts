/**
 * The verify step's judgements of the rollout: pure functions of API objects, tested on recorded
 * objects. The route audit lives in audit.ts, the HTTP probe in probe.ts.
 */
import type { Config } from './config.ts'
import { internalRouteManifests, RELEASE_NAME } from './render.ts'

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn'
export type Check = { name: string; status: CheckStatus; detail: string }

/** An API object as the checks read it (plain JSON from the API server). */
export type Obj = { metadata: { name: string; namespace?: string; [k: string]: any }; spec?: any; status?: any; [k: string]: any }

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
