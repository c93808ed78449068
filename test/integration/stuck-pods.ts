/**
 * Ways a Traefik pod gets stuck, made on the test cluster once Traefik is converged. Used by
 * stuck-pods.test.ts (04-verify against each) and test/recorded/record.ts (the objects the unit
 * tests of lib/verify/pod-trouble.ts read).
 *
 * `made` says who made the state. `scheduler`/`controllers`: the real kube-scheduler and
 * kube-controller-manager did (a nodeSelector no node matches, a taint, huge requests, a PVC whose
 * StorageClass is missing or has no provisioner, a PersistentVolume deleted under its claim).
 * `patched`: the test cluster has no kubelet (kwok stands in for it and runs no containers, pulls
 * no images, attaches no volumes), so the test writes the pod's status through the status
 * subresource and the Event as the kubelet or the attach/detach controller writes them. kwok would
 * turn a Pending pod Running again at once, so those pods stay in phase Running, as a crash-looping
 * pod is; a real image-pull or init failure is in phase Pending (the judgement reads container
 * states, not the phase).
 */
import fs from 'node:fs'
import { applyYaml, kubectl, kubectlMaybe, runScript } from './harness.ts'

export type StuckCause = {
  id: string
  made: 'scheduler' | 'controllers' | 'patched'
  /** Makes it; resolves once the Traefik pod shows it. */
  make: () => Promise<void>
  /** Back to a Ready Traefik pod (undefined: only a fresh cluster repairs it). */
  undo?: () => Promise<void>
}

const NS = 'traefik'
const SELECTOR = 'app.kubernetes.io/name=traefik'
const NODE = 'kwok-node-0'
export const MISSING_IMAGE = 'docker.io/traefik:v0.0.0-no-such-tag'

export const pods = (): any[] => JSON.parse(kubectl('get', 'pods', '-n', NS, '-l', SELECTOR, '-o', 'json').stdout).items
const current = () => pods().filter((p) => !p.metadata.deletionTimestamp)

export async function waitFor(what: string, check: () => boolean, seconds = 60): Promise<void> {
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const unschedulable = () => current().some((p) => (p.status?.conditions ?? []).some((c: any) => c.type === 'PodScheduled' && c.status === 'False'))
const patchDeployment = (patch: object) => kubectl('patch', 'deployment', 'traefik', '-n', NS, '--type=strategic', '-p', JSON.stringify(patch))
const templatePatch = (spec: object) => patchDeployment({ spec: { template: { spec } } })

/** The Deployment back to its previous template (the one 02 applied), and its pod Ready. */
async function rollBack(): Promise<void> {
  kubectl('rollout', 'undo', 'deployment/traefik', '-n', NS)
  await traefikReady()
}

export async function traefikReady(): Promise<void> {
  kubectl('rollout', 'status', 'deployment/traefik', '-n', NS, '--timeout=90s')
  await waitFor('one Ready Traefik pod and no other', () => {
    const all = pods()
    return all.length === 1 && (all[0].status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  })
}

/** A running Traefik pod's status as the kubelet would write it (strategic merge: conditions by type). */
function patchPodStatus(pod: any, status: object): void {
  kubectl('patch', 'pod', pod.metadata.name, '-n', NS, '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status }))
}

/** An Event about the pod, as `component` (kubelet, attachdetach-controller) reports it. */
function podEvent(pod: any, component: string, reason: string, message: string, count = 1): void {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  applyYaml(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${reason.toLowerCase()}.test`, namespace: NS },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace: NS, uid: pod.metadata.uid, ...(component === 'kubelet' ? { fieldPath: 'spec.containers{traefik}' } : {}) },
      reason,
      message,
      type: 'Warning',
      source: component === 'kubelet' ? { component, host: NODE } : { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count,
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? NODE : '',
    }),
  )
}

const notReady = (containers: string) => [
  { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${containers}]` },
  { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${containers}]` },
]

/** A claim for the pod's `data` volume that cannot bind, and the Deployment pointed at it. */
async function stuckClaim(storageClass: string): Promise<void> {
  applyYaml(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: traefik-stuck, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${storageClass}
  resources: {requests: {storage: 128Mi}}
`)
  templatePatch({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'traefik-stuck' } }] })
  await waitFor('the new pod unschedulable', unschedulable)
}

export const STUCK_CAUSES: StuckCause[] = [
  {
    id: 'node-selector',
    made: 'scheduler',
    make: async () => {
      templatePatch({ nodeSelector: { 'homelab-ingress.test/pool': 'nowhere' } })
      await waitFor('the new pod unschedulable', unschedulable)
    },
    undo: rollBack,
  },
  {
    id: 'taint',
    made: 'scheduler',
    make: async () => {
      kubectl('taint', 'node', NODE, 'homelab-ingress.test/maintenance=yes:NoSchedule')
      kubectl('delete', 'pods', '-n', NS, '-l', SELECTOR, '--wait=false')
      await waitFor('the new pod unschedulable', unschedulable)
    },
    undo: async () => {
      kubectlMaybe('taint', 'node', NODE, 'homelab-ingress.test/maintenance-')
      await traefikReady()
    },
  },
  {
    id: 'resources',
    made: 'scheduler',
    make: async () => {
      templatePatch({ containers: [{ name: 'traefik', resources: { requests: { cpu: '4096' } } }] })
      await waitFor('the new pod unschedulable', unschedulable)
    },
    undo: rollBack,
  },
  {
    id: 'storage-class-missing',
    made: 'controllers',
    make: () => stuckClaim('no-such-class'),
    undo: async () => {
      await rollBack()
      kubectlMaybe('delete', 'pvc', 'traefik-stuck', '-n', NS, '--wait=true')
    },
  },
  {
    id: 'no-provisioner',
    made: 'controllers',
    make: async () => {
      applyYaml(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: nobody-provisions}
provisioner: storage.example.com/nobody
`)
      await stuckClaim('nobody-provisions')
      const waiting = () =>
        JSON.parse(kubectl('get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=traefik-stuck', '-o', 'json').stdout).items.some(
          (e: any) => e.reason === 'ExternalProvisioning',
        )
      await waitFor("the PV controller's ExternalProvisioning event", waiting)
    },
    undo: async () => {
      await rollBack()
      kubectlMaybe('delete', 'pvc', 'traefik-stuck', '-n', NS, '--wait=true')
      kubectlMaybe('delete', 'storageclass', 'nobody-provisions')
    },
  },
  {
    id: 'image-pull',
    made: 'patched',
    make: async () => {
      templatePatch({ containers: [{ name: 'traefik', image: MISSING_IMAGE }] })
      await traefikReady() // kwok "runs" any image; the status below is what a kubelet reports
      const pod = current()[0]
      podEvent(pod, 'kubelet', 'Failed', `Failed to pull image "${MISSING_IMAGE}": rpc error: code = NotFound desc = failed to pull and unpack image "${MISSING_IMAGE}": failed to resolve reference "${MISSING_IMAGE}": ${MISSING_IMAGE}: not found`)
      podEvent(pod, 'kubelet', 'BackOff', `Back-off pulling image "${MISSING_IMAGE}"`, 4)
      patchPodStatus(pod, {
        conditions: notReady('traefik'),
        containerStatuses: [{ name: 'traefik', image: MISSING_IMAGE, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${MISSING_IMAGE}"` } } }],
      })
    },
    undo: rollBack,
  },
  {
    id: 'crash-loop',
    made: 'patched',
    make: async () => {
      const pod = current()[0]
      podEvent(pod, 'kubelet', 'BackOff', 'Back-off restarting failed container traefik in pod ' + `${pod.metadata.name}_${NS}(${pod.metadata.uid})`, 9)
      const image = pod.spec.containers[0].image
      patchPodStatus(pod, {
        conditions: notReady('traefik'),
        containerStatuses: [
          {
            name: 'traefik',
            image,
            ready: false,
            restartCount: 5,
            started: false,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 2m40s restarting failed container=traefik pod=${pod.metadata.name}_${NS}(${pod.metadata.uid})` } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: new Date(Date.now() - 3000).toISOString().replace(/\.\d+Z$/, 'Z'), finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
          },
        ],
      })
    },
    // a new pod: the kubelet (kwok) reports it Running and Ready
    undo: async () => {
      kubectl('delete', 'pods', '-n', NS, '-l', SELECTOR, '--wait=false')
      await traefikReady()
    },
  },
  {
    id: 'init-container',
    made: 'patched',
    make: async () => {
      const pod = current()[0]
      const init = pod.spec.initContainers?.[0]
      if (!init) throw new Error('the Traefik pod has no init container (the kit renders volume-permissions)')
      patchPodStatus(pod, {
        conditions: [{ type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: `containers with incomplete status: [${init.name}]` }, ...notReady('traefik')],
        initContainerStatuses: [
          {
            name: init.name,
            image: init.image,
            ready: false,
            restartCount: 3,
            started: false,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 40s restarting failed container=${init.name} pod=${pod.metadata.name}_${NS}(${pod.metadata.uid})` } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: new Date(Date.now() - 2000).toISOString().replace(/\.\d+Z$/, 'Z'), finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
          },
        ],
        containerStatuses: [{ name: 'traefik', image: pod.spec.containers[0].image, ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'PodInitializing' } } }],
      })
    },
    undo: async () => {
      kubectl('delete', 'pods', '-n', NS, '-l', SELECTOR, '--wait=false')
      await traefikReady()
    },
  },
  {
    id: 'multi-attach',
    made: 'patched',
    make: async () => {
      const pod = current()[0]
      const claim = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', NS, '-o', 'json').stdout)
      // as the attach/detach controller reports a ReadWriteOnce volume still attached for the old pod
      podEvent(pod, 'attachdetach-controller', 'FailedAttachVolume', `Multi-Attach error for volume "${claim.spec.volumeName}" Volume is already used by pod(s) traefik-5d8f7c6b9-old01`)
      patchPodStatus(pod, {
        conditions: notReady('traefik'),
        containerStatuses: [{ name: 'traefik', image: pod.spec.containers[0].image, ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } } }],
      })
    },
    undo: async () => {
      kubectl('delete', 'pods', '-n', NS, '-l', SELECTOR, '--wait=false')
      await traefikReady()
    },
  },
  {
    // A PersistentVolume deleted under its claim (by hand, or by a storage system that lost it).
    id: 'volume-lost',
    made: 'controllers',
    make: async () => {
      const claim = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', NS, '-o', 'json').stdout)
      const pv = JSON.parse(kubectl('get', 'pv', claim.spec.volumeName, '-o', 'json').stdout)
      // deleted first, then its finalizers dropped: no controller can add one back once it is being deleted
      kubectl('delete', 'pv', pv.metadata.name, '--wait=false')
      kubectl('patch', 'pv', pv.metadata.name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}')
      if (pv.spec.hostPath?.path?.startsWith('/tmp/hostpath_pv/')) fs.rmSync(pv.spec.hostPath.path, { recursive: true, force: true })
      await waitFor('the claim Lost', () => JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', NS, '-o', 'json').stdout).status?.phase === 'Lost')
      kubectl('delete', 'pods', '-n', NS, '-l', SELECTOR, '--wait=false')
      await waitFor('the new pod unschedulable', unschedulable)
    },
    // what 04 tells the user to do
    undo: async () => {
      kubectl('delete', 'pvc', 'traefik', '-n', NS, '--wait=true', '--timeout=60s')
      const r = runScript('02-traefik')
      if (r.code !== 0) throw new Error(r.output)
      await traefikReady()
    },
  },
]
