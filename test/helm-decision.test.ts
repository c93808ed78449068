import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/load.ts'
import { decideHelmAction, differingPaths } from '../lib/helm/decide.ts'
import { chartArgs } from '../lib/helm/helm.ts'
import type { DeployedRelease } from '../lib/helm/release.ts'
import { traefikValues } from '../lib/render/render.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', 'minimal.env'), env: {}, cwd: ROOT })
const values = traefikValues(config, '40-41')
const desired = { chart: 'traefik-41.3.0', values }
const deployed = (over: Partial<DeployedRelease> = {}): DeployedRelease => ({
  revision: 3,
  status: 'deployed',
  chart: 'traefik-41.3.0',
  // helm stores values as JSON: a round trip is what `helm get values -o json` gives back
  values: JSON.parse(JSON.stringify(values)),
  ...over,
})

// ---
const decide = suite('decideHelmAction')

decide('no release: install', () => {
  assert.is(decideHelmAction(undefined, desired).action, 'install')
})

decide('same chart and values: unchanged, no new revision', () => {
  assert.equal(decideHelmAction(deployed(), desired), { action: 'unchanged', reasons: [] })
})

decide('key order does not count as a change', () => {
  const reordered = Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(values))).reverse())
  assert.is(decideHelmAction(deployed({ values: reordered }), desired).action, 'unchanged')
})

decide('another chart version: upgrade, naming both', () => {
  const decision = decideHelmAction(deployed({ chart: 'traefik-41.2.0' }), desired)
  assert.is(decision.action, 'upgrade')
  assert.equal(decision.reasons, ['chart traefik-41.2.0 -> traefik-41.3.0'])
})

decide('a changed value: upgrade, naming the key', () => {
  const changed = JSON.parse(JSON.stringify(values))
  changed.service.annotations['metallb.io/loadBalancerIPs'] = '192.168.0.250'
  const decision = decideHelmAction(deployed({ values: changed }), desired)
  assert.is(decision.action, 'upgrade')
  assert.equal(decision.reasons, ['values differ at service.annotations.metallb.io/loadBalancerIPs'])
})

decide('a value added by hand (helm upgrade --set) is a change too', () => {
  const extra = { ...JSON.parse(JSON.stringify(values)), additionalArguments: ['--api.insecure=true'] }
  assert.equal(decideHelmAction(deployed({ values: extra }), desired).reasons, ['values differ at additionalArguments'])
})

decide('a failed last revision is upgraded even when values match', () => {
  const decision = decideHelmAction(deployed({ status: 'failed' }), desired)
  assert.is(decision.action, 'upgrade')
  assert.equal(decision.reasons, ['last revision 3 is failed'])
})

for (const status of ['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling']) {
  decide(`${status}: recover first`, () => {
    const decision = decideHelmAction(deployed({ status }), desired)
    assert.is(decision.action, 'recover')
    assert.match(decision.reasons[0], new RegExp(`revision 3 is stuck in ${status}`))
  })
}

decide.run()

// ---
const paths = suite('differingPaths')

paths('lists leaf paths that differ, sorted', () => {
  assert.equal(differingPaths({ a: { b: 1, c: [1] }, d: 1 }, { a: { b: 2, c: [1, 2] }, e: 1 }), ['a.b', 'a.c', 'd', 'e'])
})

paths('equal trees have no differences', () => {
  assert.equal(differingPaths({ a: [{ b: null }] }, { a: [{ b: null }] }), [])
})

paths.run()

// ---
const args = suite('chartArgs')

args('repo and oci charts pin --version; a local chart brings its own', () => {
  assert.equal(chartArgs({ traefikChart: { kind: 'repo', ref: 'traefik/traefik', repo: 'traefik' }, traefikChartVersion: '33.2.1' }), [
    'traefik/traefik',
    '--version',
    '33.2.1',
  ])
  assert.equal(chartArgs({ traefikChart: { kind: 'oci', ref: 'oci://r/traefik' }, traefikChartVersion: '34.0.0' }), ['oci://r/traefik', '--version', '34.0.0'])
  assert.equal(chartArgs({ traefikChart: { kind: 'local', ref: '/charts/traefik' }, traefikChartVersion: '33.2.1' }), ['/charts/traefik'])
})

args.run()
