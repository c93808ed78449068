/**
 * The route audit: every route in the cluster that serves an admin host, or one of Traefik's own
 * admin services, must be bound to entrypoints that no public Service exposes. Pure functions of
 * API objects; router rules are read as Traefik v3 reads them (traefik-rule.ts).
 *
 * What counts as serving an admin host: a rule with a Host/HostRegexp matcher (or an Ingress host,
 * `*.domain` wildcards included) that picks the admin host out. A rule that matches every host name
 * (no Host matcher, `!Host(other)`, `HostRegexp(`.*`)`) also answers for the admin host names on
 * the public address, but it is a public app's catch-all, not an admin route: Traefik's admin
 * routers are on the internal entrypoints, so on the public ones such a rule only ever reaches its
 * own backend. Catch-alls are therefore not reported, unless they lead to one of Traefik's admin
 * services (api@internal and the like), which fails wherever the host.
 *
 * A rule the audit cannot judge, on a public entrypoint, is never passed silently:
 * - Traefik rejects it (syntax error, v2 forms under v3 syntax, a bad argument): `warn`. Traefik
 *   logs the error and serves nothing for that router, so nothing is exposed, but the route is
 *   broken and the audit's reading of it unproven.
 * - Traefik accepts it but the audit cannot read it (a HostRegexp with Unicode classes, a v2
 *   HostRegexp template, too many matchers): `fail`. The audit has to prove that no public route
 *   serves an admin host; the detail says how to make the rule readable (or bind it internally).
 */
import type { Check, Obj } from './checks.ts'
import { traefikFlags } from '../traefik/flags.ts'
import { ingressHostCovers, judgeHost, parseRule, type RuleNode, type RuleSyntax } from '../traefik/rule.ts'

/** What the audit needs to know about the running Traefik (auditSettings reads it from its pods or Deployment). */
export type AuditSettings = {
  /**
   * Entrypoints Traefik gives a router that names none: those marked `asDefault`, or else all.
   * Undefined: unknown, taken as every entrypoint, public ones included.
   */
  defaultEntrypoints?: string[]
  /** `--core.defaultRuleSyntax`: the syntax of routes that do not name one (Traefik's default: v3). */
  defaultRuleSyntax?: RuleSyntax
  /** `--providers.kubernetesingress.ingressClass`: '' (unset) serves class-less Ingresses without the class annotation. */
  ingressProviderClass?: string
}

/**
 * Traefik's internal services that give away control or insight: the API and dashboard, the REST
 * provider (writes routing configuration) and the Prometheus metrics. ping@internal, noop@internal
 * and acme-http@internal are harmless in public.
 */
const ADMIN_INTERNAL_SERVICES: Record<string, string> = {
  'api@internal': "Traefik's API/dashboard",
  'dashboard@internal': "Traefik's dashboard",
  'rest@internal': "Traefik's REST provider",
  'prometheus@internal': "Traefik's metrics",
}

const TRAEFIK_INGRESS_CONTROLLER = 'traefik.io/ingress-controller'
const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class'
const ENTRYPOINTS_ANNOTATION = 'traefik.ingress.kubernetes.io/router.entrypoints'

/** Hosts named in a rule's Host matchers (either syntax), lower case; [] when the rule does not parse. The audit itself judges rules with judgeHost. */
export function hostsInRule(rule: string): string[] {
  const parsed = parseRule(rule, 'v3')
  const tree = parsed.ok ? parsed : parseRule(rule, 'v2')
  if (!tree.ok) return []
  const hosts: string[] = []
  const walk = (node: RuleNode): void => {
    if (node.kind === 'and' || node.kind === 'or') return (walk(node.left), walk(node.right))
    if (node.kind === 'not') return walk(node.operand)
    if (node.name === 'Host' || node.name === 'HostHeader') hosts.push(...node.args.map((a) => a.toLowerCase()))
  }
  walk(tree.tree)
  return hosts
}

// --- entrypoints

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

/**
 * The settings of the running Traefik, from the arguments of its pods and/or its Deployment (pass
 * both: the pods are what runs now, the Deployment's template what runs after a rollout). Where
 * they differ, a route without entrypoints may land on the defaults of any of them: their union.
 * Nothing given: nothing known, every entrypoint.
 */
export function auditSettings(traefikPodsOrDeployments: Obj[]): AuditSettings {
  const argsOf = (obj: Obj): string[] => {
    const podSpec = obj.spec?.template?.spec ?? obj.spec
    const containers: any[] = podSpec?.containers ?? []
    const container = containers.find((c) => c.name === 'traefik') ?? containers[0]
    return [...(container?.command ?? []), ...(container?.args ?? [])].map(String)
  }
  const all = traefikPodsOrDeployments.map(argsOf)
  if (all.length === 0) return {}
  const defaults = new Set<string>()
  for (const args of all) {
    const names = [...traefikFlags(args).entrypoints().values()].filter((f) => f.address !== undefined).map((f) => f.name)
    for (const e of defaultEntrypoints(args, names)) defaults.add(e)
  }
  const argValue = (args: string[], flag: string) => traefikFlags(args).value(flag)
  const syntax = all.map((a) => argValue(a, 'core.defaultRuleSyntax')).find(Boolean)
  return {
    defaultEntrypoints: [...defaults],
    defaultRuleSyntax: syntax === 'v2' ? 'v2' : 'v3',
    ingressProviderClass: all.map((a) => argValue(a, 'providers.kubernetesingress.ingressClass')).find((v) => v !== undefined) ?? '',
  }
}

/** Where a router lands: its own entrypoints, or Traefik's defaults when it names none. */
type Placement = { entryPoints: string[] | undefined; explicit: boolean }

function exposure(placement: Placement, publicEntrypoints: string[], settings: AuditSettings, missing: string): { exposed: string[]; detail: string } {
  if (placement.explicit) {
    const list = placement.entryPoints ?? []
    const exposed = list.filter((e) => publicEntrypoints.includes(e))
    return { exposed, detail: exposed.length ? `it is bound to public entrypoint${exposed.length > 1 ? 's' : ''} ${exposed.join(', ')}` : list.join(', ') }
  }
  if (!settings.defaultEntrypoints) {
    return { exposed: publicEntrypoints, detail: `it ${missing}, so Traefik serves it on every entrypoint, public ones included` }
  }
  const defaults = settings.defaultEntrypoints
  const exposed = defaults.filter((e) => publicEntrypoints.includes(e))
  return exposed.length
    ? { exposed, detail: `it ${missing}, so Traefik serves it on its default entrypoints (${defaults.join(', ')}), public ${exposed.join(', ')} included` }
    : { exposed, detail: `it ${missing}: Traefik's default entrypoints are ${defaults.join(', ')}` }
}

// --- IngressRoutes

type Ref = { kind?: string; name?: unknown; namespace?: string }
type InternalReach = { service: string; through: string[] }

/**
 * Traefik's admin services a route's services reach: named directly (`api@internal` of kind
 * TraefikService), or through TraefikService objects (weighted, mirroring with its mirrors,
 * highestRandomWeight), however deeply nested; a cycle is followed once.
 */
export function internalServicesReached(services: Ref[], namespace: string, traefikServices: Obj[], through: string[] = [], seen = new Set<string>()): InternalReach[] {
  const found: InternalReach[] = []
  for (const ref of services) {
    if (ref.kind !== 'TraefikService') continue // a Kubernetes Service
    const name = String(ref.name ?? '')
    if (name.endsWith('@internal')) {
      if (name in ADMIN_INTERNAL_SERVICES) found.push({ service: name, through })
      continue
    }
    const [base, provider] = name.includes('@') ? [name.slice(0, name.lastIndexOf('@')), name.slice(name.lastIndexOf('@') + 1)] : [name, 'kubernetescrd']
    if (provider !== 'kubernetescrd') continue // another provider's service: not visible from the cluster
    const ns = ref.namespace || namespace
    const key = `${ns}/${base}`
    if (seen.has(key)) continue
    seen.add(key)
    const ts = traefikServices.find((t) => t.metadata.namespace === ns && t.metadata.name === base)
    if (!ts) continue // Traefik reports the missing service and serves nothing through it
    const spec = ts.spec ?? {}
    const nested: Ref[] = [
      ...(spec.weighted?.services ?? []),
      ...(spec.mirroring ? [spec.mirroring, ...(spec.mirroring.mirrors ?? [])] : []),
      ...(spec.highestRandomWeight?.services ?? []),
    ]
    found.push(...internalServicesReached(nested, ns, traefikServices, [...through, `TraefikService ${key}`], seen))
  }
  return found
}

/** Where the routers of an IngressRoute land, and the rules of the parents they sit under. */
type RouterContext = Placement & { parentRules: RuleNode[]; via: string[] }

/**
 * An IngressRoute without parentRefs lands on its entryPoints. One with parentRefs is a child: its
 * routers are reached only through every route of each parent (its own entryPoints are not used),
 * so it lands where the parents land, under the parents' rules. A missing parent makes Traefik skip
 * the whole IngressRoute; a cycle never reaches an entrypoint.
 */
function routerContexts(route: Obj, all: Obj[], settings: AuditSettings, seen: Set<string> = new Set()): RouterContext[] {
  const key = `${route.metadata.namespace}/${route.metadata.name}`
  const parentRefs: { name?: string; namespace?: string }[] = route.spec?.parentRefs ?? []
  if (parentRefs.length === 0) {
    const entryPoints: string[] = route.spec?.entryPoints ?? []
    return [{ entryPoints: entryPoints.length ? entryPoints : undefined, explicit: entryPoints.length > 0, parentRules: [], via: [] }]
  }
  if (seen.has(key)) return []
  const contexts: RouterContext[] = []
  for (const ref of parentRefs) {
    const ns = ref.namespace || route.metadata.namespace
    const parent = all.find((r) => r.metadata.namespace === ns && r.metadata.name === ref.name)
    if (!parent) return []
    const rules = routesOf(parent, settings).flatMap((r) => (r.parsed.ok ? [r.parsed.tree] : []))
    if (rules.length === 0) continue
    const anyParentRule = rules.reduce((left, right) => ({ kind: 'or', left, right }))
    for (const ctx of routerContexts(parent, all, settings, new Set([...seen, key]))) {
      contexts.push({ ...ctx, parentRules: [...ctx.parentRules, anyParentRule], via: [...ctx.via, `parent IngressRoute ${ns}/${ref.name}`] })
    }
  }
  return contexts
}

/** The routes Traefik builds routers from (kind Rule, a non-empty match), with their parsed rules. */
function routesOf(route: Obj, settings: AuditSettings) {
  return ((route.spec?.routes ?? []) as any[])
    .map((r, index) => ({ index, match: String(r.match ?? ''), services: (r.services ?? []) as Ref[], syntax: r.syntax as string | undefined, kind: r.kind as string | undefined }))
    .filter((r) => (r.kind === undefined || r.kind === '' || r.kind === 'Rule') && r.match !== '')
    .map((r) => {
      const syntax: RuleSyntax = r.syntax === 'v2' || r.syntax === 'v3' ? r.syntax : settings.defaultRuleSyntax ?? 'v3'
      return { ...r, syntax, parsed: parseRule(r.match, syntax) }
    })
}

/**
 * Every IngressRoute serving an admin host, or one of Traefik's admin services, must be bound to
 * entrypoints that no public Service exposes. Without entryPoints, a route lands on Traefik's
 * default entrypoints (`settings.defaultEntrypoints`; unknown: every entrypoint).
 */
export function auditIngressRoutes(
  routes: Obj[],
  hosts: string[],
  publicEntrypoints: string[],
  options: AuditSettings & { traefikServices?: Obj[] } = {},
): Check[] {
  const checks: Check[] = []
  for (const ingressRoute of routes) {
    const ref = `IngressRoute ${ingressRoute.metadata.namespace}/${ingressRoute.metadata.name}`
    const contexts = routerContexts(ingressRoute, routes, options)
    const served = new Set<string>()
    const internal = new Set<string>()
    const problems: string[] = []
    const placements: string[] = []
    const unjudged: Check[] = []
    for (const route of routesOf(ingressRoute, options)) {
      const reached = internalServicesReached(route.services, ingressRoute.metadata.namespace!, options.traefikServices ?? [])
      for (const ctx of contexts) {
        const where = exposure(ctx, publicEntrypoints, options, 'lists no entryPoints')
        const via = ctx.via.length ? ` (through ${ctx.via.join(', ')})` : ''
        const routeHosts: string[] = []
        const unknown: string[] = []
        let rejected = false
        if (!route.parsed.ok) {
          rejected = true
          unknown.push(`Traefik rejects this rule: ${route.parsed.error}`)
        } else {
          const tree = [route.parsed.tree, ...ctx.parentRules].reduce((left, right) => ({ kind: 'and', left, right }))
          for (const host of hosts) {
            const judged = judgeHost(tree, host)
            if (judged.verdict === 'yes' && !judged.catchAll) routeHosts.push(host.toLowerCase())
            if (judged.verdict === 'unknown') {
              unknown.push(judged.reason)
              rejected ||= judged.traefikRejects
            }
          }
        }
        // A router Traefik rejects serves nothing, its services included.
        const reachedHere = route.parsed.ok ? reached : []
        if (routeHosts.length === 0 && reachedHere.length === 0) {
          if (unknown.length && where.exposed.length) {
            unjudged.push({
              name: `${ref} route ${route.index + 1} serves no admin host on public entrypoints`,
              status: rejected ? 'warn' : 'fail',
              detail: rejected
                ? `${unknown[0]}; Traefik serves nothing for this router, fix or remove it (match: ${route.match})`
                : `cannot tell: ${unknown[0]}; it is on ${where.exposed.join(', ')}${via}. Use Host(...) matchers or a plainer HostRegexp, or bind it to internal entrypoints`,
            })
          }
          continue
        }
        routeHosts.forEach((h) => served.add(h))
        for (const r of reachedHere) internal.add(r.service)
        const reachedDetail = reachedHere
          .filter((r) => r.through.length)
          .map((r) => `${r.service} through ${r.through.join(' -> ')}`)
        const suffix = `${via}${reachedDetail.length ? ` (${reachedDetail.join('; ')})` : ''}`
        if (where.exposed.length) problems.push(`${where.detail}${suffix}`)
        else placements.push(`${where.detail}${suffix}`)
      }
    }
    if (served.size || internal.size) {
      const what = served.size ? [...served].join(', ') : [...new Set([...internal].map((s) => ADMIN_INTERNAL_SERVICES[s]))].join(', ')
      const name = `${ref} (${what}) only on internal entrypoints`
      checks.push(problems.length ? { name, status: 'fail', detail: unique(problems).join('; ') } : { name, status: 'pass', detail: unique(placements).join('; ') })
    }
    checks.push(...unjudged.filter((c, i) => unjudged.findIndex((d) => d.name === c.name) === i))
  }
  return checks
}

function unique(items: string[]): string[] {
  return [...new Set(items)]
}

// --- Ingresses

/**
 * Whether Traefik's kubernetesingress provider serves an Ingress, as Traefik decides it: one with
 * spec.ingressClassName when that IngressClass has Traefik's controller (and, when the provider is
 * limited to one class, that name); one without, by its `kubernetes.io/ingress.class` annotation,
 * which must equal the provider's class, where an unset class also takes `traefik` and no
 * annotation at all (the chart's default). The `ingressclass.kubernetes.io/is-default-class`
 * annotation plays no part here: the API server uses it to fill in ingressClassName when an
 * Ingress is created, so such Ingresses carry the class name by the time Traefik and this audit
 * read them.
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

/**
 * Plain Ingress objects are served too (the chart enables Traefik's kubernetesingress provider):
 * one Traefik serves for an admin host (exact, or a `*.domain` wildcard covering it) must carry the
 * entrypoints annotation naming only internal entrypoints, or rely on default entrypoints that are
 * all internal. Without `ingressClasses` (not read), only a class named `traefik` is taken as Traefik's.
 */
export function auditIngresses(ingresses: Obj[], hosts: string[], publicEntrypoints: string[], options: AuditSettings & { ingressClasses?: Obj[] } = {}): Check[] {
  const providerClass = options.ingressProviderClass ?? ''
  const classNames = options.ingressClasses ? traefikIngressClassNames(options.ingressClasses, providerClass) : ['traefik']
  const checks: Check[] = []
  for (const ingress of ingresses) {
    if (!traefikServesIngress(ingress, classNames, providerClass)) continue
    const ruleHosts: string[] = (ingress.spec?.rules ?? []).map((r: any) => String(r.host ?? '')).filter(Boolean)
    const served = hosts.map((h) => h.toLowerCase()).filter((h) => ruleHosts.some((rh) => ingressHostCovers(rh, h)))
    if (served.length === 0) continue
    const name = `Ingress ${ingress.metadata.namespace}/${ingress.metadata.name} (${served.join(', ')}) only on internal entrypoints`
    const annotation: string | undefined = ingress.metadata.annotations?.[ENTRYPOINTS_ANNOTATION]
    const entryPoints = annotation ? annotation.split(',').map((e) => e.trim()).filter(Boolean) : []
    const where = exposure({ entryPoints, explicit: entryPoints.length > 0 }, publicEntrypoints, options, `has no ${ENTRYPOINTS_ANNOTATION} annotation`)
    const wildcard = ruleHosts.filter((rh) => rh.startsWith('*.') && served.some((h) => ingressHostCovers(rh, h)))
    const through = wildcard.length ? ` (host ${wildcard.join(', ')})` : ''
    checks.push(
      where.exposed.length
        ? { name, status: 'fail', detail: `${where.detail}${through}` }
        : { name, status: 'pass', detail: entryPoints.length ? annotation! : where.detail },
    )
  }
  return checks
}
