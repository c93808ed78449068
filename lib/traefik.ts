/** Step 02: Traefik from its Helm chart, changed only when chart or values differ. */
import { isNotFound, retryTransient } from './cluster.ts'
import { poolEntryContains } from './metallb.ts'
import { PreconditionError } from './errors.ts'
import {
  checkChartSource,
  decideHelmAction,
  desiredChartName,
  helmMajorVersion,
  readRelease,
  recoverStuckRelease,
  upgradeRelease,
  valuesDiff,
} from './helm.ts'
import { metallbManifests, RELEASE_NAME, traefikValues } from './render.ts'
import type { StepContext, StepResult } from './step.ts'

export async function installTraefik(ctx: StepContext): Promise<StepResult> {
  const { config, cluster, log } = ctx
  log.step(`02-traefik: release ${RELEASE_NAME} in namespace ${config.traefikNamespace}`)
  const helmMajor = await helmMajorVersion()
  await checkChartSource(config.traefikChart)
  await requirePools(ctx)
  await requireStorageClass(ctx)
  await requireDnsSecret(ctx)
  await warnAboutBundledTraefik(ctx)
  if (config.acmeChallenge.type === 'http') {
    log.info(
      "intwebsec serves Traefik's default certificate: HTTP-01 cannot validate LAN-only admin hosts (ACME_CHALLENGE=dns:<provider> gets real ones)",
    )
  }

  const desired = { chart: await desiredChartName(config.traefikChart, config.traefikChartVersion), values: traefikValues(config) }
  let current = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  let decision = decideHelmAction(current, desired)
  let repaired = ''
  if (decision.action === 'recover' && current) {
    log.warn(`release ${RELEASE_NAME}: ${decision.reasons.join('; ')}`)
    if (ctx.dryRun) {
      return { ok: true, summary: `02-traefik: would repair release ${RELEASE_NAME} (revision ${current.revision} ${current.status}), then bring it to ${desired.chart} with the rendered values` }
    }
    repaired = await recoverStuckRelease(cluster, config.traefikNamespace, RELEASE_NAME, current)
    log.info(repaired)
    current = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
    decision = decideHelmAction(current, desired)
  }

  if (decision.action === 'unchanged' && current) {
    const state = repaired ? 'repaired' : 'unchanged'
    return { ok: true, summary: `02-traefik: release ${RELEASE_NAME} ${state} (revision ${current.revision}, ${current.chart})` }
  }
  for (const reason of decision.reasons) log.info(reason)
  if (ctx.dryRun) {
    const diff = await valuesDiff(current?.values ?? {}, desired.values)
    if (diff) log.info(`values diff (deployed -> desired):\n${diff}`)
    const verb = decision.action === 'install' ? 'installed' : 'upgraded'
    return { ok: true, summary: `02-traefik: release ${RELEASE_NAME} would be ${verb} (${desired.chart})` }
  }
  log.info(`helm ${helmMajor}: upgrade --install ${RELEASE_NAME} (${desired.chart})`)
  await upgradeRelease(cluster, config, RELEASE_NAME, desired.values)
  const after = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  const verb = `${repaired ? 'repaired and ' : ''}${current === undefined ? 'installed' : 'upgraded'}`
  return {
    ok: true,
    summary: `02-traefik: release ${RELEASE_NAME} ${verb} (revision ${after?.revision ?? '?'}, ${after?.chart ?? desired.chart}, ${after?.status ?? 'unknown status'})`,
  }
}

/** Our pools must exist and hold the configured addresses (EXTERNAL_IP changed without rerunning 01?). */
async function requirePools({ config, cluster, dryRun, log }: StepContext): Promise<void> {
  const problems: string[] = []
  const pools = metallbManifests(config).filter((o) => o.kind === 'IPAddressPool')
  const settings = ['INTERNAL_IP', 'EXTERNAL_IP']
  for (const [i, pool] of pools.entries()) {
    const ip = i === 0 ? config.internalIp : config.externalIp
    let live: { spec?: { addresses?: string[] } }
    try {
      live = (await retryTransient(() => cluster.custom.getNamespacedCustomObject({
        group: 'metallb.io',
        version: 'v1beta1',
        namespace: config.metallbNamespace,
        plural: 'ipaddresspools',
        name: pool.metadata.name,
      }))) as typeof live
    } catch (err) {
      if (!isNotFound(err)) throw err
      problems.push(`IPAddressPool ${config.metallbNamespace}/${pool.metadata.name} is missing`)
      continue
    }
    const addresses = live.spec?.addresses ?? []
    if (!addresses.some((entry) => poolEntryContains(entry, ip))) {
      problems.push(
        `${settings[i]}=${ip} is in no MetalLB pool: ${pool.metadata.name} holds ${addresses.join(', ') || 'nothing'}, so MetalLB would refuse the address`,
      )
    }
  }
  if (problems.length > 0 && dryRun) {
    log.warn(`the MetalLB pools do not match the configuration yet (${problems.join('; ')}); 01-metallb fixes that`)
  } else if (problems.length > 0) {
    throw new PreconditionError('the MetalLB pools for the Traefik Services are not ready:', [
      ...problems,
      'run 01-metallb first: npx zx scripts/01-metallb.ts (or make 01-metallb), then rerun 02-traefik',
    ])
  }
}

async function requireStorageClass({ config, cluster }: StepContext): Promise<void> {
  try {
    await cluster.storage.readStorageClass({ name: config.storageClass })
  } catch (err) {
    if (!isNotFound(err)) throw err
    const all = await cluster.storage.listStorageClass()
    const names = all.items.map((s) => s.metadata?.name).filter(Boolean)
    throw new PreconditionError(`STORAGE_CLASS=${config.storageClass}: no such StorageClass in context ${cluster.context}`, [
      names.length ? `StorageClasses there: ${names.join(', ')}; set STORAGE_CLASS to one of them` : 'the cluster has no StorageClass',
      'or install the storage it names (Longhorn for the default), then rerun 02-traefik',
    ])
  }
}

async function requireDnsSecret({ config, cluster }: StepContext): Promise<void> {
  if (config.acmeChallenge.type !== 'dns') return
  // Only existence is checked; the secret's contents are never read into the output.
  const out = await cluster.kubectl(['get', 'secret', config.acmeDnsSecret, '--namespace', config.traefikNamespace, '-o', 'name'])
  if (out.exitCode !== 0) {
    throw new PreconditionError(
      `ACME_DNS_SECRET=${config.acmeDnsSecret}: no such Secret in namespace ${config.traefikNamespace}`,
      [
        `create it with the variables your DNS provider (${config.acmeChallenge.provider}) needs, e.g. kubectl create namespace ${config.traefikNamespace}; kubectl -n ${config.traefikNamespace} create secret generic ${config.acmeDnsSecret} --from-literal=CF_DNS_API_TOKEN=...`,
      ],
    )
  }
}

/** k3s ships its own Traefik; two controllers answer the same IngressRoutes. */
async function warnAboutBundledTraefik({ cluster, log }: StepContext): Promise<void> {
  const out = await cluster.kubectl(['get', 'deployment', 'traefik', '--namespace', 'kube-system', '-o', 'name', '--ignore-not-found'])
  if (out.exitCode === 0 && out.stdout.trim() !== '') {
    log.warn("k3s' bundled Traefik runs in kube-system and will serve the same routes; start k3s with --disable traefik")
  }
}
