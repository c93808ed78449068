/**
 * Why a pod is not Ready, in the user's words: a pure function of the Pod and what the cluster
 * says around it (its events, its PersistentVolumeClaims, the StorageClasses, the nodes, the last
 * log lines of a crashing container). Tested on objects recorded from the test cluster
 * (test/recorded/stuck-pods.json); 04-verify reads the objects (lib/steps/verify.ts).
 */
import type { Check, Obj } from './checks.ts'

/** The last lines of one container's log, or why there are none. */
export type ContainerLog = { lines: string[] } | { unavailable: string }

export type PodFacts = {
  /** Events of the pod's namespace (any object: the pod's and its PVCs' are picked out). */
  events?: Obj[]
  /** PersistentVolumeClaims of the pod's namespace. */
  pvcs?: Obj[]
  /** Every StorageClass; undefined: not read (yet), nothing is said about them. */
  storageClasses?: Obj[]
  /** Every node; undefined: not read (yet). */
  nodes?: Obj[]
  /** Names of every PersistentVolume; undefined: not read (or not allowed). */
  persistentVolumes?: string[]
  /** Keyed by `logKey(pod, container)`. */
  logs?: Record<string, ContainerLog>
}

export const logKey = (pod: Obj, container: string) => `${pod.metadata.namespace ?? ''}/${pod.metadata.name}/${container}`

/** How many log lines the report shows of a crashing container. */
export const LOG_LINES = 5

/** Every Traefik pod Running and Ready; each one that is not says why. */
export function podsCheck(pods: Obj[], facts: PodFacts = {}): Check {
  const name = 'Traefik pods Running and Ready'
  if (pods.length === 0) return { name, status: 'fail', detail: 'no Traefik pod yet' }
  const notReady = pods.filter((p) => !isPodReady(p))
  if (notReady.length === 0) {
    return { name, status: 'pass', detail: pods.map((p) => `${p.metadata.name} Running`).join(', ') }
  }
  const whys = notReady.map((p) => `${p.metadata.name}: ${podTrouble(p, facts)}`)
  // Quoted log lines make a reason several lines long: then one pod per line.
  const why = whys.some((w) => w.includes('\n')) ? whys.join('\n    ') : whys.join('; ')
  return { name, status: 'fail', detail: `${pods.length - notReady.length}/${pods.length} ready: ${why}` }
}

export function isPodReady(pod: Obj): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !pod.metadata.deletionTimestamp &&
    (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  )
}

type ContainerStatus = {
  name: string
  image?: string
  ready?: boolean
  started?: boolean
  restartCount?: number
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: Terminated }
  lastState?: { terminated?: Terminated }
}
type Terminated = { exitCode?: number; reason?: string; message?: string; signal?: number; finishedAt?: string }

const IMAGE_PULL = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable', 'SignatureValidationFailed'])
const CANNOT_START = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'PreStartHookError', 'PostStartHookError'])

/**
 * The containers whose last log lines say why they fail: one crashing (its previous instance's
 * log) or one that exited with an error (its own).
 */
export function containersToLog(pod: Obj): { container: string; previous: boolean }[] {
  const statuses: ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const wanted: { container: string; previous: boolean }[] = []
  for (const s of statuses) {
    if (failedExit(s.state?.terminated)) wanted.push({ container: s.name, previous: false })
    else if (s.state?.waiting?.reason === 'CrashLoopBackOff' || (!s.state?.running && failedExit(s.lastState?.terminated))) {
      wanted.push({ container: s.name, previous: true })
    }
  }
  return wanted
}

const failedExit = (t: Terminated | undefined) => t !== undefined && (t.exitCode ?? 0) !== 0

/** Why `pod` is not Ready; the first line says it, further lines (indented) quote the log. */
export function podTrouble(pod: Obj, facts: PodFacts = {}): string {
  const status = pod.status ?? {}
  if (pod.metadata.deletionTimestamp) return `being deleted (since ${pod.metadata.deletionTimestamp})`
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    return `${status.phase}${status.reason ? ` (${status.reason})` : ''}${status.message ? `: ${status.message}` : ''}`
  }
  const unscheduled = (status.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False')
  if (unscheduled) return `not scheduled: ${whyUnschedulable(pod, unscheduled.message ?? unscheduled.reason ?? '', facts)}`

  const node = pod.spec?.nodeName ? facts.nodes?.find((n) => n.metadata.name === pod.spec.nodeName) : undefined
  const nodeDown = node && nodeNotReady(node)

  const init: ContainerStatus[] = status.initContainerStatuses ?? []
  for (const s of init) {
    if (s.state?.terminated?.exitCode === 0) continue
    const spec = (pod.spec?.initContainers ?? []).find((c: any) => c.name === s.name)
    if (spec?.restartPolicy === 'Always' && s.state?.running) continue // a sidecar: it runs beside the others
    const trouble = containerTrouble(pod, s, `init container ${s.name}`, facts)
    if (trouble) return trouble
    if (s.state?.running) return withNode(`init container ${s.name} is still running (the containers start after it)`, nodeDown)
  }

  const volumes = volumeTrouble(pod, facts)
  const main: ContainerStatus[] = status.containerStatuses ?? []
  const troubles = main.map((s) => containerTrouble(pod, s, `container ${s.name}`, facts)).filter((t): t is string => t !== undefined)
  if (troubles.length) return troubles.join('; ')
  if (volumes) return volumes
  if (nodeDown) return `its node ${node!.metadata.name} is ${nodeDown}: nothing there reports the pod's state`

  const starting = main.filter((s) => s.state?.waiting)
  if (starting.length) {
    const names = starting.map((s) => s.name).join(', ')
    return starting.every((s) => s.state?.waiting?.reason === 'PodInitializing')
      ? `container ${names} waits for the init containers`
      : `container ${names} is being created (${starting[0].state?.waiting?.reason ?? 'waiting'})`
  }
  const notReady = main.filter((s) => !s.ready)
  if (main.length && notReady.length) {
    const probe = newestPodEvent(pod, facts, (e) => e.reason === 'Unhealthy')
    const names = notReady.map((s) => s.name).join(', ')
    if (probe) return `container ${names} runs but is not ready: ${probe.message}`
    return `container ${names} runs but is not ready yet (its readiness probe has not passed)`
  }
  if (!pod.spec?.nodeName) return 'waiting to be scheduled'
  const sandbox = newestPodEvent(pod, facts, (e) => e.reason === 'FailedCreatePodSandBox')
  if (sandbox) return `node ${pod.spec.nodeName} cannot start the pod: ${trim(sandbox.message)}`
  if (main.length === 0) return `scheduled on node ${pod.spec.nodeName}; its containers have not started yet`
  return `${status.phase ?? 'Unknown'}, not Ready`
}

function withNode(text: string, nodeDown: string | false | undefined): string {
  return nodeDown ? `${text} (its node is ${nodeDown})` : text
}

/** What one container's status says is wrong, or undefined when it runs. */
function containerTrouble(pod: Obj, s: ContainerStatus, label: string, facts: PodFacts): string | undefined {
  const waiting = s.state?.waiting
  const reason = waiting?.reason
  const image = s.image ?? specImage(pod, s.name)
  if (reason && IMAGE_PULL.has(reason)) {
    // The kubelet's "Failed" event carries the registry's answer; the waiting message after the
    // first failure only says it backs off.
    const failed = newestPodEvent(pod, facts, (e) => e.reason === 'Failed' && /image/i.test(e.message ?? '') && (!image || e.message.includes(image)))
    const why = failed?.message ?? waiting?.message
    return `${label} cannot pull its image ${image} (${reason})${why ? `: ${trim(why)}` : ''}`
  }
  if (reason === 'CrashLoopBackOff' || failedExit(s.state?.terminated)) {
    const last = s.state?.terminated ?? s.lastState?.terminated
    const crashing = reason === 'CrashLoopBackOff'
    const parts = [
      crashing ? `${label} keeps crashing (CrashLoopBackOff, restarted ${s.restartCount ?? 0} time${s.restartCount === 1 ? '' : 's'})` : `${label} failed`,
      last ? `last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}${last.signal ? `, signal ${last.signal}` : ''}` : undefined,
      last?.message ? `it said: ${trim(last.message)}` : undefined,
    ].filter(Boolean)
    return `${parts.join('; ')}${logText(facts.logs?.[logKey(pod, s.name)])}`
  }
  if (reason && CANNOT_START.has(reason)) return `${label} cannot start (${reason})${waiting?.message ? `: ${trim(waiting.message)}` : ''}`
  if (reason === 'ContainerCreating' || reason === 'PodInitializing') return undefined // volumes, sandbox: said below
  if (reason) return `${label} is waiting (${reason})${waiting?.message ? `: ${trim(waiting.message)}` : ''}`
  if (s.state?.terminated && !label.startsWith('init')) return `${label} exited (code ${s.state.terminated.exitCode})`
  return undefined
}

function logText(log: ContainerLog | undefined): string {
  if (!log) return ''
  if ('unavailable' in log) return `; its log cannot be read: ${log.unavailable}`
  const lines = log.lines.filter((l) => l.trim() !== '').slice(-LOG_LINES)
  if (lines.length === 0) return '; its log is empty'
  return `; last log lines:\n${lines.map((l) => `      | ${trim(l, 200)}`).join('\n')}`
}

function specImage(pod: Obj, name: string): string | undefined {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c: any) => c.name === name)?.image
}

/** Volumes that keep the containers from starting: attach (Multi-Attach) and mount failures. */
function volumeTrouble(pod: Obj, facts: PodFacts): string | undefined {
  const attach = newestPodEvent(pod, facts, (e) => e.reason === 'FailedAttachVolume')
  if (attach) {
    const multi = /Multi-Attach error/i.test(attach.message ?? '')
    return multi
      ? `a volume cannot be attached: ${trim(attach.message)} (a ReadWriteOnce volume is still attached for another pod, usually the previous Traefik pod on another node; it is released once that pod is gone)`
      : `a volume cannot be attached: ${trim(attach.message)}`
  }
  const mount = newestPodEvent(pod, facts, (e) => e.reason === 'FailedMount')
  if (mount) return `a volume cannot be mounted: ${trim(mount.message)}`
  return undefined
}

/** The scheduler's message ("0/1 nodes are available: ..."), each predicate said with its cause. */
function whyUnschedulable(pod: Obj, message: string, facts: PodFacts): string {
  const said = message.replace(/\s*preemption:.*$/s, '').trim()
  const causes: string[] = []
  const add = (c: string | undefined) => {
    if (c && !causes.includes(c)) causes.push(c)
  }
  if (/PersistentVolumeClaim|persistentvolumeclaim|persistent volume|pv\(s\)|volume node affinity/i.test(said)) {
    for (const c of claimTrouble(pod, facts)) add(c)
    if (/volume node affinity conflict/.test(said)) add("its volume is bound to a node the pod cannot run on (the volume's node affinity)")
    if (!causes.length && /unbound immediate PersistentVolumeClaims/.test(said)) add('a PersistentVolumeClaim it uses is not bound yet')
    if (!causes.length && /bound to non-existent pv\(s\)/.test(said)) for (const c of volumeNotSeenYet(pod, facts)) add(c)
  }
  if (/didn't match Pod's node affinity\/selector/.test(said)) add(selectorTrouble(pod, facts))
  // "had untolerated taint {k: v}" (Kubernetes 1.25+), "had taint {k: v}, that the pod didn't tolerate" (older)
  for (const m of said.matchAll(/(?:untolerated taint(?:\(s\))?|had taints?) \{([^}]*)\}/g)) add(taintTrouble(m[1], facts))
  for (const m of said.matchAll(/Insufficient ([\w./-]*\w)/g)) add(resourceTrouble(pod, m[1], facts))
  if (/node\(s\) were unschedulable/.test(said)) {
    const cordoned = (facts.nodes ?? []).filter((n) => n.spec?.unschedulable).map((n) => n.metadata.name)
    add(`${cordoned.length ? `node ${cordoned.join(', ')} is` : 'nodes are'} cordoned (kubectl uncordon <node>)`)
  }
  if (/Too many pods/.test(said)) add('the nodes already run as many pods as they allow')
  if (/free ports for the requested pod ports/.test(said)) add('another pod already uses a host port it asks for')
  if (/anti-affinity/.test(said)) add('its pod anti-affinity rules exclude every node')
  if (/no nodes available to schedule pods/.test(said)) add('the cluster has no node to run it')
  return causes.length ? `${causes.join('; ')} (scheduler: ${said})` : said
}

const newestFirst = (a: Obj, b: Obj) => eventTime(b) - eventTime(a)
const eventTime = (e: Obj) => Date.parse(e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0) || 0

function newestPodEvent(pod: Obj, facts: PodFacts, match: (e: Obj) => boolean): Obj | undefined {
  return (facts.events ?? [])
    .filter(
      (e) =>
        e.involvedObject?.kind === 'Pod' &&
        e.involvedObject?.name === pod.metadata.name &&
        sameUid(e, pod) &&
        match(e),
    )
    .sort(newestFirst)[0]
}

/** An event about this very object, not an earlier one of the same name. */
const sameUid = (event: Obj, object: Obj) => !event.involvedObject?.uid || !object.metadata.uid || event.involvedObject.uid === object.metadata.uid

/** The pod's PersistentVolumeClaims that keep it from being scheduled, each with its cause. */
function claimTrouble(pod: Obj, facts: PodFacts): string[] {
  const ns = pod.metadata.namespace ?? ''
  const claims: string[] = (pod.spec?.volumes ?? []).map((v: any) => v.persistentVolumeClaim?.claimName).filter(Boolean)
  const out: string[] = []
  for (const claim of claims) {
    const ref = `PVC ${ns}/${claim}`
    if (!facts.pvcs) continue
    const pvc = facts.pvcs.find((p) => p.metadata.name === claim && (p.metadata.namespace ?? ns) === ns)
    if (!pvc) {
      out.push(`${ref} does not exist`)
      continue
    }
    if (pvc.metadata.deletionTimestamp) {
      out.push(`${ref} is being deleted (Kubernetes keeps it while a pod uses it; delete the pod or let the deletion finish)`)
      continue
    }
    const phase = pvc.status?.phase ?? 'Pending'
    if (phase === 'Lost') {
      out.push(`${ref} is Lost: its PersistentVolume ${pvc.spec?.volumeName ?? ''} no longer exists (its data is gone; delete the PVC, then rerun 02-traefik: it makes a new one)`)
      continue
    }
    if (phase === 'Bound') {
      const pv = pvc.spec?.volumeName
      if (pv && facts.persistentVolumes && !facts.persistentVolumes.includes(pv)) {
        out.push(`${ref} is bound to PersistentVolume ${pv}, which does not exist (deleted?); delete the PVC, then rerun 02-traefik: it makes a new one`)
      }
      continue
    }
    out.push(`${ref} is ${phase}: ${pendingClaimCause(pvc, facts)}`)
  }
  return out
}

/**
 * The scheduler said a claim is bound to a PersistentVolume that does not exist, but it does: the
 * scheduler reads claims from one watch and volumes from its own cache, filled by another, and tried
 * the pod in between (a claim bound just after its volume was made). The volume's event had passed,
 * so nothing retries the pod until the scheduler's periodic retry of unschedulable pods (5 minutes).
 */
function volumeNotSeenYet(pod: Obj, facts: PodFacts): string[] {
  if (!facts.pvcs || !facts.persistentVolumes) return []
  const ns = pod.metadata.namespace ?? ''
  const claims: string[] = (pod.spec?.volumes ?? []).map((v: any) => v.persistentVolumeClaim?.claimName).filter(Boolean)
  return claims.flatMap((claim) => {
    const pvc = facts.pvcs!.find((p) => p.metadata.name === claim && (p.metadata.namespace ?? ns) === ns)
    const pv = pvc?.spec?.volumeName
    if (pvc?.status?.phase !== 'Bound' || !pv || !facts.persistentVolumes!.includes(pv)) return []
    return [
      `PVC ${ns}/${claim} is bound to PersistentVolume ${pv}, which exists: kube-scheduler had not seen the volume yet when it tried the pod ` +
        '(it retries unschedulable pods every 5 minutes; delete the pod to have its replacement scheduled now)',
    ]
  })
}

function pendingClaimCause(pvc: Obj, facts: PodFacts): string {
  const named: string | undefined = pvc.spec?.storageClassName
  const classes = facts.storageClasses
  const defaultClass = classes?.find((c) => ['true'].includes(c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class']))
  const className = named ?? defaultClass?.metadata.name
  const claimEvents = (facts.events ?? [])
    .filter((e) => e.involvedObject?.kind === 'PersistentVolumeClaim' && e.involvedObject?.name === pvc.metadata.name && sameUid(e, pvc))
    .sort(newestFirst)
  if (named === '') return 'it asks for no StorageClass (storageClassName: "") and no PersistentVolume matches it'
  if (!className) {
    return classes ? 'it names no StorageClass and the cluster has no default one' : 'it names no StorageClass'
  }
  if (classes && !classes.some((c) => c.metadata.name === className)) {
    const there = classes.map((c) => c.metadata.name)
    return `StorageClass ${className} does not exist (${there.length ? `StorageClasses there: ${there.join(', ')}` : 'the cluster has none'}; STORAGE_CLASS names the one 02 uses)`
  }
  const sc = classes?.find((c) => c.metadata.name === className)
  const provisioner: string | undefined = sc?.provisioner
  const failed = claimEvents.find((e) => e.reason === 'ProvisioningFailed')
  if (failed) return `StorageClass ${className} could not provision a volume: ${trim(failed.message)}`
  if (sc?.volumeBindingMode === 'WaitForFirstConsumer' && !pvc.metadata.annotations?.['volume.kubernetes.io/selected-node']) {
    return `StorageClass ${className} provisions once the pod has a node (WaitForFirstConsumer), and no node fits the pod`
  }
  const waiting = claimEvents.find((e) => e.reason === 'ExternalProvisioning')
  if (waiting || (provisioner && !provisioner.startsWith('kubernetes.io/'))) {
    return `StorageClass ${className} has no volume from its provisioner ${provisioner ?? '(unknown)'} yet: is ${provisioner ?? 'it'} installed and running?`
  }
  return `StorageClass ${className}${provisioner ? ` (provisioner ${provisioner})` : ''} has not provisioned a volume yet`
}

function selectorTrouble(pod: Obj, facts: PodFacts): string {
  const selector: Record<string, string> = pod.spec?.nodeSelector ?? {}
  const pairs = Object.entries(selector)
  const nodes = facts.nodes
  if (pairs.length) {
    const missing = pairs.filter(([k, v]) => !(nodes ?? []).some((n) => n.metadata.labels?.[k] === v)).map(([k, v]) => `${k}=${v}`)
    if (nodes && missing.length) return `no node has the label ${missing.join(', ')} its nodeSelector asks for (nodes: ${nodes.map((n) => n.metadata.name).join(', ') || 'none'})`
    if (!nodes) return `no node matches its nodeSelector ${pairs.map(([k, v]) => `${k}=${v}`).join(', ')}`
  }
  if (pod.spec?.affinity?.nodeAffinity) return 'no node matches its node affinity (spec.affinity.nodeAffinity)'
  return `no node matches its nodeSelector ${pairs.map(([k, v]) => `${k}=${v}`).join(', ')}`
}

/** `key: value` as the scheduler prints a taint, matched to the nodes that carry it. */
function taintTrouble(text: string, facts: PodFacts): string {
  const [key, value = ''] = text.split(/:\s*/, 2).map((s) => s.trim())
  if (key === 'node.kubernetes.io/not-ready' || key === 'node.kubernetes.io/unreachable') {
    const down = (facts.nodes ?? []).filter((n) => nodeNotReady(n)).map((n) => n.metadata.name)
    return `${down.length ? `node ${down.join(', ')} is` : 'the nodes are'} not Ready (${key})`
  }
  const carriers = (facts.nodes ?? []).flatMap((n) =>
    (n.spec?.taints ?? [])
      .filter((t: any) => t.key === key && (t.value ?? '') === value)
      .map((t: any) => ({ node: n.metadata.name, taint: `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}` })),
  )
  const taint = carriers[0]?.taint ?? `${key}${value ? `=${value}` : ''}`
  const where = carriers.length ? `node ${[...new Set(carriers.map((c) => c.node))].join(', ')} has` : 'a node has'
  return `${where} the taint ${taint}, which the pod does not tolerate (remove it: kubectl taint node ${carriers[0]?.node ?? '<node>'} ${key}-)`
}

function resourceTrouble(pod: Obj, resource: string, facts: PodFacts): string {
  const wanted = podRequest(pod, resource)
  const have = (facts.nodes ?? []).map((n) => `${n.metadata.name} has ${n.status?.allocatable?.[resource] ?? '0'} allocatable`)
  return `it requests ${resource} ${wanted ?? '(some)'}, more than any node has free${have.length ? ` (${have.join(', ')})` : ''}`
}

/** The pod's request of one resource as written: containers summed, or the largest init container's. */
function podRequest(pod: Obj, resource: string): string | undefined {
  const requests = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]
    .map((c: any) => c.resources?.requests?.[resource])
    .filter((r: unknown): r is string => r !== undefined)
  return requests.length ? requests.join(' + ') : undefined
}

/** "NotReady"/"Unknown" when the node's Ready condition is not True; false when it is. */
function nodeNotReady(node: Obj): string | false {
  const ready = (node.status?.conditions ?? []).find((c: any) => c.type === 'Ready')
  if (!ready) return 'not reporting'
  if (ready.status === 'True') return false
  return ready.status === 'Unknown' ? 'not reporting (Ready Unknown)' : 'NotReady'
}

function trim(text: string | undefined, max = 300): string {
  const one = (text ?? '').replace(/\s+/g, ' ').trim()
  return one.length > max ? `${one.slice(0, max - 3)}...` : one
}
