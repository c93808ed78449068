/**
 * helm keeps its release records where HELM_DRIVER says; the kit reads them there (lib/helm/release.ts),
 * with the real helm on the test cluster: ConfigMaps, and through helm itself for any other driver.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config/load.ts'
import { connectCluster } from '../../lib/kube/cluster.ts'
import { readRelease, readReleaseWithHelm } from '../../lib/helm/release.ts'
import { ENV_FILE, installFakeApp, kubectl, resetCluster, ROOT, runScript, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  helm-driver tests skipped: ${skipReason()}\n`)
const drivers = suite('integration: the release read where HELM_DRIVER keeps it')
const it = cluster ? drivers : drivers.skip
const records = (kind: string) => kubectl('get', kind, '-n', 'traefik', '-l', 'owner=helm,name=traefik', '-o', 'name').stdout.trim()

drivers.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  installFakeApp('longhorn-system', 'longhorn-frontend', 80)
})

it('HELM_DRIVER=configmap: installed once, its records in ConfigMaps, a rerun changes nothing, teardown removes it', () => {
  const env = { HELM_DRIVER: 'configmap' }
  const up = runScript('run-all', ['--no-probe'], env)
  assert.is(up.code, 0, up.output)
  assert.match(records('configmaps'), /configmap\/sh\.helm\.release\.v1\.traefik\.v1/)
  assert.is(records('secrets'), '')
  const again = runScript('02-traefik', [], env)
  assert.is(again.code, 0, again.output)
  assert.match(again.stdout, /^02-traefik: release traefik unchanged \(revision 1, /m)
  const down = runScript('99-teardown', [], env)
  assert.is(down.code, 0, down.output)
  assert.match(down.stderr, /release traefik\/traefik: deleted/)
  assert.is(records('configmaps'), '')
})

it('any other driver, through helm itself: the same release as its stored record says, but no labels', async () => {
  const up = runScript('run-all', ['--no-probe'])
  assert.is(up.code, 0, up.output)
  Object.assign(process.env, { KUBECONFIG: cluster!.env.KUBECONFIG, PATH: cluster!.env.PATH })
  const kube = connectCluster(loadConfig({ envFile: ENV_FILE, env: {}, cwd: ROOT }), 'homelab-test')
  const stored = await readRelease(kube, 'traefik', 'traefik')
  const shown = await readReleaseWithHelm(kube, 'traefik', 'traefik')
  assert.ok(stored && shown)
  assert.equal(
    { revision: shown!.revision, status: shown!.status, chart: shown!.chart, values: shown!.values, manifest: shown!.manifest!.trim(), appVersion: shown!.appVersion },
    { revision: stored!.revision, status: stored!.status, chart: stored!.chart, values: stored!.values, manifest: stored!.manifest!.trim(), appVersion: stored!.appVersion },
  )
  assert.is(new Date(shown!.lastDeployed!).getTime(), new Date(stored!.lastDeployed!).getTime())
  assert.is(shown!.labels, undefined)
  assert.is(await readReleaseWithHelm(kube, 'traefik', 'no-such-release'), undefined)
})

drivers.run()
