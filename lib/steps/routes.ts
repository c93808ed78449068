/**
 * Step 03: IngressRoutes for the admin UIs, on the internal entrypoints only (HTTPRoutes on the
 * internal Gateway in gateway mode), and the admission guard (ADMISSION_GUARD): a
 * ValidatingAdmissionPolicy and its binding refusing (or warning about) any route that puts an admin
 * backend on a public entrypoint. The guard lives here because its list of admin backends is
 * INTERNAL_ROUTES, the same setting as the routes: one step writes both, so they never disagree.
 */
import { applyManifests, planApply, refOf, summarize, type Change } from '../kube/apply.ts'
import { retryTransient } from '../kube/cluster.ts'
import { PreconditionError } from '../base/errors.ts'
import { allInOrder } from '../base/parallel.ts'
import { apiPath, rawDelete, rawGet, rawList } from '../kube/raw.ts'
import { type Claim, claimOf, INGRESSROUTES, isOurs, MANAGED_SELECTOR, ownerOf, refuseUnowned } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { GATEWAY_API, pruneGatewayObjects } from '../kube/gateway-api.ts'
import { adminRouteManifests } from '../render/render.ts'
import { ADMISSION_API, admissionGuardManifests, admissionGuardName, BINDING_KIND, POLICY_KIND } from '../render/admission.ts'
import { type GuardObjects, readGuardObjects } from '../verify/admission.ts'
import type { Args, StepContext, StepResult } from './context.ts'

export async function applyInternalRoutes(ctx: StepContext, args: Args = {}): Promise<StepResult> {
  const { config, cluster, log } = ctx
  const gateway = config.routesApi === 'gateway'
  const api = gateway ? ROUTE_APIS.HTTPRoute : ROUTE_APIS.IngressRoute
  log.step(`03-internal-routes: ${config.internalRoutes.map((r) => r.name).join(', ') || '(none)'} on ${gateway ? 'the internal Gateway (HTTPRoutes)' : 'intweb/intwebsec'}`)
  const manifests = adminRouteManifests(config)
  // Every read at once, one per namespace, Service and route: 50 routes cost what one does.
  const namespaces = [...new Set(config.internalRoutes.map((r) => r.namespace))]
  const [routesCrd, oldRoutesCrd, namespacesFound, services, liveRoutes, managed, guard] = await allInOrder([
    crd(ctx, api.crd),
    crd(ctx, 'ingressroutes.traefik.containo.us'),
    allInOrder(namespaces.map((name) => retryTransient(() => rawGet(cluster, apiPath('v1', 'namespaces', { name }))))),
    // (each Service once, however many routes lead to it)
    allInOrder([...new Set(config.internalRoutes.map((r) => `${r.namespace}/${r.service}`))].map((ref) =>
      retryTransient(() => rawGet(cluster, apiPath('v1', 'services', { namespace: ref.split('/')[0], name: ref.split('/')[1] }))).then((s) => [ref, s] as const),
    )).then((found) => new Map(found)),
    // (404 while the CRD is missing: then there is none)
    allInOrder(manifests.map((m) => retryTransient(() => rawGet(cluster, apiPath(api.apiVersion, api.plural, { namespace: m.metadata.namespace, name: m.metadata.name }))))),
    // every route any configuration of the kit made, for pruning (applying the wanted ones changes no other)
    retryTransient(() => rawList(cluster, apiPath(api.apiVersion, api.plural, { query: { labelSelector: MANAGED_SELECTOR } }))),
    readAdmissionGuard(ctx),
  ] as const)
  if (!routesCrd && gateway) {
    throw new PreconditionError(`ROUTES_API=gateway: the HTTPRoute CRD (${api.crd}) is missing in context ${cluster.context}`, [
      'install the Gateway API CRDs (standard channel) and run 02-traefik first: it checks them and makes the Gateways the routes attach to',
    ])
  }
  if (!routesCrd) {
    if (ctx.dryRun) {
      log.warn('the IngressRoute CRD is not installed yet (02-traefik installs it); nothing to compare against')
      return { ok: true, summary: `03-internal-routes: ${config.internalRoutes.length} would be created once 02-traefik has run` }
    }
    throw new PreconditionError(`the IngressRoute CRD (ingressroutes.traefik.io) is missing in context ${cluster.context}`, [
      'the Traefik chart installs it: run 02-traefik first (npx zx scripts/02-traefik.ts or make 02-traefik)',
    ])
  }
  // Traefik v3 ignores the v2 group; routes there look applied but are never served.
  if (oldRoutesCrd) {
    log.warn(
      'the Traefik v2 CRDs (traefik.containo.us) are still installed; Traefik v3 ignores IngressRoutes in that group. Move any left there to traefik.io/v1alpha1.',
    )
  }

  const present = new Set(namespaces.filter((_, i) => namespacesFound[i] !== undefined))
  const wanted: Manifest[] = []
  const skipped: string[] = []
  for (const [i, route] of config.internalRoutes.entries()) {
    if (!present.has(route.namespace)) {
      log.warn(
        `route ${route.name}: namespace ${route.namespace} does not exist; skipped (install the app, or fix INTERNAL_ROUTES, then rerun 03-internal-routes)`,
      )
      skipped.push(route.name)
      continue
    }
    warnIfServiceMissing(ctx, services.get(`${route.namespace}/${route.service}`), route)
    wanted.push(manifests[i])
  }

  refuseRoutesNotOurs(
    ctx,
    api,
    manifests.flatMap((m, i) => (wanted.includes(m) && liveRoutes[i] ? [liveRoutes[i] as Manifest] : [])),
    args.adopt === true,
    config.admissionGuard === 'off' ? [] : guardClaims(ctx, guard),
  )
  // The routes were read above: the plan needs only the dry runs.
  const live = new Map(manifests.map((m, i) => [m, liveRoutes[i]]))
  const result = await applyManifests(cluster, wanted, ctx.dryRun, await planApply(cluster, wanted, undefined, (m) => live.get(m)))
  if (ctx.dryRun && result.diff) log.info(`pending changes:\n${result.diff}`)
  const pruned = await pruneStaleRoutes(ctx, api, wanted, (managed?.items ?? []) as Manifest[])
  // Switching ROUTES_API leaves nothing of the other mode behind.
  if (gateway) {
    const ingressRoutes = await retryTransient(() => rawList(cluster, apiPath(INGRESSROUTES, 'ingressroutes', { query: { labelSelector: MANAGED_SELECTOR } })))
    pruned.push(...(await pruneStaleRoutes(ctx, ROUTE_APIS.IngressRoute, [], (ingressRoutes?.items ?? []) as Manifest[])))
  } else {
    pruned.push(...(await pruneGatewayObjects(cluster, config, ['HTTPRoute'], { keep: [], dryRun: ctx.dryRun })))
  }
  const changes = [...result.changes, ...pruned]
  for (const change of changes) log.info(`${change.ref}: ${change.action}`)
  const skippedText = skipped.length ? `, ${skipped.length} skipped (${skipped.join(', ')}: namespace missing)` : ''
  const guardText = await applyAdmissionGuard(ctx, guard)
  return { ok: true, summary: `03-internal-routes: ${summarize(changes, ctx.dryRun)}${skippedText}${guardText}` }
}

/** The kit's policy and binding as the cluster holds them; `served: false` before Kubernetes 1.30. */
const readAdmissionGuard = ({ cluster, config }: StepContext): Promise<GuardObjects> => readGuardObjects(cluster, admissionGuardName(config))

/** A policy or binding of the guard's name that this configuration did not create is never overwritten. */
function guardClaims(ctx: StepContext, guard: GuardObjects): Claim[] {
  const plural: Record<string, string> = { [POLICY_KIND]: 'validatingadmissionpolicies', [BINDING_KIND]: 'validatingadmissionpolicybindings' }
  return [guard.policy && { kind: POLICY_KIND, live: guard.policy }, guard.binding && { kind: BINDING_KIND, live: guard.binding }]
    .filter((x) => x !== undefined)
    .map(({ kind, live }) =>
      claimOf(
        `${kind} ${live.metadata.name}`,
        live.metadata.labels,
        ctx.config,
        `delete it yourself (kubectl delete ${plural[kind]} ${live.metadata.name}), use another INSTANCE, or set ADMISSION_GUARD=off`,
      ),
    )
}

/**
 * Brings the guard to ADMISSION_GUARD: the policy and binding applied (deny or warn), or this
 * configuration's removed (off; another's, or one the kit did not create, is left alone). A
 * cluster without ValidatingAdmissionPolicy gets a notice, no failure. Returns the summary's clause.
 */
async function applyAdmissionGuard(ctx: StepContext, guard: GuardObjects): Promise<string> {
  const { config, cluster, log } = ctx
  const mode = config.admissionGuard
  if (!guard.served) {
    if (mode === 'off') return ''
    log.warn(
      `this cluster does not serve ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30 or newer): ADMISSION_GUARD=${mode} cannot be installed, so nothing refuses an admin route on a public entrypoint before it exists; 04-verify's route audit alone catches it`,
    )
    return `; admission guard (${mode}): not available before Kubernetes 1.30, the route audit alone`
  }
  if (mode === 'off') {
    const changes: Change[] = []
    // the binding first: a policy without a binding does nothing, a binding without its policy neither
    for (const [kind, live] of [[BINDING_KIND, guard.binding], [POLICY_KIND, guard.policy]] as const) {
      if (!live || !isOurs(ownerOf(live.metadata.labels, config))) continue
      if (!ctx.dryRun) await rawDelete(cluster, { apiVersion: ADMISSION_API, kind, name: live.metadata.name })
      changes.push({ ref: `${kind} ${live.metadata.name}`, action: 'deleted' })
    }
    for (const change of changes) log.info(`${change.ref}: ${change.action}`)
    return changes.length ? `; admission guard (off): ${summarize(changes, ctx.dryRun)}` : ''
  }
  const wanted = admissionGuardManifests(config)
  const live = new Map<Manifest, unknown>(wanted.map((m) => [m, m.kind === POLICY_KIND ? guard.policy : guard.binding]))
  const result = await applyManifests(cluster, wanted, ctx.dryRun, await planApply(cluster, wanted, undefined, (m) => live.get(m) as Manifest | undefined))
  if (ctx.dryRun && result.diff) log.info(`pending changes:\n${result.diff}`)
  for (const change of result.changes) log.info(`${change.ref}: ${change.action}`)
  return `; admission guard (${mode}): ${summarize(result.changes, ctx.dryRun)}`
}

/** The two kinds of admin route, by ROUTES_API. */
const ROUTE_APIS = {
  IngressRoute: { kind: 'IngressRoute', apiVersion: INGRESSROUTES, plural: 'ingressroutes', crd: 'ingressroutes.traefik.io' },
  HTTPRoute: { kind: 'HTTPRoute', apiVersion: GATEWAY_API, plural: 'httproutes', crd: 'httproutes.gateway.networking.k8s.io' },
} as const
type RouteApi = (typeof ROUTE_APIS)[keyof typeof ROUTE_APIS]

/**
 * A route of the same name that this configuration did not create is never overwritten; nor is
 * anything in `otherClaims` (the guard's policy and binding): all are refused at once, before any write.
 */
function refuseRoutesNotOurs(ctx: StepContext, api: RouteApi, existing: Manifest[], adopt: boolean, otherClaims: Claim[] = []): void {
  const claims = existing.map(({ metadata: { name, namespace = '', labels } }): Claim =>
    claimOf(
      `${api.kind} ${namespace}/${name}`,
      labels,
      ctx.config,
      `rename the entry in INTERNAL_ROUTES (its route is <name>-internal), or delete the route yourself (kubectl -n ${namespace} delete ${api.crd} ${name})`,
    ),
  )
  refuseUnowned([...claims, ...otherClaims], ctx.config, adopt)
}

/** A CustomResourceDefinition, or undefined when it is not installed. */
function crd({ cluster }: StepContext, name: string): Promise<any | undefined> {
  return retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name })))
}

function warnIfServiceMissing(ctx: StepContext, service: any | undefined, route: { name: string; namespace: string; service: string; port: number }): void {
  const ref = `Service ${route.namespace}/${route.service}`
  if (!service) {
    ctx.log.warn(`route ${route.name}: ${ref} does not exist yet; the route answers 404 until it does`)
    return
  }
  const ports: number[] = (service.spec?.ports ?? []).map((p: { port: number }) => p.port)
  if (!ports.includes(route.port)) {
    ctx.log.warn(`route ${route.name}: ${ref} has no port ${route.port} (it has ${ports.join(', ') || 'none'}); fix INTERNAL_ROUTES`)
  }
}

/** Routes this configuration made for names no longer in INTERNAL_ROUTES are deleted; no others. */
async function pruneStaleRoutes(ctx: StepContext, api: RouteApi, wanted: Manifest[], managed: Manifest[]): Promise<Change[]> {
  const keep = new Set(wanted.map(refOf))
  const stale = managed.filter((o) => isOurs(ownerOf(o.metadata.labels, ctx.config)) && !keep.has(refOf({ ...o, kind: api.kind })))
  const changes: Change[] = []
  for (const route of stale) {
    const ref = refOf({ ...route, kind: api.kind })
    if (!ctx.dryRun) await rawDelete(ctx.cluster, { apiVersion: api.apiVersion, kind: api.kind, name: route.metadata.name, namespace: route.metadata.namespace })
    changes.push({ ref, action: 'deleted' })
  }
  return changes
}
