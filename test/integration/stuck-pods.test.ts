/**
 * 04-verify names why a Traefik pod is not Ready, for each way test/integration/stuck-pods.ts makes
 * one stuck on the real test cluster: the scheduler's and the volume controllers' own verdicts, and
 * (no kubelet here) container states written as a kubelet writes them. The expected words are what
 * a user should read; the progress lines of the wait say it too.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { installFakeApp, kubectlMaybe, resetCluster, runScript, testCluster } from './harness.ts'
import { MISSING_IMAGE, STUCK_CAUSES } from './stuck-pods.ts'

const cluster = testCluster()
const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** What the pods check says, after `0/1 ready: traefik-...: `. */
const EXPECTED: Record<string, RegExp> = {
  'node-selector': /not scheduled: no node has the label homelab-ingress\.test\/pool=nowhere its nodeSelector asks for \(nodes: kwok-node-0\) \(scheduler: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector\.\)/,
  taint: /not scheduled: node kwok-node-0 has the taint homelab-ingress\.test\/maintenance=yes:NoSchedule, which the pod does not tolerate \(remove it: kubectl taint node kwok-node-0 homelab-ingress\.test\/maintenance-\)/,
  resources: /not scheduled: it requests cpu 4096, more than any node has free \(kwok-node-0 has 32 allocatable\) \(scheduler: 0\/1 nodes are available: 1 Insufficient cpu\.\)/,
  'storage-class-missing': /not scheduled: PVC traefik\/traefik-stuck is Pending: StorageClass no-such-class does not exist \(StorageClasses there: longhorn; STORAGE_CLASS names the one 02 uses\)/,
  'no-provisioner': /not scheduled: PVC traefik\/traefik-stuck is Pending: StorageClass nobody-provisions has no volume from its provisioner storage\.example\.com\/nobody yet: is storage\.example\.com\/nobody installed and running\?/,
  'image-pull': new RegExp(`container traefik cannot pull its image ${esc(MISSING_IMAGE)} \\(ImagePullBackOff\\): Failed to pull image "${esc(MISSING_IMAGE)}": rpc error: code = NotFound`),
  // kwok serves no container logs: the report says the log could not be read, with the answer it got through the API
  'crash-loop': /container traefik keeps crashing \(CrashLoopBackOff, restarted 5 times\); last exit code 1 \(Error\); its log cannot be read: the API server answered 400 BadRequest: no logs found for container "traefik" in pod "traefik\/traefik-[a-z0-9]+-[a-z0-9]+"/,
  'init-container': /init container volume-permissions keeps crashing \(CrashLoopBackOff, restarted 3 times\); last exit code 1 \(Error\); its log cannot be read: the API server answered 400 BadRequest: no logs found for container "volume-permissions"/,
  'multi-attach': /a volume cannot be attached: Multi-Attach error for volume "pvc-[0-9a-f-]+" Volume is already used by pod\(s\) traefik-5d8f7c6b9-old01 \(a ReadWriteOnce volume is still attached for another pod/,
  'volume-lost': /not scheduled: PVC traefik\/traefik is Lost: its PersistentVolume pvc-[0-9a-f-]+ no longer exists \(its data is gone; delete the PVC, then rerun 02-traefik: it makes a new one\) \(scheduler: 0\/1 nodes are available: persistentvolumeclaim "traefik" bound to non-existent persistentvolume "pvc-[0-9a-f-]+"\.\)/,
}

// ---
const stuck = suite('integration: 04-verify says why a Traefik pod is not Ready')
const st = cluster ? stuck : stuck.skip

stuck.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
})

stuck.after(() => {
  if (!cluster) return
  kubectlMaybe('taint', 'node', 'kwok-node-0', 'homelab-ingress.test/maintenance-')
  kubectlMaybe('delete', 'storageclass', 'nobody-provisions', '--ignore-not-found')
  resetCluster()
})

for (const cause of STUCK_CAUSES) {
  const how = cause.made === 'patched' ? 'pod status patched as a kubelet writes it' : `made by the real ${cause.made}`
  st(`${cause.id} (${how})`, async () => {
    await cause.make()
    try {
      const r = runScript('04-verify', ['--json', '--no-probe', '--timeout', '5'])
      assert.is(r.code, 1, r.output)
      const check = JSON.parse(r.stdout).checks.find((c: any) => c.name === 'Traefik pods Running and Ready')
      assert.is(check.status, 'fail')
      assert.match(check.detail, new RegExp(`^0/1 ready: traefik-[a-z0-9]+-[a-z0-9]+: ${EXPECTED[cause.id].source}`), check.detail)
      // while it waited, the progress lines said it (first line of the reason only)
      const progress = r.stderr.split('\n').filter((l) => l.includes('... waiting for Traefik: '))
      assert.ok(progress.some((l) => EXPECTED[cause.id].test(l)), r.stderr)
    } finally {
      await cause.undo?.()
    }
  })
}

stuck.run()
