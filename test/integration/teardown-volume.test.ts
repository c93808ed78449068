/**
 * The acme.json volume outlives the release (helm keeps it), so teardown --purge must tell the kit's
 * volume from another one of the same name by the volume itself: on the real test cluster.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, helm, installFakeApp, kubectl, kubectlMaybe, resetCluster, runScript, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  teardown-volume tests skipped: ${skipReason()}\n`)
const volume = suite('integration: teardown --purge and a volume named like the kit\'s')
const it = cluster ? volume : volume.skip
const uidOf = () => JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid

it("someone else's volume, no release: teardown --purge leaves it and says so", () => {
  resetCluster()
  applyYaml(`apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: traefik, namespace: traefik, labels: {app: someone-elses}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
`)
  const before = uidOf()
  const r = runScript('99-teardown', ['--purge'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /left alone: PersistentVolumeClaim traefik\/traefik \(not created by this configuration\)/)
  assert.is(uidOf(), before)
  kubectl('delete', 'pvc', 'traefik', '-n', 'traefik', '--wait=true')
})

it("the kit's own volume, its release already gone: teardown --purge deletes it", () => {
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  installFakeApp('longhorn-system', 'longhorn-frontend', 80)
  const up = runScript('run-all', ['--no-probe'])
  assert.is(up.code, 0, up.output)
  helm('uninstall', 'traefik', '-n', 'traefik')
  assert.ok(uidOf())
  const r = runScript('99-teardown', ['--purge'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /PersistentVolumeClaim traefik\/traefik: deleted/)
  assert.is(kubectlMaybe('get', 'pvc', 'traefik', '-n', 'traefik').code, 1)
})

volume.run()
