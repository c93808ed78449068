/**
 * Step 99: removes what this configuration created, in reverse order: its IngressRoutes, its
 * Traefik release, its MetalLB objects. Objects of other configurations, and objects the kit did not
 * create, are left alone and named. The acme.json volume stays unless purged. Every read goes
 * through the API and fails loudly: "could not read" is never taken for "nothing there".
 */
import { refOf, summarize, type Change } from '../kube/apply.ts'
import { isNotFound, retryTransient } from '../kube/cluster.ts'
import { commandFailed } from '../base/errors.ts'
import { readRelease } from '../helm/release.ts'
import { INGRESSROUTES, isOurs, MANAGED_SELECTOR, ownerOf } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { metallbManifests, RELEASE_NAME } from '../render/render.ts'
import type { StepContext, StepResult } from './context.ts'

export async function removeIngress(ctx: StepContext & { purge: boolean }): Promise<StepResult> {
  const { config, cluster, log, dryRun } = ctx
  log.step(`99-teardown: routes, release ${RELEASE_NAME}, MetalLB pools${ctx.purge ? ', and the acme.json volume' : ''}`)
  const changes: Change[] = []
  const leftAlone: string[] = []

  // 03: this configuration's IngressRoutes, wherever they are.
  const routes = await listOrEmpty(() => cluster.custom.listClusterCustomObject({ ...INGRESSROUTES, labelSelector: MANAGED_SELECTOR }))
  for (const route of routes) {
    const ref = refOf({ ...route, kind: 'IngressRoute' })
    if (!isOurs(ownerOf(route.metadata.labels, config))) continue // another configuration's
    await deleteObject(ctx, 'ingressroutes.traefik.io', route.metadata.name, route.metadata.namespace)
    changes.push({ ref, action: 'deleted' })
  }

  // 02: the release, if this configuration installed it. The chart marks the acme.json PVC
  // helm.sh/resource-policy: keep, so it survives.
  const release = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  if (release && ownerOf(release.labels, config) === 'ours') {
    if (!dryRun) {
      const out = await cluster.helm(['uninstall', RELEASE_NAME, '--namespace', config.traefikNamespace])
      if (out.exitCode !== 0) throw commandFailed(`helm uninstall ${RELEASE_NAME}`, out)
    }
    changes.push({ ref: `release ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
  } else if (release) {
    leftAlone.push(`release ${config.traefikNamespace}/${RELEASE_NAME} (not installed by this configuration)`)
  }
  let volumeNote = ''
  if (release === undefined || ownerOf(release.labels, config) === 'ours') {
    const pvc = await readOrUndefined(() => cluster.core.readNamespacedPersistentVolumeClaim({ name: RELEASE_NAME, namespace: config.traefikNamespace }))
    if (pvc && ctx.purge) {
      await deleteObject(ctx, 'pvc', RELEASE_NAME, config.traefikNamespace)
      changes.push({ ref: `PersistentVolumeClaim ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
    } else if (pvc) {
      volumeNote = `; kept the acme.json volume ${config.traefikNamespace}/${RELEASE_NAME} (--purge deletes it)`
    }
  }

  // 01: the advertisement before the pools it names (paired by kind and name, not by order).
  const wanted = metallbManifests(config)
  for (const kind of ['L2Advertisement', 'IPAddressPool']) {
    for (const object of wanted.filter((o) => o.kind === kind)) {
      const plural = kind === 'L2Advertisement' ? 'l2advertisements' : 'ipaddresspools'
      const live = (await readOrUndefined(() =>
        cluster.custom.getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: config.metallbNamespace, plural, name: object.metadata.name }),
      )) as Manifest | undefined
      if (!live) continue
      if (!isOurs(ownerOf(live.metadata.labels, config))) {
        leftAlone.push(`${refOf(object)} (not created by this configuration)`)
        continue
      }
      await deleteObject(ctx, `${plural}.metallb.io`, object.metadata.name, config.metallbNamespace)
      changes.push({ ref: refOf(object), action: 'deleted' })
    }
  }
  for (const change of changes) log.info(`${change.ref}: ${dryRun ? 'would be deleted' : 'deleted'}`)
  for (const what of leftAlone) log.warn(`left alone: ${what}`)
  const leftText = leftAlone.length ? `; left alone ${leftAlone.length} object(s) this configuration did not create` : ''
  return { ok: true, summary: `99-teardown: ${summarize(changes, dryRun)}${volumeNote}${leftText}` }
}

/** A list that may not exist yet (CRD not installed) is empty; any other failure is an error. */
async function listOrEmpty(list: () => Promise<unknown>): Promise<Manifest[]> {
  try {
    return ((await retryTransient(list)) as { items: Manifest[] }).items
  } catch (err) {
    if (isNotFound(err)) return []
    throw err
  }
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await retryTransient(read)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

async function deleteObject(ctx: StepContext, kind: string, name: string, namespace: string | undefined): Promise<void> {
  if (ctx.dryRun) return
  const out = await ctx.cluster.kubectl(['delete', kind, name, '--namespace', namespace ?? '', '--ignore-not-found', '--wait=true', `--timeout=${ctx.timeoutSeconds}s`])
  if (out.exitCode !== 0) throw commandFailed(`deleting ${kind} ${namespace}/${name}`, out)
}
