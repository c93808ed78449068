/**
 * Step 99: removes what this configuration created, in reverse order: its admission guard (policy
 * and binding) and IngressRoutes, its Traefik release, its MetalLB objects. Objects of other configurations, and objects the kit did not
 * create, are left alone and named. The acme.json volume stays unless purged. Every read goes
 * through the API and fails loudly: "could not read" is never taken for "nothing there".
 */
import { refOf, summarize, type Change } from '../kube/apply.ts'
import { retryTransient } from '../kube/cluster.ts'
import { commandFailed, EXIT, UserError } from '../base/errors.ts'
import { waitUntil } from '../kube/wait.ts'
import { pruneCertManagerObjects } from '../kube/cert-manager.ts'
import { pruneGatewayObjects } from '../kube/gateway-api.ts'
import { apiPath, type ObjectRef, rawDelete, rawGet, rawList, rawRead } from '../kube/raw.ts'
import { readRelease } from '../helm/release.ts'
import { INGRESSROUTES, isOurs, MANAGED_SELECTOR, ownerOf, volumeOwner } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { metallbManifests, RELEASE_NAME } from '../render/render.ts'
import { ADMISSION_API, admissionGuardName, BINDING_KIND, POLICY_KIND } from '../render/admission.ts'
import type { StepContext, StepResult } from './context.ts'

export async function removeIngress(ctx: StepContext & { purge: boolean }): Promise<StepResult> {
  const { config, cluster, log, dryRun } = ctx
  log.step(`99-teardown: admission guard, routes, cert-manager objects, release ${RELEASE_NAME}, MetalLB pools${ctx.purge ? ', and the acme.json volume' : ''}`)
  const changes: Change[] = []
  const leftAlone: string[] = []

  // 03: the admission guard, binding first (whatever ADMISSION_GUARD says now). A cluster that does
  // not serve the kind (Kubernetes < 1.30) answers 404: nothing there.
  for (const kind of [BINDING_KIND, POLICY_KIND]) {
    const ref = { apiVersion: ADMISSION_API, kind, name: admissionGuardName(config) }
    const live = (await retryTransient(() => rawRead(cluster, ref))) as Manifest | undefined
    if (!live) continue
    if (!isOurs(ownerOf(live.metadata.labels, config))) {
      leftAlone.push(`${kind} ${ref.name} (not created by this configuration)`)
      continue
    }
    await deleteObject(ctx, ref)
    changes.push({ ref: `${kind} ${ref.name}`, action: 'deleted' })
  }

  // 03: this configuration's IngressRoutes, wherever they are.
  // A list the API does not serve (Traefik's CRDs not installed) is empty; any other failure is an error.
  const routes: Manifest[] = (await retryTransient(() => rawList(cluster, apiPath(INGRESSROUTES, 'ingressroutes', { query: { labelSelector: MANAGED_SELECTOR } }))))?.items ?? []
  for (const route of routes) {
    const ref = refOf({ ...route, kind: 'IngressRoute' })
    if (!isOurs(ownerOf(route.metadata.labels, config))) continue // another configuration's
    await deleteObject(ctx, { apiVersion: INGRESSROUTES, kind: 'IngressRoute', name: route.metadata.name, namespace: route.metadata.namespace })
    changes.push({ ref, action: 'deleted' })
  }

  // 03 and 02 (gateway mode): this configuration's HTTPRoutes, Gateways and GatewayClass, in that order.
  changes.push(...(await pruneGatewayObjects(cluster, config, ['HTTPRoute', 'Gateway', 'GatewayClass'], { keep: [], dryRun })))

  // 02 (cert-manager mode): this configuration's ClusterIssuer, Certificates and their Secrets.
  changes.push(...(await pruneCertManagerObjects(cluster, config, { keep: [], keepSecrets: [], dryRun })))

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
    const pvcRef = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: RELEASE_NAME, namespace: config.traefikNamespace }
    const pvc = await retryTransient(() => rawRead(cluster, pvcRef))
    // With our release, the volume is the release's; without one, only the volume itself can say.
    const ours = release !== undefined || (pvc && isOurs(volumeOwner(pvc.metadata?.annotations, config)))
    if (pvc && !ours) {
      leftAlone.push(`PersistentVolumeClaim ${config.traefikNamespace}/${RELEASE_NAME} (not created by this configuration)`)
    } else if (pvc && ctx.purge) {
      await deleteObject(ctx, pvcRef)
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
      const live = (await retryTransient(() =>
        rawGet(cluster, apiPath('metallb.io/v1beta1', plural, { namespace: config.metallbNamespace, name: object.metadata.name })),
      )) as Manifest | undefined
      if (!live) continue
      if (!isOurs(ownerOf(live.metadata.labels, config))) {
        leftAlone.push(`${refOf(object)} (not created by this configuration)`)
        continue
      }
      await deleteObject(ctx, { apiVersion: 'metallb.io/v1beta1', kind, name: object.metadata.name, namespace: config.metallbNamespace })
      changes.push({ ref: refOf(object), action: 'deleted' })
    }
  }
  for (const change of changes) log.info(`${change.ref}: ${dryRun ? 'would be deleted' : 'deleted'}`)
  for (const what of leftAlone) log.warn(`left alone: ${what}`)
  const leftText = leftAlone.length ? `; left alone ${leftAlone.length} object(s) this configuration did not create` : ''
  return { ok: true, summary: `99-teardown: ${summarize(changes, dryRun)}${volumeNote}${leftText}` }
}

/** Deletes an object and waits (bounded by --timeout) until it is gone, finalizers included. */
async function deleteObject(ctx: StepContext, ref: ObjectRef): Promise<void> {
  if (ctx.dryRun) return
  const deleted = await rawDelete(ctx.cluster, ref)
  if (deleted === undefined) return // already gone
  // The answer is the object (with its finalizers) or a Status naming its uid.
  const uid: string | undefined = deleted.metadata?.uid ?? deleted.details?.uid
  const gone = await waitUntil({
    what: `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name} to be deleted`,
    timeoutSeconds: ctx.timeoutSeconds,
    pollSeconds: 0.5,
    log: ctx.log,
    check: async () => {
      const live = await retryTransient(() => rawRead(ctx.cluster, ref))
      // A new object of the same name (another uid) is not the one being deleted.
      return live === undefined || (uid !== undefined && live.metadata?.uid !== uid)
        ? { done: true, status: 'gone' }
        : { done: false, status: `still there${live.metadata?.finalizers?.length ? ` (finalizers: ${live.metadata.finalizers.join(', ')})` : ''}` }
    },
  })
  if (!gone) throw new UserError(`${ref.kind} ${ref.namespace ?? ''}/${ref.name} was not deleted within ${ctx.timeoutSeconds}s (a finalizer waiting for its controller?); rerun 99-teardown once it is gone`, EXIT.failed)
}
