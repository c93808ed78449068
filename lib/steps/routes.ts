/** Step 03: IngressRoutes for the admin UIs, on the internal entrypoints only. */
import { applyManifests, refOf, summarize, type Change } from '../kube/apply.ts'
import { retryTransient } from '../kube/cluster.ts'
import { PreconditionError } from '../base/errors.ts'
import { allInOrder } from '../base/parallel.ts'
import { apiPath, rawDelete, rawGet, rawList } from '../kube/raw.ts'
import { type Claim, claimOf, INGRESSROUTES, isOurs, MANAGED_SELECTOR, ownerOf, refuseUnowned } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { internalRouteManifests } from '../render/render.ts'
import type { Args, StepContext, StepResult } from './context.ts'

export async function applyInternalRoutes(ctx: StepContext, args: Args = {}): Promise<StepResult> {
  const { config, cluster, log } = ctx
  log.step(`03-internal-routes: ${config.internalRoutes.map((r) => r.name).join(', ') || '(none)'} on intweb/intwebsec`)
  const [routesCrd, oldRoutesCrd] = await allInOrder([crd(ctx, 'ingressroutes.traefik.io'), crd(ctx, 'ingressroutes.traefik.containo.us')] as const)
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

  const manifests = internalRouteManifests(config)
  // One read per namespace and one per Service, all at once: 50 routes cost what one does.
  const namespaces = [...new Set(config.internalRoutes.map((r) => r.namespace))]
  const present = new Set((await Promise.all(namespaces.map(async (ns) => ((await namespaceExists(ctx, ns)) ? ns : undefined)))).filter(Boolean))
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
    wanted.push(manifests[i])
  }
  await Promise.all(
    config.internalRoutes
      .filter((r) => present.has(r.namespace))
      .map((r) => warnIfServiceMissing(ctx, r.namespace, r.service, r.port, r.name)),
  )

  await refuseRoutesNotOurs(ctx, wanted, args.adopt === true)
  const result = await applyManifests(cluster, wanted, ctx.dryRun)
  if (ctx.dryRun && result.diff) log.info(`pending changes:\n${result.diff}`)
  const pruned = await pruneStaleRoutes(ctx, wanted)
  const changes = [...result.changes, ...pruned]
  for (const change of changes) log.info(`${change.ref}: ${change.action}`)
  const skippedText = skipped.length ? `, ${skipped.length} skipped (${skipped.join(', ')}: namespace missing)` : ''
  return { ok: true, summary: `03-internal-routes: ${summarize(changes, ctx.dryRun)}${skippedText}` }
}

/** An IngressRoute of the same name that this configuration did not create is never overwritten. */
async function refuseRoutesNotOurs(ctx: StepContext, wanted: Manifest[], adopt: boolean): Promise<void> {
  const claims = await Promise.all(
    wanted.map(async (route): Promise<Claim | undefined> => {
      const { name, namespace = '' } = route.metadata
      const live = (await retryTransient(() => rawGet(ctx.cluster, apiPath(INGRESSROUTES, 'ingressroutes', { namespace, name })))) as Manifest | undefined
      if (!live) return undefined
      return claimOf(
        `IngressRoute ${namespace}/${name}`,
        live.metadata.labels,
        ctx.config,
        `rename the entry in INTERNAL_ROUTES (its route is <name>-internal), or delete the route yourself (kubectl -n ${namespace} delete ingressroutes.traefik.io ${name})`,
      )
    }),
  )
  refuseUnowned(claims.filter((c): c is Claim => c !== undefined), ctx.config, adopt)
}

/** A CustomResourceDefinition, or undefined when it is not installed. */
function crd({ cluster }: StepContext, name: string): Promise<any | undefined> {
  return retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name })))
}

async function namespaceExists({ cluster }: StepContext, name: string): Promise<boolean> {
  return (await retryTransient(() => rawGet(cluster, apiPath('v1', 'namespaces', { name })))) !== undefined
}

async function warnIfServiceMissing(ctx: StepContext, namespace: string, name: string, port: number, route: string): Promise<void> {
  const service = await retryTransient(() => rawGet(ctx.cluster, apiPath('v1', 'services', { namespace, name })))
  if (!service) {
    ctx.log.warn(`route ${route}: Service ${namespace}/${name} does not exist yet; the route answers 404 until it does`)
    return
  }
  const ports: number[] = (service.spec?.ports ?? []).map((p: { port: number }) => p.port)
  if (!ports.includes(port)) {
    ctx.log.warn(`route ${route}: Service ${namespace}/${name} has no port ${port} (it has ${ports.join(', ') || 'none'}); fix INTERNAL_ROUTES`)
  }
}

/** Routes this configuration made for names no longer in INTERNAL_ROUTES are deleted; no others. */
async function pruneStaleRoutes(ctx: StepContext, wanted: Manifest[]): Promise<Change[]> {
  const list = ((await retryTransient(() => rawList(ctx.cluster, apiPath(INGRESSROUTES, 'ingressroutes', { query: { labelSelector: MANAGED_SELECTOR } })))) ?? { items: [] }) as {
    items: Manifest[]
  }
  const keep = new Set(wanted.map(refOf))
  const stale = list.items.filter((o) => isOurs(ownerOf(o.metadata.labels, ctx.config)) && !keep.has(refOf({ ...o, kind: 'IngressRoute' })))
  const changes: Change[] = []
  for (const route of stale) {
    const ref = refOf({ ...route, kind: 'IngressRoute' })
    if (!ctx.dryRun) await rawDelete(ctx.cluster, { apiVersion: INGRESSROUTES, kind: 'IngressRoute', name: route.metadata.name, namespace: route.metadata.namespace })
    changes.push({ ref, action: 'deleted' })
  }
  return changes
}
