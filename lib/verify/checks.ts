/**
 * The verify step's judgements of the rollout: pure functions of API objects, tested on recorded
 * objects. The route audit lives in audit.ts, the HTTP probe in probe.ts.
 */
import type { Config } from '../config/config.ts'
import { internalRouteManifests, RELEASE_NAME } from '../render/render.ts'
import { traefikFlags } from '../traefik/flags.ts'

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn'
export type Check = { name: string; status: CheckStatus; detail: string }

/** An API object as the checks read it (plain JSON from the API server). */
export type Obj = { metadata: { name: string; namespace?: string; [k: string]: any }; spec?: any; status?: any; [k: string]: any }

export function traefikPodSelector(config: Pick<Config, 'traefikNamespace'>): string {
  return `app.kubernetes.io/name=traefik,app.kubernetes.io/instance=${RELEASE_NAME}-${config.traefikNamespace}`
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
  // gateway mode: the admin routes are HTTPRoutes, judged from their status (lib/verify/gateway.ts).
  if (config.routesApi === 'gateway') return checks
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

/** The Traefik container of the chart's Deployment. */
function traefikContainer(deployment: Obj | undefined): any | undefined {
  const containers: any[] = deployment?.spec?.template?.spec?.containers ?? []
  return containers.find((c) => c.name === 'traefik') ?? containers[0]
}

/**
 * The rollout is complete when the Deployment controller has seen the newest spec and every replica
 * runs it: until then the pods may still run the old arguments, and judging them says nothing.
 */
export function rolloutCheck(deployment: Obj | undefined, name: string): Check {
  const check = `Deployment ${name} rolled out`
  if (!deployment) return { name: check, status: 'fail', detail: `Deployment ${name} does not exist (run 02-traefik)` }
  const want = deployment.spec?.replicas ?? 1
  const s = deployment.status ?? {}
  const generation = deployment.metadata.generation ?? 0
  const problems: string[] = []
  if ((s.observedGeneration ?? 0) < generation) {
    problems.push(`the Deployment controller has not seen generation ${generation} yet (observed ${s.observedGeneration ?? 'none'}; is kube-controller-manager running?)`)
  } else {
    if ((s.updatedReplicas ?? 0) < want) problems.push(`${s.updatedReplicas ?? 0}/${want} replicas updated`)
    if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) problems.push(`${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replica(s) still running`)
    if ((s.availableReplicas ?? 0) < want) problems.push(`${s.availableReplicas ?? 0}/${want} replicas available`)
  }
  if (problems.length === 0) return { name: check, status: 'pass', detail: `generation ${generation}, ${want}/${want} updated and available` }
  const progressing = (s.conditions ?? []).find((c: any) => c.type === 'Progressing')
  if (progressing?.status === 'False' || progressing?.reason === 'ProgressDeadlineExceeded') {
    problems.push(`Kubernetes says: ${progressing.reason}: ${progressing.message}`)
  }
  return { name: check, status: 'fail', detail: problems.join('; ') }
}

/**
 * Proves from the running Deployment's arguments that Traefik does not phone home unless told to:
 * whatever the chart version, the flags it rendered are what Traefik runs with. Traefik checks for
 * new versions unless told not to; it sends the usage report only when told to.
 */
export function phoneHomeCheck(deployment: Obj | undefined, phoneHomeWanted: boolean): Check {
  const name = phoneHomeWanted ? 'Traefik phone-home on (TRAEFIK_PHONE_HOME=true)' : 'Traefik does not phone home (version check and usage report off)'
  const container = traefikContainer(deployment)
  if (!container) return { name, status: 'fail', detail: 'no Traefik container to read the arguments of' }
  const args: string[] = [...(container.command ?? []), ...(container.args ?? [])]
  const flags = traefikFlags(args)
  const checkNewVersion = flags.bool('global.checkNewVersion') ?? true
  const usage = flags.bool('global.sendAnonymousUsage') ?? false
  const on = [checkNewVersion && 'version check (--global.checkNewVersion)', usage && 'usage report (--global.sendAnonymousUsage)'].filter(Boolean)
  if (phoneHomeWanted) return { name, status: 'pass', detail: on.length ? `${on.join(' and ')} on` : 'both off in the arguments' }
  return on.length
    ? { name, status: 'fail', detail: `${on.join(' and ')} on in the running arguments while TRAEFIK_PHONE_HOME=false; the chart ignored the kit's setting (rerun 02-traefik; check TRAEFIK_CHART_VERSION's values shape)` }
    : { name, status: 'pass', detail: 'both off in the running arguments' }
}

/** Which Traefik runs: the image of the Deployment, and the chart it came from. */
export function imageCheck(deployment: Obj | undefined, pods: Obj[]): Check {
  const name = 'Traefik version running'
  const container = traefikContainer(deployment)
  if (!container) return { name, status: 'fail', detail: 'no Traefik Deployment' }
  const running = [...new Set(pods.flatMap((p) => (p.status?.containerStatuses ?? []).filter((c: any) => c.name === container.name).map((c: any) => c.image)))]
  const chart = deployment?.metadata.labels?.['helm.sh/chart']
  const image = running.length ? running.join(', ') : container.image
  return { name, status: 'pass', detail: `${image}${chart ? ` (chart ${chart})` : ''}` }
}

/**
 * Helm never upgrades CRDs; 02 stamps the ones it brings up to the chart's. CRDs from another chart
 * than the release's may lack fields the running Traefik reads.
 */
export function crdCheck(stamp: string | undefined, releaseChart: string | undefined): Check {
  const name = "traefik.io CRDs match the release's chart"
  if (!releaseChart) return { name, status: 'warn', detail: 'no Traefik release found to compare with' }
  if (stamp === releaseChart) return { name, status: 'pass', detail: releaseChart }
  return {
    name,
    status: 'warn',
    detail: stamp
      ? `the CRDs came from ${stamp}, the release runs ${releaseChart}; rerun 02-traefik to bring them up to its chart`
      : `the CRDs were not brought up to ${releaseChart} by 02-traefik (helm installs CRDs only on first install and never upgrades them); rerun 02-traefik`,
  }
}

/**
 * No side doors: a LoadBalancer Service with NodePorts is reachable on every node's own address too,
 * around INTERNAL_IP/EXTERNAL_IP. MetalLB's L2 mode needs none.
 */
export function nodePortsCheck(service: Obj | undefined, serviceName: string, namespace: string): Check {
  const name = `Service ${serviceName} has no NodePorts`
  if (!service) return { name, status: 'fail', detail: `Service ${serviceName} does not exist` }
  const ports: any[] = service.spec?.ports ?? []
  const open = ports.filter((p) => p.nodePort).map((p) => `${p.name ?? p.port}: ${p.nodePort}`)
  if (open.length === 0 && service.spec?.allocateLoadBalancerNodePorts === false) return { name, status: 'pass', detail: 'allocateLoadBalancerNodePorts: false' }
  if (open.length === 0) return { name, status: 'fail', detail: 'allocateLoadBalancerNodePorts is not false (rerun 02-traefik)' }
  // Kubernetes keeps NodePorts allocated before allocateLoadBalancerNodePorts was turned off.
  const patch = JSON.stringify(ports.map((_, i) => ({ op: 'remove', path: `/spec/ports/${i}/nodePort` })).filter((_, i) => ports[i].nodePort))
  return {
    name,
    status: 'fail',
    detail: `every node's own address answers on ${open.join(', ')}; Kubernetes keeps NodePorts allocated before they were turned off: kubectl -n ${namespace} patch service ${serviceName} --type=json -p '${patch}'`,
  }
}
