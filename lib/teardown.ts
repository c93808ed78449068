/** Step 99: removes what the steps created, in reverse order. The acme.json volume stays unless purged. */
import { refOf, summarize, type Change } from './apply.ts'
import { commandFailed } from './cluster.ts'
import { readRelease } from './helm.ts'
import { MANAGED_BY, metallbManifests, RELEASE_NAME, type Manifest } from './render.ts'
import type { StepContext, StepResult } from './step.ts'

export async function removeIngress(ctx: StepContext & { purge: boolean }): Promise<StepResult> {
  const { config, cluster, log, dryRun } = ctx
  log.step(`99-teardown: routes, release ${RELEASE_NAME}, MetalLB pools${ctx.purge ? ', and the acme.json volume' : ''}`)
  const changes: Change[] = []
  const selector = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',')

  // 03: our IngressRoutes, wherever they are.
  const routes = await cluster.kubectl(['get', 'ingressroutes.traefik.io', '--all-namespaces', '--selector', selector, '-o', 'json', '--ignore-not-found'])
  const routeItems: Manifest[] = routes.exitCode === 0 && routes.stdout.trim() ? JSON.parse(routes.stdout).items : []
  for (const route of routeItems) {
    await deleteObject(ctx, 'ingressroutes.traefik.io', route.metadata.name, route.metadata.namespace)
    changes.push({ ref: refOf({ ...route, kind: 'IngressRoute' }), action: 'deleted' })
  }

  // 02: the release. The chart marks the acme.json PVC helm.sh/resource-policy: keep, so it survives.
  const release = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  if (release) {
    if (!dryRun) {
      const out = await cluster.helm(['uninstall', RELEASE_NAME, '--namespace', config.traefikNamespace])
      if (out.exitCode !== 0) throw commandFailed(`helm uninstall ${RELEASE_NAME}`, out)
    }
    changes.push({ ref: `release ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
  }
  const pvc = await cluster.kubectl(['get', 'pvc', RELEASE_NAME, '--namespace', config.traefikNamespace, '-o', 'name', '--ignore-not-found'])
  const volumeExists = pvc.exitCode === 0 && pvc.stdout.trim() !== ''
  let volumeNote = ''
  if (volumeExists && ctx.purge) {
    await deleteObject(ctx, 'pvc', RELEASE_NAME, config.traefikNamespace)
    changes.push({ ref: `PersistentVolumeClaim ${config.traefikNamespace}/${RELEASE_NAME}`, action: 'deleted' })
  } else if (volumeExists) {
    volumeNote = `; kept the acme.json volume ${config.traefikNamespace}/${RELEASE_NAME} (--purge deletes it)`
  }

  // 01: pools and advertisement, advertisement first.
  for (const object of metallbManifests(config).reverse()) {
    const kind = object.kind === 'L2Advertisement' ? 'l2advertisements.metallb.io' : 'ipaddresspools.metallb.io'
    const found = await cluster.kubectl(['get', kind, object.metadata.name, '--namespace', config.metallbNamespace, '-o', 'name', '--ignore-not-found'])
    if (found.exitCode === 0 && found.stdout.trim() !== '') {
      await deleteObject(ctx, kind, object.metadata.name, config.metallbNamespace)
      changes.push({ ref: refOf(object), action: 'deleted' })
    }
  }
  for (const change of changes) log.info(`${change.ref}: ${dryRun ? 'would be deleted' : 'deleted'}`)
  return { ok: true, summary: `99-teardown: ${summarize(changes, dryRun)}${volumeNote}` }
}

async function deleteObject(ctx: StepContext, kind: string, name: string, namespace: string | undefined): Promise<void> {
  if (ctx.dryRun) return
  const out = await ctx.cluster.kubectl(['delete', kind, name, '--namespace', namespace ?? '', '--ignore-not-found', '--wait=true', `--timeout=${ctx.timeoutSeconds}s`])
  if (out.exitCode !== 0) throw commandFailed(`deleting ${kind} ${namespace}/${name}`, out)
}
