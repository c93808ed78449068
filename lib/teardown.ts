/** Step 99: removes what the steps created, in reverse order. The acme.json volume stays unless purged. */
import { refOf, summarize, type Change } from './apply.ts'
import { commandFailed, type Cluster } from './cluster.ts'
import { readRelease } from './helm.ts'
import { MANAGED_BY, metallbManifests, RELEASE_NAME, type Manifest } from './render.ts'
import type { StepContext, StepResult } from './step.ts'

export async function removeIngress(ctx: StepContext & { purge: boolean }): Promise<StepResult> {
  const { config, cluster, log, dryRun } = ctx
  log.step(`99-teardown: routes, release ${RELEASE_NAME}, MetalLB pools${ctx.purge ? ', and the acme.json volume' : ''}`)
  const selector = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',')

  // Read everything first: what cannot be read fails the step before anything is deleted, rather
  // than counting as "nothing there" (an API server that does not answer is not an empty cluster).
  const routes = await listObjects(cluster, 'ingressroutes.traefik.io', ['--all-namespaces', '--selector', selector])
  const release = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  const volume = await listObjects(cluster, 'pvc', ['--namespace', config.traefikNamespace, '--field-selector', `metadata.name=${RELEASE_NAME}`])
  const metallbKinds = (object: Manifest) => (object.kind === 'L2Advertisement' ? 'l2advertisements.metallb.io' : 'ipaddresspools.metallb.io')
  const pools: { object: Manifest; kind: string }[] = []
  for (const object of metallbManifests(config).reverse()) { // advertisement first
    const kind = metallbKinds(object)
    const found = await listObjects(cluster, kind, ['--namespace', config.metallbNamespace, '--field-selector', `metadata.name=${object.metadata.name}`])
    if (found.length > 0) pools.push({ object, kind })
  }

  const changes: Change[] = []
  // 03: our IngressRoutes, wherever they are.
  for (const route of routes) {
    await deleteObject(ctx, 'ingressroutes.traefik.io', route.metadata.name, route.metadata.namespace)
    changes.push({ ref: refOf({ ...route, kind: 'IngressRoute' }), action: 'deleted' })
  }
  // 02: the release. The chart marks the acme.json PVC helm.sh/resource-policy: keep, so it survives.
  if (release) {
    if (!dryRun) {
      const out = await cluster.helm(['uninstall', RELEASE_NAME, '--namespace', config.traefikNamespace])
      if (out.exitCode !== 0) throw commandFailed(`helm uninstall ${RELEASE_NAME}`, out)
    }
    changes.push({ ref: `release ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
  }
  let volumeNote = ''
  if (volume.length > 0 && ctx.purge) {
    await deleteObject(ctx, 'pvc', RELEASE_NAME, config.traefikNamespace)
    changes.push({ ref: `PersistentVolumeClaim ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
  } else if (volume.length > 0) {
    volumeNote = `; kept the acme.json volume ${config.traefikNamespace}/${RELEASE_NAME} (--purge deletes it)`
  }
  // 01: pools and advertisement.
  for (const { object, kind } of pools) {
    await deleteObject(ctx, kind, object.metadata.name, config.metallbNamespace)
    changes.push({ ref: refOf(object), action: 'deleted' })
  }
  for (const change of changes) log.info(`${change.ref}: ${dryRun ? 'would be deleted' : 'deleted'}`)
  return { ok: true, summary: `99-teardown: ${summarize(changes, dryRun)}${volumeNote}` }
}

/** kubectl's answer when a kind's CRD is not installed (no Traefik, no MetalLB): nothing of that kind exists. */
const NO_SUCH_KIND = /the server doesn't have a resource type/

/** The objects of a kind; throws when kubectl cannot read them, except for a kind the cluster does not have. */
async function listObjects(cluster: Cluster, kind: string, args: string[]): Promise<Manifest[]> {
  const out = await cluster.kubectl(['get', kind, ...args, '--output', 'json'])
  if (out.exitCode !== 0) {
    if (NO_SUCH_KIND.test(out.stderr)) return []
    throw commandFailed(`kubectl get ${kind}`, out)
  }
  return (JSON.parse(out.stdout) as { items: Manifest[] }).items
}

async function deleteObject(ctx: StepContext, kind: string, name: string, namespace: string | undefined): Promise<void> {
  if (ctx.dryRun) return
  const out = await ctx.cluster.kubectl(['delete', kind, name, '--namespace', namespace ?? '', '--ignore-not-found', '--wait=true', `--timeout=${ctx.timeoutSeconds}s`])
  if (out.exitCode !== 0) throw commandFailed(`deleting ${kind} ${namespace}/${name}`, out)
}
