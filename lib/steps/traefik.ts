/** Step 02: Traefik from its Helm chart, changed only when chart or values differ. */
import type { Manifest } from '../base/objects.ts'
import { type ChartTarget, chartVersionOf, parseChartVersion, resolveChart } from '../traefik/chart.ts'
import { retryTransient } from '../kube/cluster.ts'
import { applyCrds, CRD_CHART_ANNOTATION, crdsBehind, PROBE_CRD, stampedCrds } from '../kube/crds.ts'
import { EXIT, PreconditionError, UserError } from '../base/errors.ts'
import { allInOrder } from '../base/parallel.ts'
import { decideHelmAction, HELM_OPERATION_NOTE, type HelmOperation, judgePendingRelease, parseHelmOperation, recoveryFor } from '../helm/decide.ts'
import { readLeaseNotes, runGone } from '../kube/lease.ts'
import { chartCrds, checkChartSource, helmMajorVersion, recoverStuckRelease, requireHelmOnPath, templateRelease, upgradeRelease, valuesDiff } from '../helm/helm.ts'
import { type DeployedRelease, readRelease } from '../helm/release.ts'
import { poolEntryContains } from '../base/net.ts'
import { apiPath, objectPath, rawGet, rawList, rawRead, rawRequest } from '../kube/raw.ts'
import { type Drift, releaseDrift } from '../kube/drift.ts'
import { claimOf, ownerOf, ownershipLabels, refuseUnowned } from '../kube/ownership.ts'
import { findGatewayApi, GATEWAY_API_RELEASE_FOR_TRAEFIK, pruneGatewayObjects } from '../kube/gateway-api.ts'
import { certManagerManifests, certificatePlan, gatewayManifests, EXTERNAL_SERVICE, INTERNAL_SERVICE, poolNames, RELEASE_NAME, traefikValues } from '../render/render.ts'
import { CERT_MANAGER_DNS_PROVIDERS } from '../config/config.ts'
import { CERTIFICATE_CRD, type CertManagerFound, findCertManager, pruneCertManagerObjects } from '../kube/cert-manager.ts'
import { applyManifests, type Change, planApply, refOf, summarize } from '../kube/apply.ts'
import { isOurs, volumeOwner } from '../kube/ownership.ts'
import type { Args, StepContext, StepResult } from './context.ts'

export async function installTraefik(ctx: StepContext, args: Args = {}): Promise<StepResult> {
  // cert-manager first: in cert-manager mode, nothing is changed when it is not installed.
  const certManager = await requireCertManager(ctx)
  // gateway mode: nothing is changed when the Gateway API CRDs are not installed.
  await requireGatewayApi(ctx)
  const release = await installRelease(ctx, args)
  const certificates = await syncCertManagerObjects(ctx, certManager, args.adopt === true)
  const gateways = await syncGatewayObjects(ctx, args.adopt === true)
  const volume = ctx.config.certificates === 'cert-manager' ? await keptAcmeVolume(ctx) : ''
  return { ok: release.ok, summary: `${release.summary}${certificates}${gateways}${volume}` }
}

async function installRelease(ctx: StepContext, args: Args): Promise<StepResult> {
  const { config, cluster, log } = ctx
  const { chart } = await traefikPreflight(ctx)
  log.step(`02-traefik: release ${RELEASE_NAME} (chart ${chart.ref}, values shape ${chart.shape}) in namespace ${config.traefikNamespace}`)
  // Every read the decision needs, at once; a failure is reported in this order (the pools first).
  const reads = allInOrder([
    requirePools(ctx),
    config.certificates === 'acme' ? requireStorageClass(ctx) : Promise.resolve(),
    requireDnsSecret(ctx),
    bundledTraefik(ctx),
    readRelease(cluster, config.traefikNamespace, RELEASE_NAME),
    crdStamp(ctx),
  ] as const)
  reads.catch(() => {}) // awaited below
  // Rendered while the reads are under way.
  const desired = { chart: chart.ref, values: traefikValues(config, chart.shape, chart.version) }
  const [, , , bundled, deployed, stamp] = await reads
  if (bundled) log.warn("k3s' bundled Traefik runs in kube-system and will serve the same routes; start k3s with --disable traefik")
  if (config.acmeChallenge.type === 'http' && config.certificates === 'acme') {
    log.info(
      "intwebsec serves Traefik's default certificate: HTTP-01 cannot validate LAN-only admin hosts (ACME_CHALLENGE=dns:<provider> gets real ones)",
    )
  }

  let current = deployed
  refuseReleaseNotOurs(ctx, current, args.adopt === true)
  refuseMajorDowngrade(current, chart.version, args['allow-downgrade'] === true)
  let decision = decideHelmAction(current, desired)
  let repaired = ''
  if (decision.action === 'recover' && current) {
    log.warn(`release ${RELEASE_NAME}: ${decision.reasons.join('; ')}`)
    await refuseLivePending(ctx, current, args.force === true)
    await helmMajorVersion() // helm 3 or 4, before the first helm command
    if (ctx.dryRun) {
      return { ok: true, summary: `02-traefik: would repair release ${RELEASE_NAME} (revision ${current.revision} ${current.status}), then bring it to ${desired.chart} with the rendered values` }
    }
    const stuck = current
    repaired = await withHelmNote(ctx, recoveryFor(stuck).writes, (onStart) =>
      recoverStuckRelease(cluster, config.traefikNamespace, RELEASE_NAME, stuck, onStart),
    )
    log.info(repaired)
    current = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
    decision = decideHelmAction(current, desired)
  }

  // Drift: objects of the release deleted or edited by hand. helm's upgrade (a three-way merge)
  // recreates and restores them, so drift turns "unchanged" into an upgrade with the same values.
  let drift: Drift[] = []
  if (decision.action === 'unchanged' && current?.manifest) {
    drift = await releaseDrift(cluster, current.manifest, config.traefikNamespace)
    if (drift.length > 0) decision = { action: 'upgrade', reasons: drift.map((d) => `drift: ${d.ref} ${d.what}`) }
  }
  const driftText = drift.length ? ` to repair drift (${drift.map((d) => `${d.ref.split(' ')[0]} ${d.ref.split('/').pop()} ${d.what.split(' at ')[0]}`).join(', ')})` : ''

  // CRDs: a no-op run reads one CRD's stamp; the chart's CRDs are read and compared only when the
  // stamp or the release says something changes.
  const crdsStamped = decision.action === 'unchanged' && stamp === chart.ref
  if (decision.action === 'unchanged' && current && crdsStamped) {
    const state = repaired ? 'repaired' : 'unchanged'
    return { ok: true, summary: `02-traefik: release ${RELEASE_NAME} ${state} (revision ${current.revision}, ${current.chart})` }
  }
  const crds = stampedCrds(await chartCrds(config), chart.ref)
  const behind = await crdsBehind(cluster, crds)
  for (const reason of decision.reasons) log.info(reason)
  for (const crd of behind) log.info(`CRD ${crd.name}: ${crd.reason}`)
  if (decision.action !== 'unchanged') {
    await helmMajorVersion() // helm 3 or 4, before the first helm command
    // The chart itself judges the values (its schema, the version, the chart's presence) before
    // anything is changed, in --dry-run too.
    await templateRelease(cluster, config, RELEASE_NAME, chart.ref, desired.values)
  }

  const crdText = behind.length ? `${behind.length} traefik.io CRD${behind.length > 1 ? 's' : ''}` : ''
  if (ctx.dryRun) {
    if (decision.action !== 'unchanged') {
      const diff = await valuesDiff(current?.values ?? {}, desired.values)
      if (diff) log.info(`values diff (deployed -> desired):\n${diff}`)
    }
    const parts = [
      crdText && `${crdText} would be brought up to ${chart.ref}`,
      decision.action !== 'unchanged' && `release ${RELEASE_NAME} would be ${decision.action === 'install' ? 'installed' : 'upgraded'}${driftText} (${desired.chart})`,
    ].filter(Boolean)
    return { ok: true, summary: `02-traefik: ${parts.join('; ') || `release ${RELEASE_NAME} unchanged`}` }
  }

  if (behind.length > 0) {
    await applyCrds(cluster, crds.filter((crd) => behind.some((b) => b.name === crd.metadata.name)))
    log.info(`${crdText} brought up to ${chart.ref}`)
  }
  if (decision.action === 'unchanged' && current) {
    return { ok: true, summary: `02-traefik: release ${RELEASE_NAME} ${repaired ? 'repaired' : 'unchanged'} (revision ${current.revision}, ${current.chart}); ${crdText || 'CRDs'} updated` }
  }
  log.info(`helm ${await helmMajorVersion()}: upgrade --install ${RELEASE_NAME} (${desired.chart})`)
  const writes = current ? { revision: current.revision + 1, status: 'pending-upgrade' } : { revision: 1, status: 'pending-install' }
  await withHelmNote(ctx, writes, (onStart) => upgradeRelease(cluster, config, RELEASE_NAME, desired.values, ownershipLabels(config), onStart))
  await clearLeftoverNodePorts(ctx)
  const after = await readRelease(cluster, config.traefikNamespace, RELEASE_NAME)
  const verb = `${repaired ? 'repaired and ' : ''}${current === undefined ? 'installed' : 'upgraded'}${driftText}`
  return {
    ok: true,
    summary:
      `02-traefik: release ${RELEASE_NAME} ${verb} (revision ${after?.revision ?? '?'}, ${after?.chart ?? desired.chart}, ${after?.status ?? 'unknown status'})` +
      (crdText ? `; ${crdText} updated first` : ''),
  }
}

/**
 * Kubernetes keeps the NodePorts a LoadBalancer Service was given before
 * `allocateLoadBalancerNodePorts: false`, and helm never removes them (they are not in its manifest).
 * They are side doors around INTERNAL_IP (every node's own address answers), so 02 removes them.
 */
async function clearLeftoverNodePorts({ config, cluster, log }: StepContext): Promise<void> {
  for (const name of [EXTERNAL_SERVICE, INTERNAL_SERVICE]) {
    const ref = { apiVersion: 'v1', kind: 'Service', name, namespace: config.traefikNamespace }
    const service = await retryTransient(() => rawRead(cluster, ref))
    const ports: { nodePort?: number; name?: string }[] = service?.spec?.ports ?? []
    if (service?.spec?.allocateLoadBalancerNodePorts !== false || !ports.some((p) => p.nodePort)) continue
    const patch = ports.flatMap((p, i) => (p.nodePort ? [{ op: 'remove', path: `/spec/ports/${i}/nodePort` }] : []))
    await rawRequest(cluster, 'PATCH', await objectPath(cluster, ref), { text: JSON.stringify(patch), contentType: 'application/json-patch+json' })
    log.info(`Service ${config.traefikNamespace}/${name}: removed the NodePorts left from before (${ports.filter((p) => p.nodePort).map((p) => `${p.name}: ${p.nodePort}`).join(', ')})`)
  }
}

/**
 * What 02 needs of this machine before it contacts the cluster: helm, the chart source, and the
 * chart version with its values shape (an unknown version stops here, nothing touched).
 */
export async function traefikPreflight({ config }: Pick<StepContext, 'config'>): Promise<{ chart: ChartTarget }> {
  const chart = await resolveChart(config)
  requireHelmOnPath()
  await checkChartSource(config.traefikChart)
  return { chart }
}

/** A `traefik` release this configuration did not install is never upgraded over. */
function refuseReleaseNotOurs({ config }: StepContext, current: DeployedRelease | undefined, adopt: boolean): void {
  if (!current) return
  const owner = ownerOf(current.labels, config)
  // Releases carry no label unless the kit installed them (helm's own labels are name/owner/status/version).
  const claim = claimOf(
    `helm release ${config.traefikNamespace}/${RELEASE_NAME} (${current.chart})`,
    current.labels,
    config,
    current.labels === undefined
      ? `helm does not show a release's labels with HELM_DRIVER=${process.env.HELM_DRIVER}, so whether this configuration installed it cannot be told; if it did, rerun with --adopt (needed on every run with this driver)`
      : `use another TRAEFIK_NAMESPACE for this configuration, or remove that release yourself (helm uninstall ${RELEASE_NAME} -n ${config.traefikNamespace}). If an earlier version of homelab-ingress installed it, --adopt labels it once`,
  )
  refuseUnowned(owner === 'legacy' ? [{ ...claim, owner: 'foreign' }] : [claim], config, adopt)
}

/**
 * A pending revision is repaired at once when the kit's own run wrote it (its note on the lease
 * says so) and that run is gone; any other is left alone while it is recent (judgePendingRelease).
 */
async function refuseLivePending({ cluster, config, log }: StepContext, release: DeployedRelease, force: boolean): Promise<void> {
  const { notes, activeHolder } = await readLeaseNotes(cluster, config.traefikNamespace)
  const operation = parseHelmOperation(notes[HELM_OPERATION_NOTE])
  const writer = operation ? runGone(operation.holder, activeHolder, operation.helmPid ? [operation.helmPid] : []) : undefined
  const verdict = judgePendingRelease(release, { namespace: config.traefikNamespace, name: RELEASE_NAME }, { now: new Date(), force, operation, writer })
  if (!verdict.repair) throw new PreconditionError(verdict.message, verdict.hints)
  log.info(verdict.reason)
}

/**
 * Runs one helm command that writes a release revision, with a note on the kit's lease first of
 * the revision and status it leaves while it works (and helm's process id once it runs). Killed
 * half-way, the note stays, and the next run repairs the revision at once. Cleared once helm is
 * done; a helm that failed leaves the release `failed`, not pending, so its note says nothing more.
 */
async function withHelmNote<T>(
  { config, lease }: StepContext,
  writes: { revision: number; status: string },
  run: (onStart: (pid: number) => void) => Promise<T>,
): Promise<T> {
  if (!lease) return run(() => {})
  const note: HelmOperation = { release: RELEASE_NAME, namespace: config.traefikNamespace, ...writes, holder: lease.holder, started: new Date().toISOString() }
  await lease.note(HELM_OPERATION_NOTE, JSON.stringify(note))
  let pidNoted: Promise<void> = Promise.resolve()
  const result = await run((helmPid) => {
    pidNoted = lease.note(HELM_OPERATION_NOTE, JSON.stringify({ ...note, helmPid })).catch(() => {})
  })
  await pidNoted
  await lease.note(HELM_OPERATION_NOTE, undefined)
  return result
}

/** The chart whose CRDs the cluster holds, as 02 stamped it (undefined: none, or not stamped). */
async function crdStamp({ cluster }: StepContext): Promise<string | undefined> {
  const crd = await retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name: PROBE_CRD })))
  return crd?.metadata?.annotations?.[CRD_CHART_ANNOTATION]
}

/**
 * Moving to an older chart major is not an upgrade the kit should make silently: the older chart
 * may not understand objects or CRD fields the newer one created. helm rollback returns to the exact
 * earlier revision instead.
 */
export function refuseMajorDowngrade(current: DeployedRelease | undefined, desiredVersion: string, allowed: boolean): void {
  if (!current || allowed) return
  const deployed = chartVersionOf(current.chart)
  const wanted = parseChartVersion(desiredVersion)
  if (!deployed || !wanted || wanted.major >= deployed.major) return
  throw new UserError(
    `release ${RELEASE_NAME} runs chart ${current.chart}; refusing to move it down to major ${wanted.major} (${desiredVersion}): an older chart may not understand what the newer one created, and helm never downgrades CRDs. Nothing was changed`,
    EXIT.config,
    [
      `to go back, use helm's own tool: helm history ${RELEASE_NAME} -n <namespace>, then helm rollback ${RELEASE_NAME} <revision> -n <namespace>`,
      `or set TRAEFIK_CHART_VERSION back to ${deployed.text}`,
      'or, if you mean it, rerun with --allow-downgrade',
    ],
  )
}

/** Our pools must exist and hold the configured addresses (EXTERNAL_IP changed without rerunning 01?). */
async function requirePools({ config, cluster, dryRun, log }: StepContext): Promise<void> {
  const problems: string[] = []
  // Each address with the pool named for it (paired by name, not by document order).
  const names = poolNames(config)
  const wanted = [
    { setting: 'INTERNAL_IP', ip: config.internalIp, name: names.internal },
    { setting: 'EXTERNAL_IP', ip: config.externalIp, name: names.external },
  ]
  const pools = await allInOrder(
    wanted.map(({ name }) => retryTransient(() => rawGet(cluster, apiPath('metallb.io/v1beta1', 'ipaddresspools', { namespace: config.metallbNamespace, name })))),
  )
  for (const [i, { setting, ip, name }] of wanted.entries()) {
    const pool = { metadata: { name } }
    const live: { spec?: { addresses?: string[] } } | undefined = pools[i]
    if (!live) {
      problems.push(`IPAddressPool ${config.metallbNamespace}/${pool.metadata.name} is missing`)
      continue
    }
    const addresses = live.spec?.addresses ?? []
    if (!addresses.some((entry) => poolEntryContains(entry, ip))) {
      problems.push(
        `${setting}=${ip} is in no MetalLB pool: ${pool.metadata.name} holds ${addresses.join(', ') || 'nothing'}, so MetalLB would refuse the address`,
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
  if (!(await retryTransient(() => rawGet(cluster, apiPath('storage.k8s.io/v1', 'storageclasses', { name: config.storageClass }))))) {
    const all = await retryTransient(() => rawList(cluster, apiPath('storage.k8s.io/v1', 'storageclasses')))
    const names = (all?.items ?? []).map((s) => s.metadata?.name).filter(Boolean)
    throw new PreconditionError(`STORAGE_CLASS=${config.storageClass}: no such StorageClass in context ${cluster.context}`, [
      names.length ? `StorageClasses there: ${names.join(', ')}; set STORAGE_CLASS to one of them` : 'the cluster has no StorageClass',
      'or install the storage it names (Longhorn for the default), then rerun 02-traefik',
    ])
  }
}

async function requireDnsSecret({ config, cluster }: StepContext): Promise<void> {
  if (config.acmeChallenge.type !== 'dns') return
  // A ClusterIssuer's Secrets are read from cert-manager's own namespace, not from Traefik's.
  const namespace = config.certificates === 'cert-manager' ? (await findCertManager(cluster)).namespace : config.traefikNamespace
  // Only existence is checked: the Secret's metadata is asked for, never its data.
  const secret = await retryTransient(() =>
    cluster.transport.request('GET', apiPath('v1', 'secrets', { namespace, name: config.acmeDnsSecret }), {
      accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
    }),
  )
  if (!secret && config.certificates === 'cert-manager') {
    throw new PreconditionError(
      `ACME_DNS_SECRET=${config.acmeDnsSecret}: no such Secret in namespace ${namespace}, where cert-manager reads the ClusterIssuer's DNS credentials`,
      [
        `create it there with the key cert-manager's ${config.acmeChallenge.provider} solver reads (${CERT_MANAGER_DNS_PROVIDERS[config.acmeChallenge.provider as keyof typeof CERT_MANAGER_DNS_PROVIDERS]}), e.g. kubectl -n ${namespace} create secret generic ${config.acmeDnsSecret} --from-literal=${CERT_MANAGER_DNS_PROVIDERS[config.acmeChallenge.provider as keyof typeof CERT_MANAGER_DNS_PROVIDERS]}=...`,
      ],
    )
  }
  if (!secret) {
    throw new PreconditionError(
      `ACME_DNS_SECRET=${config.acmeDnsSecret}: no such Secret in namespace ${config.traefikNamespace}`,
      [
        `create it with the variables your DNS provider (${config.acmeChallenge.provider}) needs, e.g. kubectl create namespace ${config.traefikNamespace}; kubectl -n ${config.traefikNamespace} create secret generic ${config.acmeDnsSecret} --from-literal=CF_DNS_API_TOKEN=...`,
      ],
    )
  }
}

/** k3s ships its own Traefik; two controllers answer the same IngressRoutes. */
async function bundledTraefik({ cluster }: StepContext): Promise<boolean> {
  return (await retryTransient(() => rawRead(cluster, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'traefik', namespace: 'kube-system' }))) !== undefined
}

// --- cert-manager mode

/**
 * In cert-manager mode cert-manager must already be installed (found through the API by its CRDs);
 * the kit uses it, never installs or adopts it. In acme mode, whether it is there says whether
 * objects of an earlier cert-manager run may be left to remove.
 */
async function requireCertManager({ config, cluster }: StepContext): Promise<CertManagerFound> {
  const found = await findCertManager(cluster)
  if (config.certificates === 'cert-manager' && !found.installed) {
    throw new PreconditionError(`CERTIFICATES=cert-manager: cert-manager is not installed in context ${cluster.context} (no CRD ${CERTIFICATE_CRD}); nothing was changed`, [
      'install it from its official Helm chart first (its installation guide: helm install cert-manager jetstack/cert-manager --namespace cert-manager --create-namespace --set crds.enabled=true), wait for its pods to be Ready, then rerun 02-traefik',
      'or keep Traefik\'s own ACME: CERTIFICATES=acme',
    ])
  }
  return found
}

/**
 * Applies objects the kit owns (none: nothing to do). One of the same name that this configuration
 * did not create is refused with the others at once, before any write, never changed.
 */
async function applyOwnedObjects(ctx: StepContext, wanted: Manifest[], adopt: boolean): Promise<Change[]> {
  const { config, cluster, log, dryRun } = ctx
  if (wanted.length === 0) return []
  const plan = await planApply(cluster, wanted)
  const claims = plan.flatMap((p) =>
    p.live
      ? [claimOf(refOf(p.object), p.live.metadata?.labels, config, `it has the name the kit gives its own; delete or rename it yourself (kubectl delete ${p.object.kind.toLowerCase()}${p.object.metadata.namespace ? ` -n ${p.object.metadata.namespace}` : ''} ${p.object.metadata.name}), or use INSTANCE to give this configuration other names`)]
      : [],
  )
  refuseUnowned(claims, config, adopt)
  const result = await applyManifests(cluster, wanted, dryRun, plan)
  if (dryRun && result.diff) log.info(`pending changes:\n${result.diff}`)
  return result.changes
}

/**
 * cert-manager mode: the ClusterIssuer and Certificates applied (nothing sent when they match), and
 * this configuration's ones no longer wanted deleted with their Secrets. acme mode: every one this
 * configuration made removed, with its Secret. Objects of the same name the kit did not make are
 * refused, never changed.
 */
async function syncCertManagerObjects(ctx: StepContext, certManager: CertManagerFound, adopt: boolean): Promise<string> {
  const { config, cluster, log, dryRun } = ctx
  if (!certManager.installed) return ''
  const wanted = config.certificates === 'cert-manager' ? certManagerManifests(config) : []
  const changes = await applyOwnedObjects(ctx, wanted, adopt)
  const keepSecrets = config.certificates === 'cert-manager' ? certificatePlan(config).certificates.map((c) => `${config.traefikNamespace}/${c.secretName}`) : []
  changes.push(...(await pruneCertManagerObjects(cluster, config, { keep: wanted.map(refOf), keepSecrets, dryRun })))
  for (const change of changes.filter((c) => c.action !== 'unchanged')) log.info(`${change.ref}: ${dryRun ? `would be ${change.action}` : change.action}`)
  if (changes.length === 0) return ''
  return `; cert-manager objects: ${summarize(changes, dryRun)}`
}

// --- gateway mode

/**
 * ROUTES_API=gateway needs the Gateway API's standard-channel CRDs installed already: the kit does not
 * install CRDs from the internet, and names the release Traefik's own is built against.
 */
async function requireGatewayApi({ config, cluster, log }: StepContext): Promise<void> {
  if (config.routesApi !== 'gateway') return
  const found = await findGatewayApi(cluster)
  if (found.missing.length > 0) {
    throw new PreconditionError(
      `ROUTES_API=gateway: the Gateway API CRDs are not installed in context ${cluster.context} (missing: ${found.missing.join(', ')}); nothing was changed`,
      [
        `install the standard channel of the Gateway API release Traefik v3.6 supports, ${GATEWAY_API_RELEASE_FOR_TRAEFIK} (its release's standard-install.yaml, or config/crd/standard of the sigs.k8s.io/gateway-api module at ${GATEWAY_API_RELEASE_FOR_TRAEFIK}), with kubectl apply --server-side -f <file or directory>; then rerun 02-traefik`,
        'or keep Traefik IngressRoutes: ROUTES_API=ingressroute',
      ],
    )
  }
  if (found.bundleVersion && found.bundleVersion !== GATEWAY_API_RELEASE_FOR_TRAEFIK) {
    log.info(`Gateway API CRDs ${found.bundleVersion} (${found.channel ?? 'channel unknown'}) installed; Traefik v3.6 is built against ${GATEWAY_API_RELEASE_FOR_TRAEFIK}`)
  }
}

/**
 * gateway mode: the GatewayClass and the two Gateways applied (nothing sent when they match), this
 * configuration's others deleted. ingressroute mode: every one this configuration made removed. Objects of
 * the same name the kit did not make are refused, never changed.
 */
async function syncGatewayObjects(ctx: StepContext, adopt: boolean): Promise<string> {
  const { config, cluster, log, dryRun } = ctx
  const wanted = config.routesApi === 'gateway' ? gatewayManifests(config) : []
  const changes = await applyOwnedObjects(ctx, wanted, adopt)
  // Gateways before their GatewayClass.
  changes.push(...(await pruneGatewayObjects(cluster, config, ['Gateway', 'GatewayClass'], { keep: wanted.map(refOf), dryRun })))
  for (const change of changes.filter((c) => c.action !== 'unchanged')) log.info(`${change.ref}: ${dryRun ? `would be ${change.action}` : change.action}`)
  if (changes.length === 0) return ''
  return `; Gateway API objects: ${summarize(changes, dryRun)}`
}

/** On the way to cert-manager the acme.json volume stays, said once per run, until the user removes it. */
async function keptAcmeVolume({ config, cluster, log }: StepContext): Promise<string> {
  const pvc = await retryTransient(() => rawRead(cluster, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: RELEASE_NAME, namespace: config.traefikNamespace }))
  if (!pvc || !isOurs(volumeOwner(pvc.metadata?.annotations, config))) return ''
  log.warn(
    `the acme.json volume (PersistentVolumeClaim ${config.traefikNamespace}/${RELEASE_NAME}) of CERTIFICATES=acme is kept: Traefik no longer uses it. Delete it once cert-manager's certificates are Ready (kubectl -n ${config.traefikNamespace} delete pvc ${RELEASE_NAME}), or keep it to switch back`,
  )
  return `; acme.json volume ${config.traefikNamespace}/${RELEASE_NAME} kept (unused; delete it yourself)`
}
