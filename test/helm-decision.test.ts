import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/load.ts'
import { decideHelmAction, differingPaths, type HelmOperation, judgePendingRelease, parseHelmOperation, PENDING_GRACE_SECONDS, recoveryFor } from '../lib/helm/decide.ts'
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
const pending = suite('a pending release: repaired at once when the kit wrote it and is gone, else left alone while recent')
const now = new Date(Date.UTC(2026, 10, 26, 12, 0, 0))
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString()
// helm's own time format: nanoseconds and the local offset
const helmTime = (seconds: number) => ago(seconds).replace(/\.(\d{3})Z$/, '.$1456789+00:00')
const stuck = (secondsAgo: number, over: Partial<DeployedRelease> = {}) => deployed({ revision: 5, status: 'pending-upgrade', lastDeployed: helmTime(secondsAgo), ...over })
const where = { namespace: 'traefik', name: 'traefik' }
const kitUpgrade = (startedSecondsAgo: number, over: Partial<HelmOperation> = {}): HelmOperation => ({
  release: 'traefik',
  namespace: 'traefik',
  revision: 5,
  status: 'pending-upgrade',
  holder: '02-traefik pid 4242 on laptop',
  started: ago(startedSecondsAgo),
  ...over,
})
const text = (v: ReturnType<typeof judgePendingRelease>) => (v.repair ? v.reason : [v.message, ...v.hints].join('\n'))

pending('written by no kit run and younger than the bound: refused, naming the revision, its age and --force', () => {
  const verdict = judgePendingRelease(stuck(130), where, { now, force: false })
  assert.is(verdict.repair, false)
  assert.match(text(verdict), /revision 5 has been pending-upgrade for 2m10s only: another helm operation may still be running on it/)
  assert.match(text(verdict), /--force/)
})

pending('written by no kit run: old enough, or forced, repaired', () => {
  assert.is(judgePendingRelease(stuck(PENDING_GRACE_SECONDS + 1), where, { now, force: false }).repair, true)
  assert.is(judgePendingRelease(stuck(5), where, { now, force: true }).repair, true)
})

pending("the kit's own run wrote it and is gone: repaired at once, saying whose it was", () => {
  const verdict = judgePendingRelease(stuck(3), where, { now, force: false, operation: kitUpgrade(4), writer: { gone: true, why: 'its process (pid 4242) no longer runs on this machine' } })
  assert.is(verdict.repair, true)
  assert.match(text(verdict), /revision 5 \(pending-upgrade\) was left by 02-traefik pid 4242 on laptop, which is gone \(its process \(pid 4242\) no longer runs on this machine\)/)
})

pending("the kit's own run wrote it and still runs (stopped?): refused, saying so", () => {
  const verdict = judgePendingRelease(stuck(3), where, { now, force: false, operation: kitUpgrade(4), writer: { gone: false, why: 'pid 4242 still runs on this machine' } })
  assert.is(verdict.repair, false)
  assert.match(text(verdict), /is being written by 02-traefik pid 4242 on laptop, which is not gone: pid 4242 still runs/)
})

pending("a note that does not match the pending revision accounts for nothing: another revision, status, release, or a write long after the kit's start", () => {
  const gone = { gone: true, why: 'its lease expired' }
  for (const operation of [
    kitUpgrade(4, { revision: 4 }),
    kitUpgrade(4, { status: 'pending-rollback' }),
    kitUpgrade(4, { release: 'other' }),
    kitUpgrade(4, { namespace: 'elsewhere' }),
    kitUpgrade(3600), // the note of a run an hour ago; this revision was written 3 s ago
    kitUpgrade(-60), // the kit started a minute after helm wrote it
  ]) {
    const verdict = judgePendingRelease(stuck(3), where, { now, force: false, operation, writer: gone })
    assert.is(verdict.repair, false, JSON.stringify(operation))
    assert.match(text(verdict), /another helm operation may still be running/)
  }
})

pending('an interrupted uninstall is matched by the time helm began it', () => {
  const release = stuck(3, { status: 'uninstalling', lastDeployed: helmTime(3600), deleted: helmTime(2) })
  const verdict = judgePendingRelease(release, where, { now, force: false, operation: kitUpgrade(3, { status: 'uninstalling' }), writer: { gone: true, why: 'its lease expired' } })
  assert.is(verdict.repair, true, text(verdict))
})

pending('the note survives a round trip; anything else reads as no note', () => {
  assert.equal(parseHelmOperation(JSON.stringify(kitUpgrade(1, { helmPid: 77 }))), kitUpgrade(1, { helmPid: 77 }))
  assert.is(parseHelmOperation('{"release":"traefik"}'), undefined)
  assert.is(parseHelmOperation('not json'), undefined)
  assert.is(parseHelmOperation(undefined), undefined)
})

pending('recovery: roll back to the previous revision (writing the next one), or uninstall a first install', () => {
  assert.equal(recoveryFor({ revision: 5, status: 'pending-upgrade' }), { action: 'rollback', to: 4, writes: { revision: 6, status: 'pending-rollback' } })
  assert.equal(recoveryFor({ revision: 1, status: 'pending-install' }), { action: 'uninstall', writes: { revision: 1, status: 'uninstalling' } })
  assert.equal(recoveryFor({ revision: 5, status: 'uninstalling' }), { action: 'uninstall', writes: { revision: 5, status: 'uninstalling' } })
})

pending.run()

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
