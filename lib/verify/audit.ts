/**
 * The route audit: no router on a public entrypoint may reach an admin UI. A router is judged by
 * where it lands (its entrypoints, or Traefik's defaults) and by what it reaches, never by the
 * host, path or SNI its rule matches: whoever scans the public address picks those.
 *
 * What counts as reaching an admin UI, followed the whole way from the router:
 * - a configured admin Service (INTERNAL_ROUTES), or one of Traefik's admin services
 *   (`api@internal` and the like);
 * - any other Service that reaches the same **pods**: one whose selector selects an admin
 *   Service's pods (or, with no such pod running, asks for nothing the admin selector does not),
 *   one whose endpoints are those pods, an ExternalName naming an admin Service;
 * - any Service that leads back into Traefik's own non-public entrypoints (intweb, intwebsec,
 *   traefik), where the admin routers are, or an ExternalName naming INTERNAL_IP;
 * - through TraefikService chains (weighted, mirroring with its mirrors, highestRandomWeight),
 *   across namespaces where Traefik allows it, and through the page service of an `errors`
 *   Middleware (chains followed).
 * A router on a public entrypoint whose backend the audit cannot see (a service of another
 * provider) fails closed, naming why and the fix.
 *
 * Pure functions of API objects: lib/steps/verify.ts reads them, traefik-api.ts feeds Traefik's own
 * view of its routers through the same backend judgement.
 */
import type { Check, Obj } from './checks.ts'
import { traefikFlags } from '../traefik/flags.ts'

/** What the audit needs to know about the running Traefik (auditSettings reads it from its pods or Deployment). */
export type AuditSettings = {
  /**
   * Entrypoints Traefik gives a router that names none: those marked `asDefault`, or else all.
   * Undefined: unknown, taken as every entrypoint, public ones included.
   */
  defaultEntrypoints?: string[]
  /** `--providers.kubernetesingress.ingressClass`: '' (unset) serves class-less Ingresses without the class annotation. */
  ingressProviderClass?: string
  /** `--providers.kubernetescrd.allowCrossNamespace`; undefined (unknown) follows every reference. */
  allowCrossNamespace?: boolean
  /** `--providers.kubernetes{crd,ingress}.allowExternalNameServices` (either); undefined (unknown) follows them. */
  allowExternalNameServices?: boolean
  /** Entrypoint name -> the port it listens on inside the Traefik pod (`--entryPoints.X.address`). */
  entrypointPorts?: Record<string, number>
  /** UDP entrypoints (address ending in /udp). */
  udpEntrypoints?: string[]
  /** `--providers.kubernetesgateway`: Traefik serves Gateway API routes; undefined (unknown) taken as on. */
  gatewayProvider?: boolean
}

/** An admin UI the kit routes internally: its Service, and the label findings use (its admin host). */
export type AdminBackend = { namespace: string; service: string; label: string }

/** Every object the audit reads. A list left undefined was not read. */
export type RouteObjects = {
  ingressRoutes?: Obj[]
  ingressRouteTCPs?: Obj[]
  ingressRouteUDPs?: Obj[]
  ingresses?: Obj[]
  /** Gateway API: classes, Gateways, the routes that attach to them, and ReferenceGrants. */
  gatewayClasses?: Obj[]
  gateways?: Obj[]
  httpRoutes?: Obj[]
  grpcRoutes?: Obj[]
  tlsRoutes?: Obj[]
  tcpRoutes?: Obj[]
  referenceGrants?: Obj[]
  namespaces?: Obj[]
  ingressClasses?: Obj[]
  traefikServices?: Obj[]
  middlewares?: Obj[]
  services?: Obj[]
  /** EndpointSlices of Services without a selector (others follow their selector). */
  endpointSlices?: Obj[]
  /** Pods of the admin UIs' namespaces and of Traefik's. */
  pods?: Obj[]
}

export type AuditScope = AuditSettings & {
  publicEntrypoints: string[]
  admin: AdminBackend[]
  /** Traefik's namespace and the labels of its pods (a pod's, or the Deployment's template). */
  traefik?: { namespace: string; podLabels: Record<string, string>[]; podIps?: string[] }
  internalIp?: string
  /** The kit's admin entrypoints, named in the fixes. */
  internalEntrypoints?: string[]
}

/**
 * Traefik's internal services that give away control or insight: the API and dashboard, the REST
 * provider (writes routing configuration) and the Prometheus metrics. ping@internal, noop@internal
 * and acme-http@internal are harmless in public.
 */
export const ADMIN_INTERNAL_SERVICES: Record<string, string> = {
  'api@internal': "Traefik's API/dashboard",
  'dashboard@internal': "Traefik's dashboard",
  'rest@internal': "Traefik's REST provider",
  'prometheus@internal': "Traefik's metrics",
}

const TRAEFIK_INGRESS_CONTROLLER = 'traefik.io/ingress-controller'
const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class'
const ENTRYPOINTS_ANNOTATION = 'traefik.ingress.kubernetes.io/router.entrypoints'
const MIDDLEWARES_ANNOTATION = 'traefik.ingress.kubernetes.io/router.middlewares'

// --- Traefik's settings

/**
 * The entrypoints Traefik gives a router that names none, as Traefik computes them from its
 * arguments: those with `--entryPoints.NAME.asDefault=true`, or, when none is, all of
 * `allEntrypoints` except Traefik's own `traefik` entrypoint and UDP ones.
 */
export function defaultEntrypoints(deploymentArgs: string[], allEntrypoints: string[]): string[] {
  const flags = traefikFlags(deploymentArgs).entrypoints()
  const marked = [...flags.values()].filter((f) => f.asDefault).map((f) => f.name)
  const named = (name: string) => allEntrypoints.find((e) => e.toLowerCase() === name.toLowerCase()) ?? name
  if (marked.length) {
    const names = marked.map(named)
    return [...allEntrypoints.filter((e) => names.includes(e)), ...names.filter((n) => !allEntrypoints.includes(n))]
  }
  return allEntrypoints.filter((e) => e !== 'traefik' && !flags.get(e.toLowerCase())?.address?.toLowerCase().endsWith('/udp'))
}

function containerArgs(obj: Obj): string[] {
  const podSpec = obj.spec?.template?.spec ?? obj.spec
  const containers: any[] = podSpec?.containers ?? []
  const container = containers.find((c) => c.name === 'traefik') ?? containers[0]
  return [...(container?.command ?? []), ...(container?.args ?? [])].map(String)
}

/**
 * The settings of the running Traefik, from the arguments of its pods and/or its Deployment (pass
 * both: the pods are what runs now, the Deployment's template what runs after a rollout). Where
 * they differ, a route without entrypoints may land on the defaults of any of them: their union;
 * cross-namespace references count as allowed when any allows them. Nothing given: nothing known.
 */
export function auditSettings(traefikPodsOrDeployments: Obj[]): AuditSettings {
  const all = traefikPodsOrDeployments.map(containerArgs)
  if (all.length === 0) return {}
  const defaults = new Set<string>()
  const ports: Record<string, number> = {}
  const udp = new Set<string>()
  for (const args of all) {
    const entrypoints = [...traefikFlags(args).entrypoints().values()].filter((f) => f.address !== undefined)
    for (const e of defaultEntrypoints(args, entrypoints.map((f) => f.name))) defaults.add(e)
    for (const f of entrypoints) {
      const m = /:(\d+)(\/(tcp|udp))?$/i.exec(f.address!)
      if (m) ports[f.name] = Number(m[1])
      if (m?.[3]?.toLowerCase() === 'udp') udp.add(f.name)
    }
  }
  const values = (flag: string) => all.map((a) => traefikFlags(a).value(flag))
  return {
    defaultEntrypoints: [...defaults],
    ingressProviderClass: values('providers.kubernetesingress.ingressClass').find((v) => v !== undefined) ?? '',
    allowCrossNamespace: values('providers.kubernetescrd.allowCrossNamespace').some((v) => v?.toLowerCase() === 'true'),
    allowExternalNameServices: [...values('providers.kubernetescrd.allowExternalNameServices'), ...values('providers.kubernetesingress.allowExternalNameServices')].some(
      (v) => v?.toLowerCase() === 'true',
    ),
    entrypointPorts: ports,
    udpEntrypoints: [...udp],
    gatewayProvider: values('providers.kubernetesgateway').some((v) => v?.toLowerCase() === 'true'),
  }
}

// --- what a backend reaches

/** A reference to a backend, as routes, TraefikServices and Middlewares write it. */
export type BackendRef = { kind?: string; name?: unknown; namespace?: string; port?: unknown }

/** An admin UI reached, and the way there (each hop named). */
export type AdminReach = { label: string; path: string[] }
/** A backend the audit cannot see into, why, and how to make it judgeable. */
export type Unresolved = { path: string[]; why: string; fix: string }
export type Reach = { admin: AdminReach[]; unresolved: Unresolved[] }

const NONE: Reach = { admin: [], unresolved: [] }
const merge = (reaches: Reach[]): Reach => ({ admin: reaches.flatMap((r) => r.admin), unresolved: reaches.flatMap((r) => r.unresolved) })

const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`
function index(objects: Obj[] | undefined): Map<string, Obj> {
  return new Map((objects ?? []).map((o) => [key(o.metadata.namespace, o.metadata.name), o]))
}
function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {})
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v)
}

/**
 * Judges backends against the admin UIs: built once per audit over the objects read (indexes), then
 * asked for each router's backends (memoised: a Service shared by many routes is judged once).
 */
export function backendJudge(objects: RouteObjects, scope: AuditScope) {
  const services = index(objects.services)
  const traefikServices = index(objects.traefikServices)
  const middlewares = index(objects.middlewares)
  const slicesByService = new Map<string, Obj[]>()
  for (const slice of objects.endpointSlices ?? []) {
    const owner = slice.metadata.labels?.['kubernetes.io/service-name']
    if (!owner) continue
    const k = key(slice.metadata.namespace, owner)
    slicesByService.set(k, [...(slicesByService.get(k) ?? []), slice])
  }
  const podsByNamespace = new Map<string, Obj[]>()
  for (const pod of objects.pods ?? []) {
    const ns = pod.metadata.namespace ?? ''
    podsByNamespace.set(ns, [...(podsByNamespace.get(ns) ?? []), pod])
  }
  const publicEntrypoints = new Set(scope.publicEntrypoints)
  const ports = scope.entrypointPorts ?? {}
  // Traefik's entrypoints a Service must not lead back into: every one no public Service exposes.
  const privateEntrypoints = Object.keys(ports).filter((e) => !publicEntrypoints.has(e))
  const adminOf = new Map(scope.admin.map((a) => [key(a.namespace, a.service), a]))

  /** The admin Service's pods (running now) and its selector. */
  const adminPods = new Map<string, Obj[]>()
  for (const a of scope.admin) {
    const selector = services.get(key(a.namespace, a.service))?.spec?.selector
    adminPods.set(key(a.namespace, a.service), (podsByNamespace.get(a.namespace) ?? []).filter((p) => selects(selector, p.metadata.labels)))
  }
  const podNamed = new Map<string, { label: string; pod: Obj } | 'traefik'>()
  const podAt = new Map<string, { label: string; pod: Obj } | 'traefik'>()
  for (const a of scope.admin) {
    for (const pod of adminPods.get(key(a.namespace, a.service)) ?? []) {
      podNamed.set(key(a.namespace, pod.metadata.name), { label: a.label, pod })
      for (const ip of podIps(pod)) podAt.set(ip, { label: a.label, pod })
    }
  }
  const traefikPods = scope.traefik ? (podsByNamespace.get(scope.traefik.namespace) ?? []).filter((p) => scope.traefik!.podLabels.some((l) => selects(l, p.metadata.labels))) : []
  for (const pod of traefikPods) {
    podNamed.set(key(pod.metadata.namespace, pod.metadata.name), 'traefik')
    for (const ip of podIps(pod)) podAt.set(ip, 'traefik')
  }
  for (const ip of scope.traefik?.podIps ?? []) podAt.set(ip, 'traefik')
  // Addresses written by hand in EndpointSlices that name one of those pods: Traefik dials them.
  for (const slice of objects.endpointSlices ?? []) {
    for (const endpoint of slice.endpoints ?? []) {
      const ref = endpoint.targetRef?.kind === 'Pod' ? podNamed.get(key(endpoint.targetRef.namespace ?? slice.metadata.namespace, endpoint.targetRef.name)) : undefined
      if (ref) for (const address of endpoint.addresses ?? []) if (!podAt.has(address)) podAt.set(address, ref)
    }
  }

  /** The private entrypoint a port of Traefik's pod belongs to (a number, or a container port's name). */
  function entrypointOfTargetPort(target: unknown): string | undefined {
    if (target === undefined || target === null || target === '') return undefined
    let port = Number(target)
    if (!Number.isInteger(port)) {
      const named = traefikPods.flatMap((p) => (p.spec?.containers ?? []).flatMap((c: any) => c.ports ?? [])).find((p: any) => p.name === target)
      if (named) port = Number(named.containerPort)
      else return privateEntrypoints.find((e) => e.toLowerCase() === String(target).toLowerCase()) // the chart names container ports after entrypoints
    }
    return privateEntrypoints.find((e) => ports[e] === port)
  }

  /** The Service's ports a route's port picks (number or name), all when it names none. */
  function servicePorts(service: Obj, port: unknown): any[] {
    const all: any[] = service.spec?.ports ?? []
    if (port === undefined || port === null || port === '') return all
    return all.filter((p) => String(p.port) === String(port) || p.name === String(port))
  }

  const traefikLoop = (path: string[], entrypoint: string): AdminReach => ({
    label: `Traefik's internal entrypoint ${entrypoint}`,
    path: [...path, `Traefik's entrypoint ${entrypoint} (where the admin routes are)`],
  })

  function endpointReach(service: Obj, port: unknown, path: string[]): Reach {
    const slices = slicesByService.get(key(service.metadata.namespace, service.metadata.name))
    if (!slices) return NONE // no endpoints: Traefik serves nothing through it
    const found: AdminReach[] = []
    const wantedPorts = servicePorts(service, port).map((p) => p.targetPort ?? p.port)
    for (const slice of slices) {
      const slicePorts: any[] = slice.ports ?? []
      for (const endpoint of slice.endpoints ?? []) {
        const ref = endpoint.targetRef?.kind === 'Pod' ? podNamed.get(key(endpoint.targetRef.namespace ?? slice.metadata.namespace, endpoint.targetRef.name)) : undefined
        for (const address of endpoint.addresses ?? []) {
          const at = ref ?? podAt.get(address) ?? (address === scope.internalIp ? 'internal-ip' : undefined)
          if (!at) continue
          const hop = `endpoint ${address}`
          if (at === 'internal-ip') found.push({ label: 'INTERNAL_IP', path: [...path, `${hop} (INTERNAL_IP, the admin address)`] })
          else if (at === 'traefik') {
            const entrypoints = (wantedPorts.length ? slicePorts.filter((p) => wantedPorts.some((w) => String(w) === String(p.port) || w === p.name)) : slicePorts)
              .map((p) => entrypointOfTargetPort(p.port))
              .filter((e): e is string => e !== undefined)
            for (const e of new Set(entrypoints)) found.push(traefikLoop([...path, `${hop} (a Traefik pod)`], e))
          } else found.push({ label: at.label, path: [...path, `${hop} (pod ${at.pod.metadata.namespace}/${at.pod.metadata.name} of ${at.label})`] })
        }
      }
    }
    return { admin: found, unresolved: [] }
  }

  const serviceMemo = new Map<string, Reach>()
  function serviceReach(namespace: string, name: string, port: unknown, path: string[], seen: Set<string>): Reach {
    const k = key(namespace, name)
    const memoKey = `${k}:${port ?? ''}`
    if (seen.has(k)) return NONE
    const cached = serviceMemo.get(memoKey)
    if (cached) return prefixed(cached, path)
    const result = judgeService(namespace, name, port, [`Service ${k}`], new Set([...seen, k]))
    serviceMemo.set(memoKey, result)
    return prefixed(result, path)
  }
  /** A memoised reach is stored with paths starting at the Service; callers put their own hops first. */
  function prefixed(reach: Reach, path: string[]): Reach {
    if (path.length === 0) return reach
    return {
      admin: reach.admin.map((a) => ({ ...a, path: [...path, ...a.path] })),
      unresolved: reach.unresolved.map((u) => ({ ...u, path: [...path, ...u.path] })),
    }
  }

  function judgeService(namespace: string, name: string, port: unknown, path: string[], seen: Set<string>): Reach {
    const k = key(namespace, name)
    const admin = adminOf.get(k)
    if (admin) return { admin: [{ label: admin.label, path: [...path.slice(0, -1), `Service ${k} (${admin.label})`] }], unresolved: [] }
    const service = services.get(k)
    if (!service) return NONE // Traefik reports the missing Service and serves nothing through it
    const spec = service.spec ?? {}
    if (spec.type === 'ExternalName') {
      if (scope.allowExternalNameServices === false) return NONE // Traefik refuses ExternalName Services
      const target = String(spec.externalName ?? '').toLowerCase().replace(/\.$/, '')
      const inCluster = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$/.exec(target)
      if (inCluster) return serviceReach(inCluster[3], inCluster[1], port, [...path, `ExternalName ${target}`], seen)
      if (scope.internalIp && target === scope.internalIp) return { admin: [{ label: 'INTERNAL_IP', path: [...path, `ExternalName ${target} (INTERNAL_IP, the admin address)`] }], unresolved: [] }
      return NONE // outside the cluster
    }
    const selector: Record<string, string> | undefined = spec.selector
    if (!selector || Object.keys(selector).length === 0) return endpointReach(service, port, path)
    const found: AdminReach[] = []
    // The admin UIs' pods this selector selects, or would select.
    for (const a of scope.admin.filter((a) => a.namespace === namespace)) {
      const pods = adminPods.get(key(a.namespace, a.service)) ?? []
      const adminSelector: Record<string, string> | undefined = services.get(key(a.namespace, a.service))?.spec?.selector
      const shared = pods.filter((p) => selects(selector, p.metadata.labels))
      if (shared.length) found.push({ label: a.label, path: [...path, `pod ${namespace}/${shared[0].metadata.name} of ${a.label} (the selector ${formatSelector(selector)} selects it)`] })
      else if (pods.length === 0 && adminSelector && selects(selector, adminSelector)) {
        found.push({ label: a.label, path: [...path, `the pods of ${a.label} (selector ${formatSelector(selector)} selects every pod ${a.namespace}/${a.service} selects)`] })
      }
    }
    // Traefik's own pods, on a port of a private entrypoint.
    if (scope.traefik && namespace === scope.traefik.namespace) {
      const selectsTraefik = traefikPods.some((p) => selects(selector, p.metadata.labels)) || scope.traefik.podLabels.some((l) => selects(selector, l))
      if (selectsTraefik) {
        const entrypoints = new Set(servicePorts(service, port).map((p) => entrypointOfTargetPort(p.targetPort ?? p.port)).filter((e): e is string => e !== undefined))
        for (const e of entrypoints) found.push(traefikLoop([...path, `the Traefik pods (selector ${formatSelector(selector)})`], e))
      }
    }
    return { admin: found, unresolved: [] }
  }

  const tsMemo = new Map<string, Reach>()
  /** What a reference of a route, TraefikService or Middleware reaches; `from`: the namespace it is written in. */
  function refReach(ref: BackendRef, from: string, path: string[], seen: Set<string> = new Set(), granted = false): Reach {
    const name = String(ref.name ?? '')
    const kind = ref.kind || 'Service'
    if (kind !== 'TraefikService') {
      const ns = ref.namespace || from
      if (ns !== from && !granted && scope.allowCrossNamespace === false) return NONE // Traefik refuses the reference
      return serviceReach(ns, name, ref.port, path, seen)
    }
    if (name.includes('@')) {
      const provider = name.slice(name.lastIndexOf('@') + 1)
      if (provider === 'internal') {
        const label = ADMIN_INTERNAL_SERVICES[name]
        return label ? { admin: [{ label, path: [...path, name] }], unresolved: [] } : NONE
      }
      if (provider !== 'kubernetescrd') {
        return {
          admin: [],
          unresolved: [
            {
              path: [...path, name],
              why: `${name} is a service of Traefik's ${provider} provider, which the audit cannot read from the cluster`,
              fix: 'use a Service or a TraefikService of this cluster, or bind the route to internal entrypoints',
            },
          ],
        }
      }
    }
    const base = name.includes('@') ? name.slice(0, name.lastIndexOf('@')) : name
    const ns = ref.namespace || from
    if (ns !== from && scope.allowCrossNamespace === false) return NONE
    const k = key(ns, base)
    if (seen.has(`ts:${k}`)) return NONE // a cycle: Traefik serves nothing through it
    const cached = tsMemo.get(k)
    if (cached) return prefixed(cached, path)
    const ts = traefikServices.get(k)
    if (!ts) return NONE // Traefik reports the missing service and serves nothing through it
    const spec = ts.spec ?? {}
    const nested: BackendRef[] = [
      ...(spec.weighted?.services ?? []),
      ...(spec.mirroring ? [spec.mirroring, ...(spec.mirroring.mirrors ?? [])] : []),
      ...(spec.highestRandomWeight?.services ?? []),
    ]
    const nextSeen = new Set([...seen, `ts:${k}`])
    const result = merge(nested.map((r) => refReach(r, ns, [`TraefikService ${k}`], nextSeen)))
    tsMemo.set(k, result)
    return prefixed(result, path)
  }

  /** What the Middlewares of a router reach (an `errors` Middleware's page service; chains followed). */
  function middlewareReach(refs: { name?: unknown; namespace?: string }[], from: string, path: string[], seen: Set<string> = new Set()): Reach {
    const reaches: Reach[] = []
    for (const ref of refs) {
      const name = String(ref.name ?? '')
      if (name.includes('@') && !name.endsWith('@kubernetescrd')) continue // another provider's: it has no page service here
      const base = name.replace(/@kubernetescrd$/, '')
      const ns = ref.namespace || from
      const k = key(ns, base)
      if (seen.has(k)) continue
      const middleware = middlewares.get(k)
      if (!middleware) continue // Traefik refuses the router: it serves nothing
      const hop = [...path, `Middleware ${k}`]
      const spec = middleware.spec ?? {}
      if (spec.errors?.service) reaches.push(refReach(spec.errors.service, ns, [...hop, 'its error page']))
      if (spec.chain?.middlewares) reaches.push(middlewareReach(spec.chain.middlewares, ns, hop, new Set([...seen, k])))
    }
    return merge(reaches)
  }

  /** An Ingress annotation's `<namespace>-<name>@kubernetescrd` as a Middleware reference. */
  function middlewareByAnnotation(value: string): { name: string; namespace: string } | undefined {
    const id = value.trim().replace(/@kubernetescrd$/, '')
    const match = (objects.middlewares ?? []).find((m) => `${m.metadata.namespace}-${m.metadata.name}` === id)
    return match ? { name: match.metadata.name, namespace: match.metadata.namespace! } : undefined
  }

  return { refReach, middlewareReach, middlewareByAnnotation, serviceReach: (ns: string, name: string, port?: unknown) => serviceReach(ns, name, port, [], new Set()), podAt }
}

function podIps(pod: Obj): string[] {
  return [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p: any) => p.ip)].filter((ip): ip is string => typeof ip === 'string' && ip !== '')
}
function formatSelector(selector: Record<string, string>): string {
  return Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',')
}

// --- routers

/** One router Traefik builds from the cluster, where it lands and what it sends to. */
export type Router = {
  kind: 'IngressRoute' | 'IngressRouteTCP' | 'IngressRouteUDP' | 'Ingress' | GatewayRouteKind
  namespace: string
  name: string
  /** Which part of the object: `route 1`, `rule argocd.example /`, `default backend`. */
  part: string
  /** Its own entrypoints; undefined when it names none (Traefik's defaults apply). */
  entryPoints: string[] | undefined
  /** Parent IngressRoutes it is reached through (then entryPoints are the parents'). */
  via: string[]
  reach: () => Reach
}

/** Where a router lands on public entrypoints, and how to say it. */
function exposure(router: Router, scope: AuditScope): { exposed: string[]; where: string } {
  if (router.entryPoints) {
    const exposed = router.entryPoints.filter((e) => scope.publicEntrypoints.includes(e))
    return { exposed, where: router.entryPoints.join(', ') }
  }
  const how = router.kind === 'Ingress' ? `has no ${ENTRYPOINTS_ANNOTATION} annotation` : 'lists no entryPoints'
  if (router.kind === 'IngressRouteUDP') {
    const udp = scope.udpEntrypoints
    const exposed = udp ? scope.publicEntrypoints.filter((e) => udp.includes(e)) : scope.publicEntrypoints
    return { exposed, where: `every UDP entrypoint (it ${how})` }
  }
  if (!scope.defaultEntrypoints) return { exposed: scope.publicEntrypoints, where: `every entrypoint (it ${how} and Traefik's defaults are unknown)` }
  const exposed = scope.defaultEntrypoints.filter((e) => scope.publicEntrypoints.includes(e))
  return { exposed, where: `Traefik's default entrypoints ${scope.defaultEntrypoints.join(', ')} (it ${how})` }
}

type RouteSpec = { services?: BackendRef[]; middlewares?: { name?: unknown; namespace?: string }[]; kind?: string; match?: string }

/**
 * The routers of an IngressRoute(-TCP/-UDP). One with parentRefs is a child: it is reached only
 * through its parents, so it lands where they land (recursively; a missing parent makes Traefik
 * skip it, a cycle reaches nothing).
 */
function crdRouters(kind: Router['kind'], route: Obj, all: Map<string, Obj>, judge: ReturnType<typeof backendJudge>): Router[] {
  const namespace = route.metadata.namespace ?? ''
  const placements = placementsOf(route, all, new Set())
  const routes: RouteSpec[] = kind === 'IngressRouteUDP' ? route.spec?.routes ?? [] : route.spec?.routes ?? []
  const routers: Router[] = []
  routes.forEach((r, i) => {
    if (kind === 'IngressRoute' && r.kind !== undefined && r.kind !== '' && r.kind !== 'Rule') return
    for (const placement of placements) {
      routers.push({
        kind,
        namespace,
        name: route.metadata.name,
        part: routes.length > 1 ? `route ${i + 1}` : '',
        entryPoints: placement.entryPoints,
        via: placement.via,
        reach: () => merge([...(r.services ?? []).map((s) => judge.refReach(s, namespace, [])), judge.middlewareReach(r.middlewares ?? [], namespace, [])]),
      })
    }
  })
  return routers
}

function placementsOf(route: Obj, all: Map<string, Obj>, seen: Set<string>): { entryPoints: string[] | undefined; via: string[] }[] {
  const k = key(route.metadata.namespace, route.metadata.name)
  const parentRefs: { name?: string; namespace?: string }[] = route.spec?.parentRefs ?? []
  if (parentRefs.length === 0) {
    const entryPoints: string[] = route.spec?.entryPoints ?? []
    return [{ entryPoints: entryPoints.length ? entryPoints : undefined, via: [] }]
  }
  if (seen.has(k)) return []
  const out: { entryPoints: string[] | undefined; via: string[] }[] = []
  for (const ref of parentRefs) {
    const ns = ref.namespace || route.metadata.namespace
    const parent = all.get(key(ns, String(ref.name ?? '')))
    if (!parent) return []
    for (const p of placementsOf(parent, all, new Set([...seen, k]))) out.push({ entryPoints: p.entryPoints, via: [...p.via, `parent IngressRoute ${ns}/${ref.name}`] })
  }
  return out
}

/**
 * Whether Traefik's kubernetesingress provider serves an Ingress, as Traefik decides it: one with
 * spec.ingressClassName when that IngressClass has Traefik's controller (and, when the provider is
 * limited to one class, that name); one without, by its `kubernetes.io/ingress.class` annotation,
 * which must equal the provider's class, where an unset class also takes `traefik` and no
 * annotation at all (the chart's default). The `ingressclass.kubernetes.io/is-default-class`
 * annotation plays no part here: the API server fills in ingressClassName when an Ingress is
 * created, so such Ingresses carry the class name by the time Traefik and this audit read them.
 */
export function traefikServesIngress(ingress: Obj, traefikClassNames: string[], providerClass = ''): boolean {
  const className: string | undefined = ingress.spec?.ingressClassName
  if (className !== undefined && className !== null) return traefikClassNames.includes(className)
  const annotation: string = ingress.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] ?? ''
  return annotation === providerClass || (providerClass === '' && annotation === 'traefik')
}

/** The IngressClasses Traefik serves: those whose controller is Traefik's. */
export function traefikIngressClassNames(ingressClasses: Obj[], providerClass = ''): string[] {
  return ingressClasses
    .filter((c) => c.spec?.controller === TRAEFIK_INGRESS_CONTROLLER)
    .map((c) => c.metadata.name)
    .filter((name) => providerClass === '' || name === providerClass)
}

function ingressRouters(ingress: Obj, judge: ReturnType<typeof backendJudge>): Router[] {
  const namespace = ingress.metadata.namespace ?? ''
  const annotation: string | undefined = ingress.metadata.annotations?.[ENTRYPOINTS_ANNOTATION]
  const entryPoints = annotation ? annotation.split(',').map((e) => e.trim()).filter(Boolean) : []
  const middlewareRefs = String(ingress.metadata.annotations?.[MIDDLEWARES_ANNOTATION] ?? '')
    .split(',')
    .filter((m) => m.trim())
    .map((m) => judge.middlewareByAnnotation(m))
    .filter((m): m is { name: string; namespace: string } => m !== undefined)
  const router = (part: string, backend: any): Router => ({
    kind: 'Ingress',
    namespace,
    name: ingress.metadata.name,
    part,
    entryPoints: entryPoints.length ? entryPoints : undefined,
    via: [],
    reach: () =>
      merge([
        backend?.service ? judge.refReach({ name: backend.service.name, port: backend.service.port?.number ?? backend.service.port?.name }, namespace, []) : NONE,
        judge.middlewareReach(middlewareRefs, namespace, []),
      ]),
  })
  const routers: Router[] = []
  if (ingress.spec?.defaultBackend) routers.push(router('default backend', ingress.spec.defaultBackend))
  for (const rule of ingress.spec?.rules ?? []) {
    for (const p of rule.http?.paths ?? []) routers.push(router(`rule ${rule.host ?? '*'} ${p.path ?? '/'}`, p.backend))
  }
  return routers
}

// --- Gateway API routes

export type GatewayRouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute'
const TRAEFIK_GATEWAY_CONTROLLER = 'traefik.io/gateway-controller'
const GATEWAY_GROUP = 'gateway.networking.k8s.io'
/** The route kinds a listener takes when its allowedRoutes names none, by its protocol. */
const KINDS_BY_PROTOCOL: Record<string, GatewayRouteKind[]> = { HTTP: ['HTTPRoute', 'GRPCRoute'], HTTPS: ['HTTPRoute', 'GRPCRoute'], TLS: ['TLSRoute', 'TCPRoute'], TCP: ['TCPRoute'] }

/** A Gateway API route that no Gateway of Traefik's takes, and why. */
export type Detached = { kind: GatewayRouteKind; namespace: string; name: string; why: string }

/**
 * The routers of Gateway API routes: one per listener of a Traefik Gateway that takes the route
 * (parentRefs with or without sectionName/port, the listener's allowedRoutes namespaces and kinds),
 * landing on the entrypoint whose port is the listener's (Traefik's rule). Host names play no part.
 * Backends: backendRefs (Services, or Traefik's TraefikServices), RequestMirror filters, and
 * ExtensionRef filters to Traefik Middlewares; a Service in another namespace only with a
 * ReferenceGrant there.
 */
export function gatewayRouters(objects: RouteObjects, scope: AuditScope, judge: ReturnType<typeof backendJudge>): { routers: Router[]; detached: Detached[] } {
  const classes = new Map((objects.gatewayClasses ?? []).map((c) => [c.metadata.name, c]))
  const gateways = index(objects.gateways)
  const namespaceLabels = new Map((objects.namespaces ?? []).map((n) => [n.metadata.name, { ...(n.metadata.labels ?? {}), 'kubernetes.io/metadata.name': n.metadata.name }]))
  const ports = scope.entrypointPorts ?? {}
  const routers: Router[] = []
  const detached: Detached[] = []
  const all: [GatewayRouteKind, Obj[] | undefined][] = [['HTTPRoute', objects.httpRoutes], ['GRPCRoute', objects.grpcRoutes], ['TLSRoute', objects.tlsRoutes], ['TCPRoute', objects.tcpRoutes]]
  for (const [kind, routes] of all) {
    for (const route of routes ?? []) {
      const namespace = route.metadata.namespace ?? ''
      const whyNot: string[] = []
      const landings: { entrypoint: string; via: string }[] = []
      for (const ref of (route.spec?.parentRefs ?? []) as any[]) {
        if ((ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') continue
        const gwNamespace = ref.namespace || namespace
        const gateway = gateways.get(key(gwNamespace, ref.name))
        const gw = `Gateway ${gwNamespace}/${ref.name}`
        if (!gateway) {
          whyNot.push(`${gw} does not exist`)
          continue
        }
        const controller = classes.get(gateway.spec?.gatewayClassName)?.spec?.controllerName
        if (controller !== TRAEFIK_GATEWAY_CONTROLLER) {
          whyNot.push(`${gw} is of GatewayClass ${gateway.spec?.gatewayClassName}${controller ? ` (controller ${controller})` : ''}, not Traefik's`)
          continue
        }
        if (scope.gatewayProvider === false) {
          whyNot.push(`Traefik's Gateway provider is off (no --providers.kubernetesgateway)`)
          continue
        }
        for (const listener of (gateway.spec?.listeners ?? []) as any[]) {
          if (ref.sectionName && listener.name !== ref.sectionName) continue
          if (ref.port && Number(listener.port) !== Number(ref.port)) continue
          const allowed = listener.allowedRoutes ?? {}
          const from = allowed.namespaces?.from ?? 'Same'
          const namespaceOk =
            from === 'All' || (from === 'Same' && gwNamespace === namespace) || (from === 'Selector' && selectsNamespace(allowed.namespaces?.selector, namespaceLabels.get(namespace)))
          const kinds: string[] = allowed.kinds?.length ? allowed.kinds.map((k: any) => k.kind) : KINDS_BY_PROTOCOL[String(listener.protocol).toUpperCase()] ?? []
          if (!namespaceOk || !kinds.includes(kind)) {
            whyNot.push(`listener ${listener.name} of ${gw} does not allow ${kind}s from namespace ${namespace}`)
            continue
          }
          const entrypoint = Object.keys(ports).find((e) => ports[e] === Number(listener.port))
          if (!entrypoint) {
            whyNot.push(`listener ${listener.name} of ${gw} is on port ${listener.port}, which is no entrypoint of Traefik's`)
            continue
          }
          landings.push({ entrypoint, via: `${gw} listener ${listener.name}` })
        }
      }
      if (landings.length === 0) {
        detached.push({ kind, namespace, name: route.metadata.name, why: whyNot.length ? unique(whyNot).join('; ') : 'it names no Gateway' })
        continue
      }
      const rules: any[] = route.spec?.rules ?? []
      rules.forEach((rule, i) => {
        const refs: BackendRef[] = []
        const middlewares: { name?: unknown; namespace?: string }[] = []
        for (const b of rule.backendRefs ?? []) refs.push(...gatewayBackend(b, namespace, kind, objects))
        for (const f of [...(rule.filters ?? []), ...(rule.backendRefs ?? []).flatMap((b: any) => b.filters ?? [])]) {
          if (f.type === 'RequestMirror' && f.requestMirror?.backendRef) refs.push(...gatewayBackend(f.requestMirror.backendRef, namespace, kind, objects))
          if (f.type === 'ExtensionRef' && f.extensionRef?.kind === 'Middleware') middlewares.push({ name: f.extensionRef.name, namespace })
        }
        for (const landing of landings) {
          routers.push({
            kind,
            namespace,
            name: route.metadata.name,
            part: rules.length > 1 ? `rule ${i + 1}` : '',
            entryPoints: [landing.entrypoint],
            via: [landing.via],
            reach: () => merge([...refs.map((r) => judge.refReach(r, namespace, [], new Set(), true)), judge.middlewareReach(middlewares, namespace, [])]),
          })
        }
      })
    }
  }
  return { routers, detached }
}

function selectsNamespace(selector: any, labels: Record<string, string> | undefined): boolean {
  if (!selector || !labels) return false
  const matchLabels = Object.entries(selector.matchLabels ?? {})
  const expressions: any[] = selector.matchExpressions ?? []
  return (
    matchLabels.every(([k, v]) => labels[k] === v) &&
    expressions.every((e) => {
      const has = e.key in labels
      if (e.operator === 'In') return has && (e.values ?? []).includes(labels[e.key])
      if (e.operator === 'NotIn') return !has || !(e.values ?? []).includes(labels[e.key])
      if (e.operator === 'Exists') return has
      if (e.operator === 'DoesNotExist') return !has
      return false
    })
  )
}

/** A backendRef as the backend judgement reads it; a Service in another namespace needs a ReferenceGrant there. */
function gatewayBackend(ref: any, routeNamespace: string, kind: GatewayRouteKind, objects: RouteObjects): BackendRef[] {
  const group = ref.group ?? ''
  const refKind = ref.kind ?? 'Service'
  const namespace = ref.namespace || routeNamespace
  if (group === 'traefik.io' && refKind === 'TraefikService') return [{ kind: 'TraefikService', name: ref.name, namespace }]
  if (group !== '' || refKind !== 'Service') return []
  if (namespace !== routeNamespace) {
    const granted = (objects.referenceGrants ?? []).some(
      (g) =>
        g.metadata.namespace === namespace &&
        (g.spec?.from ?? []).some((f: any) => f.group === GATEWAY_GROUP && f.kind === kind && f.namespace === routeNamespace) &&
        (g.spec?.to ?? []).some((t: any) => (t.group ?? '') === '' && t.kind === 'Service' && (!t.name || t.name === ref.name)),
    )
    if (!granted) return [] // Traefik refuses it (ResolvedRefs False: RefNotPermitted)
  }
  return [{ kind: 'Service', name: ref.name, namespace, port: ref.port }]
}

/** Every router Traefik builds from the cluster's route objects. */
export function routersOf(objects: RouteObjects, scope: AuditScope, judge = backendJudge(objects, scope)): Router[] {
  const routes = index(objects.ingressRoutes)
  const classNames = objects.ingressClasses ? traefikIngressClassNames(objects.ingressClasses, scope.ingressProviderClass ?? '') : ['traefik']
  return [
    ...(objects.ingressRoutes ?? []).flatMap((r) => crdRouters('IngressRoute', r, routes, judge)),
    ...(objects.ingressRouteTCPs ?? []).flatMap((r) => crdRouters('IngressRouteTCP', r, new Map(), judge)),
    ...(objects.ingressRouteUDPs ?? []).flatMap((r) => crdRouters('IngressRouteUDP', r, new Map(), judge)),
    ...(objects.ingresses ?? []).filter((i) => traefikServesIngress(i, classNames, scope.ingressProviderClass ?? '')).flatMap((i) => ingressRouters(i, judge)),
    ...gatewayRouters(objects, scope, judge).routers,
  ]
}

// --- the verdicts

/** How to take a router off the public entrypoints, in its kind's words. */
function fixFor(router: Router, scope: AuditScope): string {
  const internal = scope.internalEntrypoints ?? []
  const to = internal.length ? internal.join(', ') : 'the internal entrypoints'
  if (['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'].includes(router.kind)) {
    return `attach it (parentRefs) to the internal Gateway only, or point it at a public app's backend; a public Gateway's listeners can also refuse its namespace (allowedRoutes)`
  }
  if (router.via.length) return `move its parent (${router.via[0]}) to ${to}, or point it at a public app's backend`
  if (router.kind === 'Ingress') return `set the annotation ${ENTRYPOINTS_ANNOTATION}: ${internal.join(',') || 'intweb,intwebsec'}, or point it at a public app's backend`
  return `set its entryPoints to ${to}, or point it at a public app's backend`
}

const routerName = (r: Router) => `${r.kind} ${r.namespace}/${r.name}`

/**
 * The audit's checks: a failure per route object with a router on a public entrypoint that reaches
 * an admin UI (each way there named) or that the audit cannot see through; a pass per route object
 * that reaches an admin UI only on internal entrypoints; one pass summing up the public routers.
 */
export function auditRoutes(objects: RouteObjects, scope: AuditScope): Check[] {
  const judge = backendJudge(objects, scope)
  const routers = routersOf(objects, scope, judge)
  const byObject = new Map<string, { fails: string[]; unresolved: string[]; admin: Set<string>; internal: string[] }>()
  let publicRouters = 0
  for (const router of routers) {
    const reach = router.reach()
    const { exposed, where } = exposure(router, scope)
    const name = routerName(router)
    const entry = byObject.get(name) ?? { fails: [], unresolved: [], admin: new Set<string>(), internal: [] }
    const part = router.part ? `${router.part}: ` : ''
    const via = router.via.length ? ` through ${router.via.join(' -> ')}` : ''
    if (exposed.length) publicRouters++
    for (const a of reach.admin) entry.admin.add(a.label)
    if (exposed.length && reach.admin.length) {
      for (const a of uniqueBy(reach.admin, (a) => a.path.join(' -> '))) {
        entry.fails.push(`${part}on public ${exposed.join(', ')}${via}, it reaches ${a.label}: ${a.path.join(' -> ')}`)
      }
      entry.fails.push(`fix: ${fixFor(router, scope)}`)
    } else if (exposed.length && reach.unresolved.length) {
      for (const u of reach.unresolved) entry.unresolved.push(`${part}on public ${exposed.join(', ')}${via}: cannot tell what ${u.path.join(' -> ')} reaches: ${u.why}; ${u.fix}`)
    } else if (reach.admin.length) {
      entry.internal.push(`${part}${where}${via}`)
    }
    byObject.set(name, entry)
  }
  const checks: Check[] = []
  for (const [name, entry] of byObject) {
    const what = [...entry.admin].join(', ')
    if (entry.fails.length) checks.push({ name: `${name} (${what}) only on internal entrypoints`, status: 'fail', detail: unique(entry.fails).join('; ') })
    else if (entry.admin.size) checks.push({ name: `${name} (${what}) only on internal entrypoints`, status: 'pass', detail: unique(entry.internal).join('; ') })
    if (entry.unresolved.length) checks.push({ name: `${name} on public entrypoints reaches a backend the audit can judge`, status: 'fail', detail: unique(entry.unresolved).join('; ') })
  }
  const { detached } = gatewayRouters(objects, scope, judge)
  if (detached.length) {
    checks.push({
      name: 'Gateway API routes attached to nothing Traefik serves',
      status: 'warn',
      detail: detached.map((d) => `${d.kind} ${d.namespace}/${d.name}: ${d.why}`).join('; '),
    })
  }
  const failing = checks.filter((c) => c.status === 'fail').length
  checks.push({
    name: 'Routers on public entrypoints reach no admin UI',
    status: failing ? 'fail' : 'pass',
    detail: `${publicRouters} router${publicRouters === 1 ? '' : 's'} on ${scope.publicEntrypoints.join(', ')} judged by what they reach (any host, path or SNI)${failing ? `; ${failing} route object${failing === 1 ? '' : 's'} above fail` : ''}`,
  })
  return checks
}

function unique(items: string[]): string[] {
  return [...new Set(items)]
}
function uniqueBy<T>(items: T[], by: (t: T) => string): T[] {
  const seen = new Set<string>()
  return items.filter((t) => (seen.has(by(t)) ? false : (seen.add(by(t)), true)))
}
