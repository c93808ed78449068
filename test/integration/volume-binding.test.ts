/**
 * The test cluster's StorageClass (test/cluster/cluster.sh, the stand-in for Longhorn's) against
 * kube-scheduler's volume binding race: with an Immediate StorageClass the PV controller binds a
 * fresh claim to the PV it just provisioned, and kube-scheduler reads the claim from its informer but
 * the PV from its own cache, filled by another event handler. A pod scheduled in between fails with
 * "pvc(s) bound to non-existent pv(s)" after the PV's event has already passed, and waits for the
 * scheduler's five-minute retry of unschedulable pods: the Traefik pod that `make test` once found
 * unschedulable for 300 s. With WaitForFirstConsumer the scheduler binds the claim itself and waits
 * for its own caches, so every pod of many claim+pod pairs made at once is scheduled at once.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, kubectl, kubectlMaybe, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  volume binding tests skipped: ${skipReason()}\n`)
const binding = suite('integration: the test cluster\'s volumes and kube-scheduler')
const it = cluster ? binding : binding.skip
const NS = 'volume-binding-race'
const PAIRS = Number(process.env.VOLUME_RACE_PAIRS ?? 30)

const pairs = (n: number) =>
  Array.from({ length: n }, (_, i) => `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim-${i}, namespace: ${NS}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-${i}, namespace: ${NS}}
spec:
  containers: [{name: c, image: example.invalid/none}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: claim-${i}}}]
`).join('')

binding.after(() => {
  if (cluster) kubectlMaybe('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s')
})

it(`${PAIRS} claims of the default StorageClass, each with a pod made at once: every pod is scheduled within 30 s`, async () => {
  kubectlMaybe('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s')
  applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`)
  applyYaml(pairs(PAIRS))
  const deadline = Date.now() + 30_000
  let waiting: string[] = []
  while (Date.now() < deadline) {
    const pods = JSON.parse(kubectl('get', 'pods', '-n', NS, '-o', 'json').stdout).items
    waiting = pods.filter((p: any) => !p.spec.nodeName).map((p: any) => p.metadata.name)
    if (pods.length === PAIRS && waiting.length === 0) break
    await new Promise((r) => setTimeout(r, 500))
  }
  const said = JSON.parse(kubectl('get', 'events', '-n', NS, '--field-selector', 'reason=FailedScheduling', '-o', 'json').stdout).items.map(
    (e: any) => `${e.involvedObject.name}: ${e.message}`,
  )
  assert.equal(waiting, [], `pods not scheduled after 30 s; the scheduler said:\n${said.join('\n')}`)
})

binding.run()
