/**
 * Step 04: proves the result. Waits (watches, bounded) for the Traefik pods and both LoadBalancer
 * addresses, then audits every route in the cluster and, where this machine can reach the
 * addresses, asks Traefik for each admin host on both of them.
 *
 * The judgements are pure functions of API objects (checks.ts, audit.ts), tested on recorded objects;
 * the reachability matrix is judged in probe.ts and asked in probe-http.ts.
 */
import { type AdminBackend, type AuditScope, auditRoutes, auditSettings, type RouteObjects } from '../verify/audit.ts'
import { judgeTraefikView, type TraefikRawData } from '../verify/traefik-api.ts'
import { readAdmissionGuardCheck } from '../verify/admission.ts'
import {
  type Check,
  type CheckStatus,
  crdCheck,
  expectedRoutesCheck,
  imageCheck,
  loadBalancerCheck,
  nodePortsCheck,
  type Obj,
  phoneHomeCheck,
  rolloutCheck,
  servicePortsCheck,
  traefikPodSelector,
} from '../verify/checks.ts'
import { retryTransient } from '../kube/cluster.ts'
import { apiPath, rawGet, rawList } from '../kube/raw.ts'
import { allInOrder } from '../base/parallel.ts'
import { recordSpan } from '../base/timings.ts'
import { errorText, firstLine } from '../base/errors.ts'
import { containersToLog, isPodReady, LOG_LINES, logKey, type PodFacts, podsCheck } from '../verify/pod-trouble.ts'
import type { Cluster } from '../kube/cluster.ts'
import { type ContainerLog, readContainerLog, readSchedulingFacts } from '../kube/pods.ts'
import { CRD_CHART_ANNOTATION, PROBE_CRD } from '../kube/crds.ts'
import { formatCertificates, formatMatrix, judgeMatrix, matrixCheckNames, type ProbeMatrix, probeTargets } from '../verify/probe.ts'
import { askMatrix, askTraefikRawData } from '../verify/probe-http.ts'
import { certificateChecks, disruptionBudgetCheck, issuerCheck, replicasCheck } from '../verify/certificates.ts'
import { gatewayCheck, gatewayClassCheck, httpRouteCheck } from '../verify/gateway.ts'
import {
  adminHost,
  adminHosts,
  adminHttpRouteManifests,
  CERT_MANAGER_GROUP,
  GATEWAY_API_VERSION,
  gatewayManifests,
  gatewayNames,
  TRAEFIK_GATEWAY_CONTROLLER,
  certificatePlan,
  certManagerNames,
  DASHBOARD_HOST_NAME,
  EXTERNAL_SERVICE,
  hostsFileLine,
  INTERNAL_ENTRYPOINTS,
  INTERNAL_SERVICE,
  PUBLIC_ENTRYPOINTS,
  RELEASE_NAME,
} from '../render/render.ts'
import { DNS_FORMAT_PLACES, DNS_FORMATS, type DnsFormat, dnsRecords } from '../render/dns.ts'
import { lanAddresses, nodeAddresses } from '../verify/lan.ts'
import { checkLanAddresses } from '../verify/lan-neighbours.ts'
import type { StepContext, StepResult } from './context.ts'
import { timed } from '../base/timings.ts'
import { watchUntil, type WatchState } from '../kube/wait.ts'

export type VerifyReport = {
  ok: boolean
  context: string
  checks: Check[]
  probes?: ProbeMatrix
  hostsLine: string
  /** The admin hosts as records for the LAN's DNS server, one text per format. */
  dns: Record<DnsFormat, string>
}

/**
 * `probe`: ask Traefik over HTTP(S): its API for the routers it serves, and, with `matrix` (the
 * default), every admin host on both addresses; `requireProbe`: what this machine cannot reach fails
 * instead of being skipped.
 */
export type ProbeFlags = { probe: boolean; matrix?: boolean; requireProbe?: boolean }

// --- the step

export async function verifyIngress(ctx: StepContext & ProbeFlags): Promise<StepResult & { report: VerifyReport }> {
  const { config, cluster, log } = ctx
  const ns = config.traefikNamespace
  log.step(`04-verify: Traefik in ${ns}, ${EXTERNAL_SERVICE} on ${config.externalIp}, ${INTERNAL_SERVICE} on ${config.internalIp}`)

  const selector = traefikPodSelector(config)
  let evaluateNow = () => {}
  const around = podSurroundings(cluster, () => evaluateNow())
  const waitedChecks = (state: WatchState, allServices: Obj[] = []): Check[] => {
    const services = state[1]
    const events = [...state[2].values()]
    const pods = [...state[0].values()] as Obj[]
    return [
      rolloutCheck(state[3].get(`${ns}/${RELEASE_NAME}`), `${ns}/${RELEASE_NAME}`),
      podsCheck(pods, { events, pvcs: [...state[4].values()], ...around.facts }),
      loadBalancerCheck(services.get(`${ns}/${EXTERNAL_SERVICE}`), EXTERNAL_SERVICE, 'EXTERNAL_IP', config.externalIp, events, allServices),
      loadBalancerCheck(services.get(`${ns}/${INTERNAL_SERVICE}`), INTERNAL_SERVICE, 'INTERNAL_IP', config.internalIp, events, allServices),
    ]
  }
  // The pods an admin Service could share with another Service: those of the admin UIs' namespaces
  // and Traefik's (a Service selects pods of its own namespace only).
  const podNamespaces = [...new Set([ns, ...config.internalRoutes.map((r) => r.namespace)])]
  /** Every route, Service, namespace and class in the cluster, and the CRDs' stamp, for the audit. */
  function readEverything() {
    // A list the API does not serve (a traefik.io one without Traefik's CRDs) has nothing in it.
    const list = async (path: string) => ((await retryTransient(() => rawList(cluster, path))) ?? { items: [] }) as { items: Obj[] }
    return allInOrder([
      list(apiPath('v1', 'services')),
      list(apiPath('traefik.io/v1alpha1', 'ingressroutes')),
      list(apiPath('v1', 'namespaces')),
      list(apiPath('networking.k8s.io/v1', 'ingresses')),
      list(apiPath('traefik.io/v1alpha1', 'traefikservices')),
      list(apiPath('networking.k8s.io/v1', 'ingressclasses')),
      retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name: PROBE_CRD }))).then(
        (crd) => crd?.metadata?.annotations?.[CRD_CHART_ANNOTATION] as string | undefined,
      ),
      // Only to tell a node's MAC from another device's (the LAN check): not being allowed to list
      // Nodes makes that check say so, it does not fail the step.
      retryTransient(() => rawList(cluster, apiPath('v1', 'nodes'))).then(
        (list) => nodeAddresses((list?.items ?? []) as Obj[]),
        (err) => ({ unknown: `cannot list the cluster's Nodes: ${firstLine(errorText(err))}` }),
      ),
      list(apiPath('traefik.io/v1alpha1', 'ingressroutetcps')),
      list(apiPath('traefik.io/v1alpha1', 'ingressrouteudps')),
      list(apiPath('traefik.io/v1alpha1', 'middlewares')),
      // Endpoints written by hand (Services without a selector): the controller's own follow selectors.
      list(apiPath('discovery.k8s.io/v1', 'endpointslices', { query: { labelSelector: 'endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io' } })),
      Promise.all(podNamespaces.map((namespace) => list(apiPath('v1', 'pods', { namespace })))).then((lists) => lists.flatMap((l) => l.items)),
      // Gateway API (empty where its CRDs are not installed)
      Promise.all([
        list(apiPath('gateway.networking.k8s.io/v1', 'gatewayclasses')),
        list(apiPath('gateway.networking.k8s.io/v1', 'gateways')),
        list(apiPath('gateway.networking.k8s.io/v1', 'httproutes')),
        list(apiPath('gateway.networking.k8s.io/v1', 'grpcroutes')),
        list(apiPath('gateway.networking.k8s.io/v1alpha2', 'tlsroutes')),
        list(apiPath('gateway.networking.k8s.io/v1alpha2', 'tcproutes')),
        list(apiPath('gateway.networking.k8s.io/v1beta1', 'referencegrants')),
      ]).then(([gatewayClasses, gateways, httpRoutes, grpcRoutes, tlsRoutes, tcpRoutes, referenceGrants]) => ({
        gatewayClasses: gatewayClasses.items,
        gateways: gateways.items,
        httpRoutes: httpRoutes.items,
        grpcRoutes: grpcRoutes.items,
        tlsRoutes: tlsRoutes.items,
        tcpRoutes: tcpRoutes.items,
        referenceGrants: referenceGrants.items,
      })),
    ] as const)
  }
  let lastState: WatchState = [new Map(), new Map(), new Map(), new Map(), new Map()]
  const waited = { evaluations: 0 }
  // Read while the wait lists too: when its first look already settles it (a converged cluster),
  // these are as fresh as a read after it; when it had to wait, they are read again.
  const early = readEverything()
  early.catch(() => {}) // a failure here is met again when read again
  const admissionGuard = readAdmissionGuardCheck(cluster, config) // (never rejects)
  const verdict = await watchUntil(cluster, {
    what: 'waiting for Traefik',
    timeoutSeconds: ctx.timeoutSeconds,
    log,
    sources: [
      { path: apiPath('v1', 'pods', { namespace: ns, query: { labelSelector: selector } }) },
      { path: apiPath('v1', 'services', { namespace: ns }) },
      // MetalLB's answers about the Services, and the scheduler's, kubelet's and volume controllers'
      // about the pods and their claims.
      { path: apiPath('v1', 'events', { namespace: ns }) },
      { path: apiPath('apps/v1', 'deployments', { namespace: ns }) },
      { path: apiPath('v1', 'persistentvolumeclaims', { namespace: ns }) },
    ],
    wake: (evaluate) => (evaluateNow = evaluate),
    evaluate: (state, elapsed) => {
      waited.evaluations++
      lastState = state
      around.refresh([...state[0].values()] as Obj[])
      const failing = waitedChecks(state).filter((c) => c.status === 'fail')
      if (failing.length === 0) return { done: true, status: 'ready' }
      // MetalLB has said no, or the Services are not there at all: waiting longer will not help.
      const hopeless = failing.some((c) => /AllocationFailed|^(Service|Deployment) \S+ does not exist/.test(c.detail))
      if (hopeless && elapsed >= Math.min(15, ctx.timeoutSeconds)) return { done: true, status: 'failed' }
      // one line each: a crashing container's log lines are for the report
      return { done: false, status: failing.map((c) => c.detail.split('\n')[0]).join('; ') }
    },
  })
  await around.refresh([...lastState[0].values()] as Obj[], true)

  const [allServices, routes, namespaces, ingresses, traefikServices, ingressClasses, crdStamp, nodes, routeTCPs, routeUDPs, middlewares, endpointSlices, pods, gatewayApi] =
    verdict.done && waited.evaluations === 1 ? await early : await readEverything()
  // Asked while the rest is judged and probed: an address nobody answers for takes the kernel ~3 s.
  const lanChecks = timed('LAN check: who answers for the addresses (ARP)', () =>
    checkLanAddresses(lanAddresses(config, allServices.items as Obj[]), nodes),
  )
  // Every Service in the cluster is known now, to name whoever holds an address.
  const checks = waitedChecks(lastState, allServices.items)
  const deployment = lastState[3].get(`${ns}/${RELEASE_NAME}`) as Obj | undefined
  checks.push(imageCheck(deployment, [...lastState[0].values()]))
  checks.push(phoneHomeCheck(deployment, config.traefikPhoneHome))
  checks.push(crdCheck(crdStamp, deployment?.metadata.labels?.['helm.sh/chart']))
  if (config.certificates === 'cert-manager') checks.push(...(await certManagerChecks(cluster, config, [...lastState[0].values()] as Obj[])))
  if (config.routesApi === 'gateway') checks.push(...(await gatewayModeChecks(cluster, config)))
  const externalService = lastState[1].get(`${ns}/${EXTERNAL_SERVICE}`) as Obj | undefined
  const internalService = lastState[1].get(`${ns}/${INTERNAL_SERVICE}`) as Obj | undefined

  const publicEntrypoints = [
    ...new Set([...PUBLIC_ENTRYPOINTS, ...(externalService?.spec?.ports ?? []).map((p: any) => String(p.targetPort ?? p.name))]),
  ]
  checks.push(servicePortsCheck(externalService, EXTERNAL_SERVICE, PUBLIC_ENTRYPOINTS))
  checks.push(servicePortsCheck(internalService, INTERNAL_SERVICE, INTERNAL_ENTRYPOINTS))
  checks.push(nodePortsCheck(externalService, EXTERNAL_SERVICE, ns), nodePortsCheck(internalService, INTERNAL_SERVICE, ns))
  const namespaceNames = new Set(namespaces.items.map((n) => n.metadata?.name ?? ''))
  checks.push(...expectedRoutesCheck(config, routes.items, namespaceNames))
  // Default entrypoints, entrypoint ports, Ingress class and cross-namespace/ExternalName settings
  // as the running Traefik pods (and the Deployment they roll out to) were started with.
  const auditStart = performance.now()
  const traefikObjects = [...lastState[0].values(), ...(deployment ? [deployment] : [])] as Obj[]
  const scope: AuditScope = {
    ...auditSettings(traefikObjects),
    publicEntrypoints,
    admin: adminBackends(config),
    traefik: { namespace: ns, podLabels: traefikObjects.map((o) => (o.spec?.template?.metadata?.labels ?? o.metadata.labels ?? {}) as Record<string, string>) },
    internalIp: config.internalIp,
    internalEntrypoints: INTERNAL_ENTRYPOINTS,
  }
  const routeObjects: RouteObjects = {
    ingressRoutes: routes.items,
    ingressRouteTCPs: routeTCPs.items,
    ingressRouteUDPs: routeUDPs.items,
    ingresses: ingresses.items,
    ingressClasses: ingressClasses.items,
    traefikServices: traefikServices.items,
    middlewares: middlewares.items,
    services: allServices.items,
    endpointSlices: endpointSlices.items,
    pods,
    ...gatewayApi,
    namespaces: namespaces.items,
  }
  checks.push(...auditRoutes(routeObjects, scope))
  recordSpan(`route audit (${routes.items.length} IngressRoutes, ${routeTCPs.items.length + routeUDPs.items.length} TCP/UDP, ${ingresses.items.length} Ingresses)`, auditStart)
  checks.push(await admissionGuard)

  let probes: ProbeMatrix | undefined
  if (ctx.probe) {
    const addresses = { internal: config.internalIp, external: config.externalIp }
    const dashboard = adminHost(config, DASHBOARD_HOST_NAME)
    const [asked, api] = await Promise.all([
      ctx.matrix === false ? undefined : askMatrix(probeTargets(config), addresses),
      timed("Traefik's API: the routers it serves", () => askTraefikRawData(config.internalIp, dashboard)),
    ])
    if (asked) {
      const judged = judgeMatrix(asked, addresses, { requireProbe: ctx.requireProbe === true })
      checks.push(...judged.checks)
      probes = judged.matrix
    }
    if ('data' in api) checks.push(...judgeTraefikView(api.data as TraefikRawData, routeObjects, scope))
    else {
      checks.push({
        name: "Traefik's API and the cluster reading agree on the public routers",
        status: ctx.requireProbe ? 'fail' : 'skip',
        detail: `not checked: Traefik's API did not answer from here (${api.unreachable}); the cluster reading above is the audit`,
      })
    }
  }
  checks.push(...(await lanChecks))

  const ok = checks.every((c) => c.status !== 'fail')
  const hosts = adminHosts(config)
  const dns = Object.fromEntries(DNS_FORMATS.map((f) => [f, dnsRecords(f, config.internalIp, hosts)])) as Record<DnsFormat, string>
  const report: VerifyReport = { ok, context: cluster.context, checks, ...(probes ? { probes } : {}), hostsLine: hostsFileLine(config), dns }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length
  const summary = `04-verify: ${ok ? 'OK' : 'FAILED'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`
  return { ok, summary, report }
}

/** The admin UIs the audit guards: every INTERNAL_ROUTES backend, named by its admin host. */
export function adminBackends(config: Parameters<typeof adminHost>[0]): AdminBackend[] {
  return config.internalRoutes.map((r) => ({ namespace: r.namespace, service: r.service, label: adminHost(config, r.name) }))
}

/**
 * cert-manager mode: the ClusterIssuer, the Certificates with their Secrets (and, for one that is not
 * Ready, its requests, Orders and Challenges), the replicas' nodes, the PodDisruptionBudget.
 */
async function certManagerChecks(cluster: Cluster, config: StepContext['config'], pods: Obj[]): Promise<Check[]> {
  const ns = config.traefikNamespace
  const list = async (path: string, accept?: string) =>
    (((await retryTransient(() => cluster.transport.request('GET', path, accept ? { accept } : {}))) ?? { items: [] }) as { items: Obj[] }).items
  const names = certManagerNames(config)
  const [certificates, requests, orders, challenges, secrets, issuer, pdb, nodes] = await allInOrder([
    list(apiPath(CERT_MANAGER_GROUP, 'certificates', { namespace: ns })),
    list(apiPath(CERT_MANAGER_GROUP, 'certificaterequests', { namespace: ns })),
    list(apiPath('acme.cert-manager.io/v1', 'orders', { namespace: ns })),
    list(apiPath('acme.cert-manager.io/v1', 'challenges', { namespace: ns })),
    // metadata only: the kit never reads a Secret's data
    list(apiPath('v1', 'secrets', { namespace: ns }), 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'),
    retryTransient(() => rawGet(cluster, apiPath(CERT_MANAGER_GROUP, 'clusterissuers', { name: names.issuer }))),
    retryTransient(() => rawGet(cluster, apiPath('policy/v1', 'poddisruptionbudgets', { namespace: ns, name: RELEASE_NAME }))),
    list(apiPath('v1', 'nodes')),
  ] as const)
  const wanted = certificatePlan(config).certificates.map((c) => ({ namespace: ns, name: c.name, secretName: c.secretName, dnsNames: c.dnsNames }))
  const withNamespace = secrets.map((s) => ({ ...s, metadata: { ...s.metadata, namespace: s.metadata.namespace ?? ns } }))
  return [
    issuerCheck(issuer, names.issuer),
    ...certificateChecks(wanted, { certificates, requests, orders, challenges, secrets: withNamespace }, new Date()),
    replicasCheck(pods, nodes, config.traefikReplicas),
    disruptionBudgetCheck(pdb, `${ns}/${RELEASE_NAME}`),
  ]
}

/**
 * gateway mode: the kit's GatewayClass, Gateways and admin HTTPRoutes, from the status Traefik's Gateway
 * provider writes on them. A route whose namespace does not exist is skipped, as in ingressroute mode.
 */
async function gatewayModeChecks(cluster: Cluster, config: StepContext['config']): Promise<Check[]> {
  const names = gatewayNames(config)
  const gateways = gatewayManifests(config).filter((m) => m.kind === 'Gateway')
  const routes = adminHttpRouteManifests(config)
  const [cls, liveGateways, liveRoutes, namespaces] = await allInOrder([
    retryTransient(() => rawGet(cluster, apiPath(GATEWAY_API_VERSION, 'gatewayclasses', { name: names.gatewayClass }))),
    allInOrder(gateways.map((g) => retryTransient(() => rawGet(cluster, apiPath(GATEWAY_API_VERSION, 'gateways', { namespace: g.metadata.namespace, name: g.metadata.name }))))),
    allInOrder(routes.map((r) => retryTransient(() => rawGet(cluster, apiPath(GATEWAY_API_VERSION, 'httproutes', { namespace: r.metadata.namespace, name: r.metadata.name }))))),
    allInOrder(routes.map((r) => retryTransient(() => rawGet(cluster, apiPath('v1', 'namespaces', { name: r.metadata.namespace! }))))),
  ] as const)
  const checks: Check[] = [gatewayClassCheck(cls, names.gatewayClass, TRAEFIK_GATEWAY_CONTROLLER)]
  for (const [i, g] of gateways.entries()) {
    const listeners = ((g.spec as any).listeners as { name: string }[]).map((l) => l.name)
    checks.push(gatewayCheck(liveGateways[i], `${g.metadata.namespace}/${g.metadata.name}`, listeners))
  }
  for (const [i, r] of routes.entries()) {
    const ref = `${r.metadata.namespace}/${r.metadata.name}`
    if (!namespaces[i]) {
      checks.push({ name: `HTTPRoute ${ref} served through Gateway ${config.traefikNamespace}/${names.internal}`, status: 'skip', detail: `namespace ${r.metadata.namespace} does not exist (the app is not installed)` })
      continue
    }
    checks.push(httpRouteCheck(liveRoutes[i], ref, { name: names.internal, namespace: config.traefikNamespace }, TRAEFIK_GATEWAY_CONTROLLER))
  }
  return checks
}

/**
 * Nodes, StorageClasses, volumes and crash logs, read only while a pod is not Ready (a converged
 * run reads none of them), at most every few seconds, each crashed container's log once per restart.
 */
function podSurroundings(cluster: Cluster, onRead: () => void) {
  const REFRESH_MS = 5000
  let facts: Pick<PodFacts, 'nodes' | 'storageClasses' | 'persistentVolumes' | 'logs'> = {}
  const logs = new Map<string, ContainerLog>()
  let last = 0
  let running: Promise<void> | undefined
  const read = async (pods: Obj[]) => {
    const scheduling = await readSchedulingFacts(cluster)
    const byContainer: Record<string, ContainerLog> = {}
    for (const pod of pods.filter((p) => !isPodReady(p))) {
      for (const { container, previous } of containersToLog(pod)) {
        const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
        const restarts = statuses.find((s: any) => s.name === container)?.restartCount ?? 0
        const key = `${logKey(pod, container)}#${restarts}#${previous}`
        if (!logs.has(key)) {
          logs.set(key, await readContainerLog(cluster, pod.metadata.namespace ?? '', pod.metadata.name, container, { previous, lines: LOG_LINES * 4 }))
        }
        byContainer[logKey(pod, container)] = logs.get(key)!
      }
    }
    facts = { ...scheduling, logs: byContainer }
    onRead()
  }
  return {
    get facts() {
      return facts
    },
    /** Starts a read when a pod is not Ready (`now`: waits for a fresh one). Never fails the wait. */
    refresh(pods: Obj[], now = false): Promise<void> {
      if (pods.every(isPodReady)) return Promise.resolve()
      if (!running && (now || Date.now() - last >= REFRESH_MS)) {
        last = Date.now()
        running = read(pods).catch(() => {}).finally(() => (running = undefined))
      }
      return now && running ? running : Promise.resolve()
    },
  }
}

/**
 * The checks, then the reachability table, its checks that did not pass, and the certificates
 * seen; then the admin hosts for a hosts file and for the LAN's DNS server (unless `dnsOnStdout`
 * names the one format printed alone on stdout).
 */
export function formatReport(report: VerifyReport, dnsOnStdout?: DnsFormat): string {
  const mark: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', skip: 'skip', warn: 'warn' }
  const line = (c: Check) => `  [${mark[c.status]}] ${c.name}: ${c.detail}`
  const fromMatrix = report.probes ? matrixCheckNames(report.probes) : new Set<string>()
  const isCell = (c: Check) => fromMatrix.has(c.name)
  const lines = report.checks.filter((c) => !isCell(c)).map(line)
  if (report.probes) {
    lines.push('', ...formatMatrix(report.probes))
    lines.push(...report.checks.filter((c) => isCell(c) && c.status !== 'pass').map(line))
    lines.push(...formatCertificates(report.probes))
  }
  if (dnsOnStdout) {
    const { name, where } = DNS_FORMAT_PLACES[dnsOnStdout]
    lines.push('', `The admin hosts' records for ${name} are on stdout (for ${where}).`)
    return lines.join('\n')
  }
  lines.push('', 'Hosts-file line for the admin UIs (on the machines you administer from):', `  ${report.hostsLine}`)
  lines.push('', 'Or resolve them for the whole LAN in its DNS server (--dns FORMAT prints one format alone, ready to paste):')
  for (const format of DNS_FORMATS.filter((f) => f !== 'hosts')) {
    const { name, where } = DNS_FORMAT_PLACES[format]
    lines.push(`  ${name} (${where}):`, ...report.dns[format].trimEnd().split('\n').map((l) => `    ${l}`))
  }
  return lines.join('\n')
}
