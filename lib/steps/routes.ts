/** Step 03: IngressRoutes for the admin UIs, on the internal entrypoints only. */
import { applyManifests, refOf, summarize, type Change } from '../kube/apply.ts'
import { isNotFound, retryTransient } from '../kube/cluster.ts'
import { commandFailed, PreconditionError } from '../base/errors.ts'
import { type Claim, claimOf, INGRESSROUTES, isOurs, MANAGED_SELECTOR, ownerOf, refuseUnowned } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { internalRouteManifests } from '../render/render.ts'
import type { Args, StepContext, StepResult } from './context.ts'

export async function applyInternalRoutes(ctx: StepContext, args: Args = {}): Promise<StepResult> {
  const { config, cluster, log } = ctx
  log.step(`03-internal-routes: ${config.internalRoutes.map((r) => r.name).join(', ') || '(none)'} on intweb/intwebsec`)
  if (!(await traefikCrdsInstalled(ctx))) {
    if (ctx.dryRun) {
      log.warn('the IngressRoute CRD is not installed yet (02-traefik installs it); nothing to compare against')
      return { ok: true, summary: `03-internal-routes: ${config.internalRoutes.length} would be created once 02-traefik has run` }
    }
    throw new PreconditionError(`the IngressRoute CRD (ingressroutes.traefik.io) is missing in context ${cluster.context}`, [
      'the Traefik chart installs it: run 02-traefik first (npx zx scripts/02-traefik.ts or make 02-traefik)',
    ])
  }
  await warnAboutOldApiGroup(ctx)

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
      try {
        const live = (await retryTransient(() => ctx.cluster.custom.getNamespacedCustomObject({ ...INGRESSROUTES, namespace, name }))) as Manifest
        return claimOf(
          `IngressRoute ${namespace}/${name}`,
          live.metadata.labels,
          ctx.config,
          `rename the entry in INTERNAL_ROUTES (its route is <name>-internal), or delete the route yourself (kubectl -n ${namespace} delete ingressroutes.traefik.io ${name})`,
        )
      } catch (err) {
        if (isNotFound(err)) return undefined
        throw err
      }
    }),
  )
  refuseUnowned(claims.filter((c): c is Claim => c !== undefined), ctx.config, adopt)
}

async function traefikCrdsInstalled({ cluster }: StepContext): Promise<boolean> {
  try {
    await cluster.apiext.readCustomResourceDefinition({ name: 'ingressroutes.traefik.io' })
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}

/** Traefik v3 ignores the v2 group; routes there look applied but are never served. */
async function warnAboutOldApiGroup({ cluster, log }: StepContext): Promise<void> {
  try {
    await cluster.apiext.readCustomResourceDefinition({ name: 'ingressroutes.traefik.containo.us' })
    log.warn(
      'the Traefik v2 CRDs (traefik.containo.us) are still installed; Traefik v3 ignores IngressRoutes in that group. Move any left there to traefik.io/v1alpha1.',
    )
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
}

async function namespaceExists({ cluster }: StepContext, name: string): Promise<boolean> {
  try {
    await cluster.core.readNamespace({ name })
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}

async function warnIfServiceMissing(ctx: StepContext, namespace: string, name: string, port: number, route: string): Promise<void> {
  try {
    const service = await ctx.cluster.core.readNamespacedService({ namespace, name })
    const ports = (service.spec?.ports ?? []).map((p) => p.port)
    if (!ports.includes(port)) {
      ctx.log.warn(`route ${route}: Service ${namespace}/${name} has no port ${port} (it has ${ports.join(', ') || 'none'}); fix INTERNAL_ROUTES`)
    }
  } catch (err) {
    if (!isNotFound(err)) throw err
    ctx.log.warn(`route ${route}: Service ${namespace}/${name} does not exist yet; the route answers 404 until it does`)
  }
}

/** Routes this configuration made for names no longer in INTERNAL_ROUTES are deleted; no others. */
async function pruneStaleRoutes(ctx: StepContext, wanted: Manifest[]): Promise<Change[]> {
  const list = (await retryTransient(() => ctx.cluster.custom.listClusterCustomObject({ ...INGRESSROUTES, labelSelector: MANAGED_SELECTOR }))) as {
    items: Manifest[]
  }
  const keep = new Set(wanted.map(refOf))
  const stale = list.items.filter((o) => isOurs(ownerOf(o.metadata.labels, ctx.config)) && !keep.has(refOf({ ...o, kind: 'IngressRoute' })))
  const changes: Change[] = []
  for (const route of stale) {
    const ref = refOf({ ...route, kind: 'IngressRoute' })
    if (!ctx.dryRun) {
      const out = await ctx.cluster.kubectl([
        'delete',
        'ingressroutes.traefik.io',
        route.metadata.name,
        '--namespace',
        route.metadata.namespace ?? '',
        '--ignore-not-found',
      ])
      if (out.exitCode !== 0) throw commandFailed(`deleting ${ref}`, out)
    }
    changes.push({ ref, action: 'deleted' })
  }
  return changes
}
