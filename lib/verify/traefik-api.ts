/**
 * Traefik's own view as a second witness: the routers the running Traefik loaded (its API's
 * `/api/rawdata`: entrypoints, service, status), judged by the same backend judgement as the
 * cluster reading (audit.ts), and compared with it router by router.
 *
 * How Traefik names what it loads from the cluster (v3): routers of IngressRoutes are
 * `<namespace>-<name>-<hash>@kubernetescrd`, of Ingresses `<namespace>-<name>-<host>-<path>@kubernetes`
 * (an Ingress default backend: `default-router@kubernetes`), of Gateway API routes
 * `<kind>-<namespace>-<name>-gw-<gateway namespace>-<gateway>-ep-<entrypoint>-<rule>...@kubernetesgateway`
 * (pkg/provider/kubernetes/gateway of v3.6.12); a route's Kubernetes Service becomes the
 * service `<namespace>-<service>-<port>@<provider>` whose load balancer lists the endpoints Traefik
 * dials; a TraefikService keeps `<namespace>-<name>@kubernetescrd`. Pure functions: probe-http.ts
 * fetches the data.
 */
import type { Check } from './checks.ts'
import { ADMIN_INTERNAL_SERVICES, type AdminReach, type AuditScope, backendJudge, type RouteObjects, type Router, routersOf } from './audit.ts'

/** The parts of `/api/rawdata` the witness reads. */
export type TraefikRawData = {
  routers?: Record<string, RawRouter>
  tcpRouters?: Record<string, RawRouter>
  udpRouters?: Record<string, RawRouter>
  services?: Record<string, RawService>
  tcpServices?: Record<string, RawService>
  udpServices?: Record<string, RawService>
  middlewares?: Record<string, any>
}
type RawRouter = { entryPoints?: string[]; service?: string; rule?: string; status?: string; middlewares?: string[]; error?: string[] }
type RawService = {
  loadBalancer?: { servers?: { url?: string; address?: string }[] }
  weighted?: { services?: { name: string }[] }
  mirroring?: { service?: string; mirrors?: { name: string }[] }
  highestRandomWeight?: { services?: { name: string }[] }
}

type Loaded = { id: string; protocol: 'http' | 'tcp' | 'udp'; provider: string; router: RawRouter }

const providerOf = (name: string) => (name.includes('@') ? name.slice(name.lastIndexOf('@') + 1) : '')
const bare = (name: string) => (name.includes('@') ? name.slice(0, name.lastIndexOf('@')) : name)

/**
 * The witness's checks: every router Traefik serves on a public entrypoint whose service reaches an
 * admin UI fails (named by the route object it comes from, when one accounts for it); then one check
 * that says whether both readings saw the same public routers.
 */
export function judgeTraefikView(raw: TraefikRawData, objects: RouteObjects, scope: AuditScope): Check[] {
  const judge = backendJudge(objects, scope)
  const publicEntrypoints = new Set(scope.publicEntrypoints)
  const loaded: Loaded[] = []
  for (const [protocol, routers] of [['http', raw.routers], ['tcp', raw.tcpRouters], ['udp', raw.udpRouters]] as const) {
    for (const [id, router] of Object.entries(routers ?? {})) loaded.push({ id, protocol, provider: providerOf(id), router })
  }
  // Kubernetes Services as Traefik names them: `<namespace>-<name>-<port>` for each port, by name and number.
  const serviceIds = new Map<string, { namespace: string; name: string; port: string }>()
  for (const s of objects.services ?? []) {
    for (const p of s.spec?.ports ?? []) {
      for (const port of [p.port, p.name].filter((v) => v !== undefined && v !== '')) {
        const target = { namespace: s.metadata.namespace!, name: s.metadata.name, port: String(port) }
        serviceIds.set(`${s.metadata.namespace}-${s.metadata.name}-${port}`, target)
        // the Gateway provider's HTTP services: `<namespace>-<name>-http-<port>`
        serviceIds.set(`${s.metadata.namespace}-${s.metadata.name}-http-${port}`, target)
      }
    }
  }
  const servicesOf = (protocol: Loaded['protocol']) => (protocol === 'http' ? raw.services : protocol === 'tcp' ? raw.tcpServices : raw.udpServices) ?? {}

  /** What a service of Traefik's runtime reaches, each hop named. */
  function reach(name: string, provider: string, protocol: Loaded['protocol'], path: string[], seen: Set<string>): AdminReach[] {
    const full = name.includes('@') ? name : `${name}@${provider}`
    if (seen.has(full)) return []
    const next = new Set([...seen, full])
    if (providerOf(full) === 'internal') return ADMIN_INTERNAL_SERVICES[full] ? [{ label: ADMIN_INTERNAL_SERVICES[full], path: [...path, full] }] : []
    const found: AdminReach[] = []
    const k8s = serviceIds.get(bare(full))
    if (k8s) found.push(...judge.serviceReach(k8s.namespace, k8s.name, k8s.port).admin.map((a) => ({ ...a, path: [...path, `service ${full}`, ...a.path] })))
    const service = servicesOf(protocol)[full]
    if (!service) return found
    for (const server of service.loadBalancer?.servers ?? []) {
      const address = server.url ? new URL(server.url).hostname : String(server.address ?? '').replace(/:\d+$/, '')
      const port = Number(server.url ? new URL(server.url).port : /:(\d+)$/.exec(String(server.address ?? ''))?.[1])
      const at = judge.podAt.get(address.replace(/^\[|\]$/g, ''))
      const hop = [...path, `service ${full}`, `server ${server.url ?? server.address}`]
      if (address === scope.internalIp) found.push({ label: 'INTERNAL_IP', path: [...hop.slice(0, -1), `${hop.at(-1)} (INTERNAL_IP, the admin address)`] })
      else if (at === 'traefik') {
        const entrypoint = Object.entries(scope.entrypointPorts ?? {}).find(([e, p]) => p === port && !publicEntrypoints.has(e))?.[0]
        if (entrypoint) found.push({ label: `Traefik's internal entrypoint ${entrypoint}`, path: [...hop, `Traefik's entrypoint ${entrypoint}`] })
      } else if (at) found.push({ label: at.label, path: [...hop, `pod ${at.pod.metadata.namespace}/${at.pod.metadata.name} of ${at.label}`] })
    }
    const nested = [
      ...(service.weighted?.services ?? []).map((s) => s.name),
      ...(service.mirroring ? [service.mirroring.service ?? '', ...(service.mirroring.mirrors ?? []).map((m) => m.name)] : []),
      ...(service.highestRandomWeight?.services ?? []).map((s) => s.name),
    ].filter(Boolean)
    for (const n of nested) found.push(...reach(n, providerOf(full), protocol, [...path, `service ${full}`], next))
    return found
  }

  /** The errors Middlewares' page services of a router (chains followed). */
  function middlewareReach(names: string[], provider: string, path: string[], seen = new Set<string>()): AdminReach[] {
    const found: AdminReach[] = []
    for (const name of names) {
      const full = name.includes('@') ? name : `${name}@${provider}`
      if (seen.has(full)) continue
      const middleware = raw.middlewares?.[full]
      if (!middleware) continue
      if (middleware.errors?.service) found.push(...reach(middleware.errors.service, providerOf(full), 'http', [...path, `middleware ${full}`, 'its error page'], new Set()))
      if (middleware.chain?.middlewares) found.push(...middlewareReach(middleware.chain.middlewares, providerOf(full), [...path, `middleware ${full}`], new Set([...seen, full])))
    }
    return found
  }

  // The cluster's route objects, to name the one each loaded router comes from.
  const clusterRouters = routersOf(objects, scope, judge)
  const entrypointNames = Object.keys(scope.entrypointPorts ?? {})
  const origin = (l: Loaded): Router | undefined => {
    // A route on several entrypoints may become one router per entrypoint, named `<entrypoint>-<id>`.
    const named = bare(l.id)
    const prefix = entrypointNames.find((e) => (l.router.entryPoints ?? []).includes(e) && named.startsWith(`${e}-`))
    const id = prefix ? named.slice(prefix.length + 1) : named
    if (l.provider === 'kubernetesgateway') {
      // `<kind>-<namespace>-<name>-gw-<gateway namespace>-<gateway>-ep-<entrypoint>-<rule>[-<hash>]`
      return clusterRouters
        .filter((r) => id.startsWith(`${r.kind.toLowerCase()}-${r.namespace}-${r.name}-gw-`))
        .sort((a, b) => b.name.length - a.name.length)[0]
    }
    const kinds: Router['kind'][] =
      l.provider === 'kubernetes' ? ['Ingress'] : l.protocol === 'tcp' ? ['IngressRouteTCP'] : l.protocol === 'udp' ? ['IngressRouteUDP'] : ['IngressRoute']
    const candidates = clusterRouters.filter((r) => kinds.includes(r.kind) && (id.startsWith(`${r.namespace}-${r.name}-`) || id === `${r.namespace}-${r.name}`))
    if (l.provider === 'kubernetes' && id === 'default-router') return clusterRouters.find((r) => r.kind === 'Ingress' && r.part === 'default backend')
    return candidates.sort((a, b) => b.name.length - a.name.length)[0]
  }

  const checks: Check[] = []
  const publicLoaded = loaded.filter((l) => l.provider !== 'internal' && l.router.status !== 'disabled' && (l.router.entryPoints ?? []).some((e) => publicEntrypoints.has(e)))
  const unaccounted: string[] = []
  const seenObjects = new Set<string>()
  for (const l of publicLoaded) {
    const from = origin(l)
    const objectName = from ? `${from.kind} ${from.namespace}/${from.name}` : undefined
    if (objectName) seenObjects.add(objectName)
    else if (l.provider.startsWith('kubernetes')) unaccounted.push(l.id)
    const admin = [
      ...(l.router.service ? reach(l.router.service, l.provider, l.protocol, [], new Set()) : []),
      ...middlewareReach(l.router.middlewares ?? [], l.provider, []),
    ]
    if (admin.length === 0) continue
    const on = (l.router.entryPoints ?? []).filter((e) => publicEntrypoints.has(e)).join(', ')
    checks.push({
      name: `Traefik serves ${l.protocol.toUpperCase()} router ${l.id}${objectName ? ` (${objectName})` : ''} on public ${on}`,
      status: 'fail',
      detail: `it reaches ${[...new Set(admin.map((a) => a.label))].join(', ')}: ${admin.map((a) => a.path.join(' -> ')).join('; ')}`,
    })
  }
  // Public routers of the cluster reading that Traefik does not serve (it refused them, or has not loaded them yet).
  const notLoaded = [
    ...new Set(
      clusterRouters
        .filter((r) => isPublic(r, scope))
        .map((r) => `${r.kind} ${r.namespace}/${r.name}`)
        .filter((n) => !seenObjects.has(n)),
    ),
  ]
  const parts = [`${publicLoaded.length} routers Traefik serves on ${scope.publicEntrypoints.join(', ')}`]
  if (unaccounted.length) parts.push(`served by Traefik but in no route object read from the cluster: ${unaccounted.join(', ')}`)
  if (notLoaded.length) parts.push(`read from the cluster but not served by Traefik (it refused them or has not loaded them yet; \`kubectl describe\` them and see Traefik's log): ${notLoaded.join(', ')}`)
  checks.push({
    name: "Traefik's API and the cluster reading agree on the public routers",
    status: unaccounted.length ? 'fail' : notLoaded.length ? 'warn' : 'pass',
    detail: parts.join('; '),
  })
  return checks
}

function isPublic(router: Router, scope: AuditScope): boolean {
  if (router.entryPoints) return router.entryPoints.some((e) => scope.publicEntrypoints.includes(e))
  if (router.kind === 'IngressRouteUDP') return (scope.udpEntrypoints ?? scope.publicEntrypoints).some((e) => scope.publicEntrypoints.includes(e))
  return (scope.defaultEntrypoints ?? scope.publicEntrypoints).some((e) => scope.publicEntrypoints.includes(e))
}
