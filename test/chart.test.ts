/** Which chart version, which values shape, and the refusals that protect a running release. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chartShape, chartVersionOf, parseChartVersion, resolveChart, shapeForMajor, valuesForShape } from '../lib/traefik/chart.ts'
import { loadConfig } from '../lib/config/load.ts'
import { UserError } from '../lib/base/errors.ts'
import { decodeReleaseRecord, type DeployedRelease, helmDriver } from '../lib/helm/release.ts'
import { subsetDifference } from '../lib/base/objects.ts'
import { traefikValues } from '../lib/render/render.ts'
import { refuseMajorDowngrade } from '../lib/steps/traefik.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = (file: string, env: Record<string, string> = {}) =>
  loadConfig({ envFile: path.join(ROOT, 'test', 'env', 'valid', file), env, cwd: ROOT })

// ---
const shapes = suite('chart: values shape per chart major')

shapes('each major from 33 to 41 has its shape; the boundaries are 36, 39 and 40', () => {
  const expected: Record<number, string> = { 33: '33-35', 34: '33-35', 35: '33-35', 36: '36-38', 37: '36-38', 38: '36-38', 39: '39', 40: '40-41', 41: '40-41' }
  for (const [major, shape] of Object.entries(expected)) assert.is(shapeForMajor(Number(major)), shape, `major ${major}`)
})

shapes('majors outside 33-41 have no shape', () => {
  for (const major of [0, 27, 32, 42, 100]) assert.is(shapeForMajor(major), undefined, `major ${major}`)
})

shapes('versions parse with or without v and with pre-release tags', () => {
  assert.equal(parseChartVersion('v41.3.0'), { major: 41, minor: 3, patch: 0, text: '41.3.0' })
  assert.is(parseChartVersion('39.0.0-rc.1')?.major, 39)
  assert.is(parseChartVersion('latest'), undefined)
  assert.is(parseChartVersion('41.3'), undefined)
  assert.is(parseChartVersion('041.3.0'), undefined)
})

shapes("the version in helm's <name>-<version>, whatever dashes the name and the version hold", () => {
  assert.is(chartVersionOf('traefik-41.3.0')?.text, '41.3.0')
  assert.is(chartVersionOf('my-traefik-fork-39.0.0-rc.1')?.text, '39.0.0-rc.1')
  assert.is(chartVersionOf('traefik'), undefined)
})

shapes('an unknown version is refused, naming the setting, the supported range and the way out', () => {
  try {
    chartShape('42.0.0', 'TRAEFIK_CHART_VERSION', 'auto')
    assert.unreachable('42.0.0 was accepted')
  } catch (err) {
    assert.instance(err, UserError)
    assert.is((err as UserError).exitCode, 2)
    const text = [(err as UserError).message, ...(err as UserError).details].join('\n')
    assert.match(text, /TRAEFIK_CHART_VERSION/)
    assert.match(text, /33\.0\.0 to 41\.x/)
    assert.match(text, /TRAEFIK_CHART_SHAPE/)
  }
  assert.throws(() => chartShape('32.9.0', 'TRAEFIK_CHART_VERSION', 'auto'), /outside the versions this kit knows/)
})

shapes('TRAEFIK_CHART_SHAPE says explicitly which shape to write for an unknown version', () => {
  assert.is(chartShape('42.0.0', 'TRAEFIK_CHART_VERSION', '40-41'), '40-41')
})

shapes('a local chart brings its own version from Chart.yaml; a repository chart takes TRAEFIK_CHART_VERSION', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-'))
  try {
    fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: traefik\nversion: 37.1.0\n')
    const local = await resolveChart({ traefikChart: { kind: 'local', ref: dir }, traefikChartVersion: '41.3.0', traefikChartShape: 'auto' })
    assert.equal([local.ref, local.shape], ['traefik-37.1.0', '36-38'])
    assert.match(local.versionFrom, /Chart\.yaml/)
    const repo = await resolveChart({ traefikChart: { kind: 'repo', ref: 'traefik/traefik', repo: 'traefik' }, traefikChartVersion: '33.2.1', traefikChartShape: 'auto' })
    assert.equal([repo.ref, repo.shape, repo.versionFrom], ['traefik-33.2.1', '33-35', 'TRAEFIK_CHART_VERSION'])
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})

shapes('the default chart is 41.3.0', () => {
  assert.is(config('minimal.env').traefikChartVersion, '41.3.0')
})

shapes.run()

// ---
const rewrite = suite('chart: valuesForShape')
const newest = traefikValues(config('minimal.env'), '40-41')

rewrite('40-41: Service type under spec, TLS under http, phone-home under global', () => {
  assert.equal(newest.service.spec, { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false })
  assert.equal(newest.service.additionalServices.internal.spec, { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, externalTrafficPolicy: 'Local' })
  assert.ok(newest.ports.websecure.http.tls.enabled)
  assert.equal(newest.global, { checkNewVersion: false, sendAnonymousUsage: false })
  assert.is(newest.globalArguments, undefined)
})

rewrite('39: Service type back to its own key; everything else as 40-41', () => {
  const v = valuesForShape(newest, '39')
  assert.is(v.service.type, 'LoadBalancer')
  assert.equal(v.service.spec, { allocateLoadBalancerNodePorts: false })
  assert.is(v.service.additionalServices.internal.type, 'LoadBalancer')
  assert.equal(v.service.additionalServices.internal.spec, { allocateLoadBalancerNodePorts: false, externalTrafficPolicy: 'Local' })
  assert.ok(v.ports.websecure.http.tls.enabled)
  assert.equal(v.global, newest.global)
})

rewrite('36-38: per-entrypoint TLS and middlewares are ports.X.tls and ports.X.middlewares', () => {
  const v = valuesForShape(newest, '36-38')
  assert.equal(v.ports.websecure.tls, { enabled: true, certResolver: 'letsencrypt' })
  assert.is(v.ports.websecure.http, undefined)
  assert.equal(v.ports.intweb.middlewares, ['traefik-admin-allowlist@kubernetescrd'])
  assert.is(v.ports.intweb.http, undefined)
  assert.equal(v.global, newest.global)
})

rewrite('36.x and 37.0.x: the version check is also turned off by a flag (the chart ignores checkNewVersion: false there)', () => {
  for (const version of ['36.3.0', '37.0.0']) {
    assert.equal(valuesForShape(newest, '36-38', version).additionalArguments, ['--global.checknewversion=false'], version)
  }
  for (const version of ['37.1.0', '38.0.2']) assert.is(valuesForShape(newest, '36-38', version).additionalArguments, undefined, version)
  const phoneHome = traefikValues(config('full.env'), '36-38', '36.3.0')
  assert.is(phoneHome.additionalArguments, undefined)
})

rewrite('33-35: phone-home switches are globalArguments', () => {
  const v = valuesForShape(newest, '33-35')
  assert.equal(v.globalArguments, ['--global.checknewversion=false', '--global.sendanonymoususage=false'])
  assert.is(v.global, undefined)
})

rewrite('the input is not changed', () => {
  const before = JSON.stringify(newest)
  valuesForShape(newest, '33-35')
  assert.is(JSON.stringify(newest), before)
})

rewrite.run()

// ---
const downgrade = suite('chart: moving between majors')
const release = (chart: string): DeployedRelease => ({ revision: 4, status: 'deployed', chart, values: {} })

downgrade('up a major, the same major, or no release: allowed', () => {
  refuseMajorDowngrade(release('traefik-33.2.1'), '41.3.0', false)
  refuseMajorDowngrade(release('traefik-41.3.0'), '41.1.0', false)
  refuseMajorDowngrade(undefined, '33.2.1', false)
  refuseMajorDowngrade(release('traefik-fork-41.0.0-rc.1'), '41.3.0', false)
})

downgrade('down a major: refused, naming helm rollback and the flag', () => {
  try {
    refuseMajorDowngrade(release('traefik-41.3.0'), '33.2.1', false)
    assert.unreachable('the downgrade was allowed')
  } catch (err) {
    assert.instance(err, UserError)
    const text = [(err as UserError).message, ...(err as UserError).details].join('\n')
    assert.match(text, /traefik-41\.3\.0/)
    assert.match(text, /helm rollback/)
    assert.match(text, /--allow-downgrade/)
  }
})

downgrade('down a major with --allow-downgrade: allowed', () => {
  refuseMajorDowngrade(release('traefik-41.3.0'), '33.2.1', true)
})

downgrade.run()

// ---
const record = suite('helm release records read through the API')

record("helm's record field (base64 of gzipped JSON, or of plain JSON from before helm compressed) decodes to the release", () => {
  const release = { name: 'traefik', version: 3, namespace: 'traefik', info: { status: 'deployed' }, chart: { metadata: { name: 'traefik', version: '41.3.0' } } }
  assert.equal(decodeReleaseRecord(zlib.gzipSync(JSON.stringify(release)).toString('base64')), release)
  assert.equal(decodeReleaseRecord(Buffer.from(JSON.stringify(release)).toString('base64')), release)
})

record('HELM_DRIVER as helm reads it: secret by default, configmap, anything else through helm', () => {
  assert.is(helmDriver({}), 'secret')
  assert.is(helmDriver({ HELM_DRIVER: '' }), 'secret')
  assert.is(helmDriver({ HELM_DRIVER: 'secrets' }), 'secret')
  assert.is(helmDriver({ HELM_DRIVER: 'configmaps' }), 'configmap')
  assert.is(helmDriver({ HELM_DRIVER: 'sql' }), 'helm')
  assert.is(helmDriver({ HELM_DRIVER: 'memory' }), 'helm')
})

record.run()

// ---
const subset = suite('subsetDifference: what the kit sets, among what the server holds')

subset('defaults and status added by the server do not count', () => {
  assert.is(subsetDifference({ spec: { group: 'traefik.io' } }, { spec: { group: 'traefik.io', conversion: { strategy: 'None' } }, status: {} }), undefined)
})

subset('a changed, missing or reordered value counts, named by its path', () => {
  assert.is(subsetDifference({ a: 1 }, { a: 2 }), 'a')
  assert.is(subsetDifference({ a: { b: 1 } }, { a: {} }), 'a.b')
  assert.is(subsetDifference({ args: ['--x', '--y'] }, { args: ['--y', '--x'] }), 'args[0]')
  assert.is(subsetDifference({ args: ['--x'] }, { args: ['--x', '--y'] }), 'args')
})

subset.run()
