/**
 * Why a Traefik pod is not Ready, judged on objects recorded from the test cluster
 * (test/recorded/stuck-pods.json, made by test/integration/stuck-pods.ts: the scheduler's and
 * volume controllers' own verdicts, and container states patched as a kubelet writes them).
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { containersToLog, logKey, type PodFacts, podsCheck, podTrouble } from '../lib/verify/pod-trouble.ts'

const recorded = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'recorded', 'stuck-pods.json'), 'utf8'))
const cause = (id: string) => {
  const c = recorded.causes[id]
  const facts: PodFacts = { events: c.events, pvcs: c.pvcs, storageClasses: c.storageClasses, nodes: c.nodes, persistentVolumes: c.persistentVolumes }
  return { pod: c.pods[0], facts }
}
const why = (id: string, over: Partial<PodFacts> = {}) => {
  const { pod, facts } = cause(id)
  return podTrouble(pod, { ...facts, ...over })
}

// ---
const scheduling = suite('pod trouble: not scheduled, by predicate (made by the real scheduler and volume controllers)')

scheduling('a nodeSelector no node matches: the label it asks for, and the nodes there', () => {
  assert.match(why('node-selector'), /^not scheduled: no node has the label homelab-ingress\.test\/pool=nowhere its nodeSelector asks for \(nodes: kwok-node-0\) \(scheduler: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector\.\)$/)
})

scheduling('before the nodes are read, the selector alone', () => {
  assert.match(why('node-selector', { nodes: undefined }), /^not scheduled: no node matches its nodeSelector homelab-ingress\.test\/pool=nowhere \(scheduler: /)
})

scheduling('a taint: which node, the whole taint, and how to remove it', () => {
  assert.match(why('taint'), /^not scheduled: node kwok-node-0 has the taint homelab-ingress\.test\/maintenance=yes:NoSchedule, which the pod does not tolerate \(remove it: kubectl taint node kwok-node-0 homelab-ingress\.test\/maintenance-\) \(scheduler: 0\/1 nodes are available: 1 node\(s\) had untolerated taint/)
})

scheduling('huge requests: what it asks for and what the nodes have', () => {
  assert.match(why('resources'), /^not scheduled: it requests cpu 4096, more than any node has free \(kwok-node-0 has 32 allocatable\) \(scheduler: 0\/1 nodes are available: 1 Insufficient cpu\.\)$/)
})

scheduling("a claim whose StorageClass does not exist: named, with the ones there", () => {
  assert.match(why('storage-class-missing'), /^not scheduled: PVC traefik\/traefik-stuck is Pending: StorageClass no-such-class does not exist \(StorageClasses there: longhorn; STORAGE_CLASS names the one 02 uses\) \(scheduler: 0\/1 nodes are available: pod has unbound immediate PersistentVolumeClaims\.\)$/)
})

scheduling('a claim whose StorageClass has no provisioner running; the events of an earlier claim of the same name do not count', () => {
  const text = why('no-provisioner')
  assert.match(text, /^not scheduled: PVC traefik\/traefik-stuck is Pending: StorageClass nobody-provisions has no volume from its provisioner storage\.example\.com\/nobody yet: is storage\.example\.com\/nobody installed and running\?/)
  const { facts } = cause('no-provisioner')
  assert.ok(facts.events!.some((e) => e.reason === 'ProvisioningFailed' && /no-such-class/.test(e.message)), 'the recording holds the earlier claim\'s event')
  assert.not.match(text, /no-such-class/)
})

scheduling('a claim whose volume was deleted (Lost): what to do', () => {
  assert.match(why('volume-lost'), /^not scheduled: PVC traefik\/traefik is Lost: its PersistentVolume pvc-[0-9a-f-]+ no longer exists \(its data is gone; delete the PVC, then rerun 02-traefik: it makes a new one\) \(scheduler: 0\/1 nodes are available: persistentvolumeclaim "traefik" bound to non-existent persistentvolume "pvc-[0-9a-f-]+"\.\)$/)
})

scheduling('a Bound claim whose volume is gone from the list (the scheduler says "bound to non-existent pv")', () => {
  const { pod, facts } = cause('volume-lost')
  const claims = facts.pvcs!.map((c) => ({ ...c, status: { ...c.status, phase: 'Bound' } }))
  assert.match(podTrouble(pod, { ...facts, pvcs: claims }), /PVC traefik\/traefik is bound to PersistentVolume pvc-[0-9a-f-]+, which does not exist \(deleted\?\)/)
})

scheduling('a Bound claim whose volume exists although the scheduler said "bound to non-existent pv(s)": the scheduler had not seen it yet', () => {
  const { pod, facts } = cause('volume-lost')
  const claims = facts.pvcs!.map((c) => ({ ...c, status: { ...c.status, phase: 'Bound' } }))
  const volume = claims[0].spec.volumeName
  // the scheduler's words when its volume cache lags its claims (volumebinding's ErrReasonPVNotExist)
  const said = '0/1 nodes are available: 1 node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.'
  const unscheduled = { ...pod, status: { ...pod.status, conditions: pod.status.conditions.map((c: any) => (c.type === 'PodScheduled' ? { ...c, message: said } : c)) } }
  const text = podTrouble(unscheduled, { ...facts, pvcs: claims, persistentVolumes: [...facts.persistentVolumes!, volume] })
  assert.match(text, new RegExp(`^not scheduled: PVC traefik/traefik is bound to PersistentVolume ${volume}, which exists: kube-scheduler had not seen the volume yet when it tried the pod \\(it retries unschedulable pods every 5 minutes; delete the pod to have its replacement scheduled now\\) \\(scheduler: 0/1 nodes are available: 1 node\\(s\\) unavailable due to one or more pvc\\(s\\) bound to non-existent pv\\(s\\)\\.\\)$`))
  // and when the volume really is gone, that is what it says
  assert.match(podTrouble(unscheduled, { ...facts, pvcs: claims }), /is bound to PersistentVolume pvc-[0-9a-f-]+, which does not exist \(deleted\?\)/)
})

scheduling('facts not read yet: the scheduler\'s own words, never a guess', () => {
  const { pod } = cause('storage-class-missing')
  assert.is(podTrouble(pod, {}), 'not scheduled: a PersistentVolumeClaim it uses is not bound yet (scheduler: 0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.)')
})

scheduling.run()

// ---
const containers = suite('pod trouble: containers (status patched as a kubelet writes it: the test cluster has none)')

containers("an image that cannot be pulled: the image and the registry's answer from the kubelet's event", () => {
  assert.match(why('image-pull'), /^container traefik cannot pull its image docker\.io\/traefik:v0\.0\.0-no-such-tag \(ImagePullBackOff\): Failed to pull image "docker\.io\/traefik:v0\.0\.0-no-such-tag": rpc error: code = NotFound desc = failed to pull and unpack image/)
})

containers('a crash loop: restarts, exit code, and the last log lines of the crashed instance', () => {
  const { pod } = cause('crash-loop')
  assert.equal(containersToLog(pod), [{ container: 'traefik', previous: true }])
  const lines = ['2026-11-26T12:00:00Z INF Traefik version 3.6.2', 'line 2', 'line 3', 'line 4', '', 'line 5', '2026-11-26T12:00:01Z ERR command traefik error: error while building entryPoint intweb: listen tcp :8001: bind: permission denied']
  const text = why('crash-loop', { logs: { [logKey(pod, 'traefik')]: { lines } } })
  assert.is(
    text,
    'container traefik keeps crashing (CrashLoopBackOff, restarted 5 times); last exit code 1 (Error); last log lines:\n' +
      '      | line 2\n      | line 3\n      | line 4\n      | line 5\n' +
      '      | 2026-11-26T12:00:01Z ERR command traefik error: error while building entryPoint intweb: listen tcp :8001: bind: permission denied',
  )
})

containers('a crash loop whose log cannot be read says so, with the answer', () => {
  const { pod } = cause('crash-loop')
  const text = why('crash-loop', { logs: { [logKey(pod, 'traefik')]: { unavailable: 'the API server answered 404 NotFound: the server could not find the requested resource' } } })
  assert.match(text, /; its log cannot be read: the API server answered 404 NotFound: the server could not find the requested resource$/)
  assert.match(why('crash-loop'), /restarted 5 times\); last exit code 1 \(Error\)$/, 'logs not read yet: nothing said about them')
})

containers('a failing init container is named before the containers that wait for it', () => {
  const { pod } = cause('init-container')
  assert.equal(containersToLog(pod), [{ container: 'volume-permissions', previous: true }])
  assert.is(why('init-container'), 'init container volume-permissions keeps crashing (CrashLoopBackOff, restarted 3 times); last exit code 1 (Error)')
})

containers("a volume another pod still holds (Multi-Attach): the controller's words and what it means", () => {
  assert.match(why('multi-attach'), /^a volume cannot be attached: Multi-Attach error for volume "pvc-[0-9a-f-]+" Volume is already used by pod\(s\) traefik-5d8f7c6b9-old01 \(a ReadWriteOnce volume is still attached for another pod, usually the previous Traefik pod on another node; it is released once that pod is gone\)$/)
})

containers('the events of an earlier pod of the same name do not count', () => {
  const { pod, facts } = cause('multi-attach')
  const other = { ...pod, metadata: { ...pod.metadata, uid: 'another-pod-uid' } }
  assert.is(podTrouble(other, facts), 'container traefik is being created (ContainerCreating)')
})

containers.run()

// ---
const others = suite('pod trouble: hand-written states the test cluster cannot make')
const base = cause('crash-loop').pod
const withStatus = (status: object, metadata: object = {}) => ({ ...base, metadata: { ...base.metadata, ...metadata }, status })

others('a readiness probe that fails: the kubelet\'s event', () => {
  const pod = withStatus({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'traefik', ready: false, started: true, restartCount: 0, state: { running: {} } }] })
  const events = [{ metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: base.metadata.name, uid: base.metadata.uid }, reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', lastTimestamp: '2026-11-26T12:00:00Z' }]
  assert.is(podTrouble(pod, { events }), 'container traefik runs but is not ready: Readiness probe failed: HTTP probe failed with statuscode: 503')
})

others('its node stopped reporting', () => {
  const pod = withStatus({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'traefik', ready: true, restartCount: 0, state: { running: {} } }] })
  const nodes = [{ metadata: { name: base.spec.nodeName }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }] } }]
  assert.is(podTrouble(pod, { nodes }), `its node ${base.spec.nodeName} is not reporting (Ready Unknown): nothing there reports the pod's state`)
})

others('evicted, and being deleted', () => {
  assert.is(podTrouble(withStatus({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: ephemeral-storage.' })), 'Failed (Evicted): The node was low on resource: ephemeral-storage.')
  assert.is(podTrouble(withStatus({ phase: 'Running' }, { deletionTimestamp: '2026-11-26T12:00:00Z' })), 'being deleted (since 2026-11-26T12:00:00Z)')
})

others('two stuck pods, one with log lines: one pod per line', () => {
  const { pod } = cause('crash-loop')
  const second = { ...pod, metadata: { ...pod.metadata, name: 'traefik-other' } }
  const check = podsCheck([pod, second], { logs: { [logKey(pod, 'traefik')]: { lines: ['boom'] } } })
  assert.is(check.status, 'fail')
  assert.is(check.detail.split('\n').filter((l) => l.startsWith('    traefik-other: ')).length, 1, check.detail)
  assert.match(check.detail, /^0\/2 ready: traefik-[a-z0-9-]+: container traefik keeps crashing/)
})

others.run()

// ---
const older = suite("pod trouble: the scheduler's older wording")

older('"had taint {k: v}, that the pod didn\'t tolerate" (Kubernetes before 1.25) names the taint too', () => {
  const { pod, facts } = cause('taint')
  const said = '0/1 nodes are available: 1 node(s) had taint {homelab-ingress.test/maintenance: yes}, that the pod didn\'t tolerate.'
  const old = { ...pod, status: { ...pod.status, conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: said }] } }
  assert.match(podTrouble(old, facts), /^not scheduled: node kwok-node-0 has the taint homelab-ingress\.test\/maintenance=yes:NoSchedule, which the pod does not tolerate/)
})

older.run()
