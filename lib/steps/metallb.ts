/** Step 01: MetalLB address pools and their L2 advertisement. */
import { applyManifests, planApply, type PlannedApply, summarize } from '../kube/apply.ts'
import { retryTransient } from '../kube/cluster.ts'
import { apiPath, rawGet, rawList } from '../kube/raw.ts'
import { admissionWebhookFailure, apiServerUnreachable, errorText, EXIT, firstLine, PreconditionError, UserError, type WebhookFailure } from '../base/errors.ts'
import { claimOf, refuseUnowned } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { allInOrder } from '../base/parallel.ts'
import { metallbManifests } from '../render/render.ts'
import type { Args, StepContext, StepResult } from './context.ts'
import { poolEntryContains } from '../base/net.ts'
import { waitUntil } from '../kube/wait.ts'
import { timed } from '../base/timings.ts'
import type { Obj } from '../verify/checks.ts'
import { lanAddresses, nodeAddresses } from '../verify/lan.ts'
import { checkLanAddresses } from '../verify/lan-neighbours.ts'

export async function ensureAddressPools(ctx: StepContext, args: Args = {}): Promise<StepResult> {
  const { config, cluster, log } = ctx
  log.step(`01-metallb: address pools for ${config.internalIp} (internal) and ${config.externalIp} (external)`)
  // The checks read at once; a failure is reported in this order (MetalLB missing before a conflict).
  const [, , , serviceLb] = await allInOrder([
    requireMetallbInstalled(ctx),
    refuseOverlappingPools(ctx, args.adopt === true),
    refuseAddressesInUseOnLan(ctx),
    serviceLbRunning(ctx),
  ] as const)
  if (serviceLb) log.warn('k3s ServiceLB (svclb-* pods in kube-system) is running and competes with MetalLB; start k3s with --disable servicelb')
  const objects = metallbManifests(config)
  const plan = await waitForMetallbWebhook(ctx, objects)
  const result = await applyManifests(cluster, objects, ctx.dryRun, plan)
  if (ctx.dryRun && result.diff) log.info(`pending changes:\n${result.diff}`)
  for (const change of result.changes) log.info(`${change.ref}: ${change.action}`)
  return { ok: true, summary: `01-metallb: ${summarize(result.changes, ctx.dryRun)}` }
}

async function requireMetallbInstalled({ config, cluster }: StepContext): Promise<void> {
  const crd = (name: string) => retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name })))
  const [pools, advertisements, namespace] = await Promise.all([
    crd('ipaddresspools.metallb.io'),
    crd('l2advertisements.metallb.io'),
    retryTransient(() => rawGet(cluster, apiPath('v1', 'namespaces', { name: config.metallbNamespace }))),
  ])
  const missing: string[] = []
  for (const [name, found] of [['ipaddresspools.metallb.io', pools], ['l2advertisements.metallb.io', advertisements]]) {
    if (!found) missing.push(`CRD ${name} is missing`)
    else if (!found.spec.versions.some((v: { name: string; served: boolean }) => v.name === 'v1beta1' && v.served)) {
      missing.push(`CRD ${name} does not serve metallb.io/v1beta1: upgrade MetalLB to 0.13 or newer`)
    }
  }
  if (!namespace) missing.push(`namespace ${config.metallbNamespace} (METALLB_NAMESPACE) does not exist`)
  if (missing.length > 0) {
    throw new PreconditionError(`MetalLB is not installed in context ${cluster.context}:`, [
      ...missing,
      'install MetalLB first (e.g. `helm install metallb metallb/metallb -n metallb-system --create-namespace`), or set METALLB_NAMESPACE to where it runs, then rerun 01-metallb',
    ])
  }
}

/**
 * MetalLB refuses overlapping pools; the blog's single pool holding both addresses is the usual
 * culprit. A pool or advertisement with our name that this configuration did not create is refused too.
 */
async function refuseOverlappingPools({ config, cluster }: StepContext, adopt: boolean): Promise<void> {
  // Not served yet (MetalLB's CRDs missing): nothing to conflict with; requireMetallbInstalled says what is missing.
  const list = async (plural: string) =>
    ((await retryTransient(() => rawList(cluster, apiPath('metallb.io/v1beta1', plural, { namespace: config.metallbNamespace })))) ?? { items: [] }) as { items: Manifest[] }
  const [pools, advertisements] = await Promise.all([list('ipaddresspools'), list('l2advertisements')])
  const wanted = metallbManifests(config)
  const ours = new Set(wanted.map((o) => o.metadata.name))
  const claims = [...pools.items.map((o) => ({ ...o, kind: 'IPAddressPool' })), ...advertisements.items.map((o) => ({ ...o, kind: 'L2Advertisement' }))]
    .filter((o) => wanted.some((w) => w.kind === o.kind && w.metadata.name === o.metadata.name))
    .map((o) =>
      claimOf(
        `${o.kind} ${config.metallbNamespace}/${o.metadata.name}`,
        o.metadata.labels,
        config,
        `set INSTANCE in this configuration so its objects get names of their own, or delete it yourself (kubectl -n ${config.metallbNamespace} delete ${o.kind.toLowerCase()}s.metallb.io ${o.metadata.name})`,
      ),
    )
  refuseUnowned(claims, config, adopt)
  const conflicts: string[] = []
  for (const pool of pools.items) {
    if (ours.has(pool.metadata.name)) continue
    const addresses = ((pool.spec as { addresses?: string[] })?.addresses ?? [])
    for (const [setting, ip] of [['INTERNAL_IP', config.internalIp], ['EXTERNAL_IP', config.externalIp]]) {
      const holder = addresses.find((entry) => poolEntryContains(entry, ip))
      if (holder) {
        conflicts.push(
          `IPAddressPool ${config.metallbNamespace}/${pool.metadata.name} already holds ${setting}=${ip} (in ${holder}); MetalLB refuses overlapping pools and that pool may hand the address to any Service`,
        )
      }
    }
  }
  if (conflicts.length > 0) {
    throw new PreconditionError('the configured addresses belong to another MetalLB pool:', [
      ...conflicts,
      `remove those addresses from that pool (kubectl -n ${config.metallbNamespace} edit ipaddresspool <name>) or delete it, then rerun 01-metallb`,
    ])
  }
}

/**
 * MetalLB never notices another device answering for an address it announces (metallb#306): a
 * printer that got INTERNAL_IP from DHCP would take part of the traffic. So look before claiming:
 * no device may answer for an address no Service holds yet, and only a node for one MetalLB
 * already announces (lib/verify/lan.ts judges, lan-neighbours.ts looks).
 */
async function refuseAddressesInUseOnLan({ config, cluster, log }: StepContext): Promise<void> {
  const [services, nodes] = await Promise.all([
    retryTransient(() => rawList(cluster, apiPath('v1', 'services'))).then((list) => list ?? { items: [] }),
    retryTransient(() => rawList(cluster, apiPath('v1', 'nodes'))).then(
      (list) => nodeAddresses((list?.items ?? []) as Obj[]),
      (err) => ({ unknown: `cannot list the cluster's Nodes: ${firstLine(errorText(err))}` }),
    ),
  ])
  const checks = await timed('LAN check: who answers for the addresses (ARP)', () => checkLanAddresses(lanAddresses(config, services.items as Obj[]), nodes))
  for (const check of checks.filter((c) => c.status !== 'fail')) {
    if (check.status === 'warn') log.warn(`${check.name}: ${check.detail}`)
    else log.info(`${check.name}: ${check.detail}`)
  }
  const conflicts = checks.filter((c) => c.status === 'fail')
  if (conflicts.length > 0) {
    throw new PreconditionError('another device on the LAN answers for an address MetalLB is to announce; clients would reach one or the other at random:', [
      ...conflicts.map((c) => `${c.name.replace(/^no other device on the LAN uses /, '')}: ${c.detail}`),
      'then rerun 01-metallb (nothing was changed)',
    ])
  }
}

/** k3s' ServiceLB (Klipper) answers LoadBalancer Services too and fights MetalLB for them. */
async function serviceLbRunning({ cluster }: StepContext): Promise<boolean> {
  const pods = await retryTransient(() =>
    rawList(cluster, apiPath('v1', 'pods', { namespace: 'kube-system', query: { labelSelector: 'svccontroller.k3s.cattle.io/svcname', limit: '1' } })),
  )
  return (pods?.items.length ?? 0) > 0
}

/**
 * Right after MetalLB starts (or restarts), its validating webhook is not answering yet: the API
 * server answers every pool write with 500 `failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io"`
 * (connection refused, no endpoints, or a CA bundle not patched in yet). A server-side dry run takes
 * the same admission path, so it is retried (bounded) until the webhook answers. Anything else ends
 * the wait at once: the API server not answering itself (lib/kube/cluster.ts says so), or the webhook
 * answering "no".
 */
async function waitForMetallbWebhook(ctx: StepContext, objects: Manifest[]): Promise<PlannedApply[]> {
  const deadline = Date.now() + ctx.timeoutSeconds * 1000
  let last: WebhookFailure | undefined
  let plan: PlannedApply[] = []
  const answered = await waitUntil({
    what: "MetalLB's admission webhook",
    timeoutSeconds: ctx.timeoutSeconds,
    log: ctx.log,
    pollSeconds: 3,
    check: async () => {
      try {
        // A webhook that accepts connections and never answers holds each dry run for its own
        // timeout (10 s unless configured); the dry run is stopped at the deadline so that
        // --timeout bounds the whole wait. It writes nothing, so stopping it is harmless.
        plan = await planApply(ctx.cluster, objects, AbortSignal.timeout(Math.max(deadline - Date.now(), 1000)))
        return { done: true, status: 'answering' }
      } catch (err) {
        const failure = admissionWebhookFailure(err)
        const apiServerDown = apiServerUnreachable(err, ctx.cluster.server) !== undefined
        if (!failure && !apiServerDown && Date.now() >= deadline) return { done: false, status: 'the API server is still waiting for its answer' }
        if (!failure || apiServerDown) throw err
        if (failure.denied) throw webhookRejected(ctx, failure)
        last = failure
        return { done: false, status: `"${failure.webhook}" not answering yet (${failure.reason})` }
      }
    },
  })
  if (!answered) {
    const what = last ? `MetalLB's admission webhook "${last.webhook}"` : "MetalLB's admission webhook"
    const got = last
      ? `the API server ${last.url ? `called ${last.url} and got` : 'got'} ${last.reason}`
      : 'the API server was still waiting for its answer'
    throw new PreconditionError(`${what} did not answer within ${ctx.timeoutSeconds}s: ${got}`, [
      'the API server answers; the webhook it calls for MetalLB objects does not. Check the MetalLB controller, which serves it: ' +
        `kubectl --context ${ctx.cluster.context} -n ${ctx.config.metallbNamespace} get pods,endpoints`,
      'rerun 01-metallb once it is Running (or raise --timeout)',
    ])
  }
  // The dry run that found the webhook answering is the plan: applying needs no second one.
  return plan
}

/** The webhook answered and said no: MetalLB found the configuration invalid. */
function webhookRejected({ config, cluster }: StepContext, failure: WebhookFailure): UserError {
  return new UserError(`MetalLB's admission webhook "${failure.webhook}" rejected the pools of 01-metallb: ${failure.reason}`, EXIT.failed, [
    `MetalLB validates every IPAddressPool in ${config.metallbNamespace} together, so the cause may be another pool: ` +
      `kubectl --context ${cluster.context} -n ${config.metallbNamespace} get ipaddresspools -o yaml`,
    'fix or remove what the message names, then rerun 01-metallb',
  ])
}
