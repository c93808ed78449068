/**
 * Moving a running release between Traefik chart majors on the real test cluster: installed with the
 * 33.2.1 stand-in, moved to 41.3.0 (the default) in one run of 02: CRDs first, then the release; the
 * acme.json volume and both addresses survive; a second run changes nothing. Going back down is
 * refused, and so is a chart version the kit does not know, with nothing touched.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { helmRelease, installFakeApp, kubectl, ownedState, resetCluster, ROOT, runScript, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
if (!cluster) console.log(`\n  chart-major tests skipped: ${skipReason()}\n`)

const CHART_33 = { TRAEFIK_CHART: './test/chart/traefik-33.2.1' }
const CHART_41 = { TRAEFIK_CHART: './test/chart/traefik-41.3.0' }

const uidOf = (kind: string, name: string, ns = 'traefik') => JSON.parse(kubectl('get', kind, name, '-n', ns, '-o', 'json').stdout).metadata.uid
const lbIp = (name: string) => JSON.parse(kubectl('get', 'service', name, '-n', 'traefik', '-o', 'json').stdout).status.loadBalancer.ingress?.[0]?.ip
const crdStamps = () =>
  JSON.parse(kubectl('get', 'customresourcedefinitions', '-o', 'json').stdout)
    .items.filter((c: any) => c.spec.group === 'traefik.io')
    .map((c: any) => `${c.metadata.name}=${c.metadata.annotations?.['homelab-ingress/traefik-chart'] ?? '(none)'}`)
    .sort()

// ---
const majors = suite('integration: chart 33.2.1 -> 41.3.0 on a running release')
const it = cluster ? majors : majors.skip

majors.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
})

it('installs at 33.2.1 with values in the 33-35 shape', () => {
  const r = runScript('run-all', ['--no-probe'], CHART_33)
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /chart traefik-33\.2\.1, values shape 33-35/)
  assert.match(r.stdout, /^02-traefik: release traefik installed \(revision 1, traefik-33\.2\.1, deployed\); 10 traefik\.io CRDs updated first$/m)
  assert.ok(crdStamps().every((s: string) => s.endsWith('=traefik-33.2.1')), crdStamps().join(' '))
})

it('one run of 02 moves it to 41.3.0: CRDs first, then the release; volume and addresses kept', () => {
  const pvc = uidOf('pvc', 'traefik')
  const before = { external: lbIp('traefik'), internal: lbIp('traefik-internal') }
  assert.equal(before, { external: '127.0.0.201', internal: '127.0.0.200' })
  const revision = Number(helmRelease()!.revision)
  const r = runScript('02-traefik', [], CHART_41)
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /chart traefik-33\.2\.1 -> traefik-41\.3\.0/)
  assert.match(r.stderr, /CRD ingressroutes\.traefik\.io: differs from the chart's at spec\S* \(the cluster's came from traefik-33\.2\.1\)/)
  // The CRDs are applied before helm runs.
  assert.ok(r.stderr.indexOf('traefik.io CRDs brought up to traefik-41.3.0') < r.stderr.indexOf('upgrade --install traefik'), r.stderr)
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik upgraded \\(revision ${revision + 1}, traefik-41\\.3\\.0, deployed\\); \\d+ traefik\\.io CRDs updated first$`, 'm'))
  assert.ok(crdStamps().every((s: string) => s.endsWith('=traefik-41.3.0')), crdStamps().join(' '))
  assert.is(uidOf('pvc', 'traefik'), pvc, 'the acme.json volume was replaced')
  const verify = runScript('04-verify', ['--no-probe'], CHART_41)
  assert.is(verify.code, 0, verify.output)
  assert.equal({ external: lbIp('traefik'), internal: lbIp('traefik-internal') }, before)
  assert.match(verify.stderr, /\[ok {2}\] Traefik version running: .*v3\.7\.11 \(chart traefik-41\.3\.0\)/)
  assert.match(verify.stderr, /\[ok {2}\] traefik\.io CRDs match the release's chart: traefik-41\.3\.0/)
  assert.match(verify.stderr, /\[ok {2}\] Traefik does not phone home/)
})

it('a second run of 02 changes nothing', () => {
  const before = ownedState()
  const r = runScript('02-traefik', [], CHART_41)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^02-traefik: release traefik unchanged \(revision \d+, traefik-41\.3\.0\)$/m)
  assert.equal(ownedState(), before)
})

it('going back down a major is refused, naming helm rollback; nothing changes', () => {
  const before = ownedState()
  const r = runScript('02-traefik', [], CHART_33)
  assert.is(r.code, 2, r.output)
  assert.match(r.stderr, /refusing to move it down to major 33/)
  assert.match(r.stderr, /helm rollback traefik/)
  assert.match(r.stderr, /--allow-downgrade/)
  assert.equal(ownedState(), before)
})

it('a chart version the kit does not know is refused before anything is touched', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-42-'))
  try {
    fs.cpSync(path.join(ROOT, 'test', 'chart', 'traefik-41.3.0'), dir, { recursive: true })
    const chartYaml = path.join(dir, 'Chart.yaml')
    fs.writeFileSync(chartYaml, fs.readFileSync(chartYaml, 'utf8').replace(/^version: .*$/m, 'version: 42.0.0'))
    const before = ownedState()
    for (const args of [[], ['--dry-run']]) {
      const r = runScript('02-traefik', args, { TRAEFIK_CHART: dir })
      assert.is(r.code, 2, r.output)
      assert.match(r.stderr, /Traefik chart 42\.0\.0 is outside the versions this kit knows \(33\.0\.0 to 41\.x\)/)
      assert.match(r.stderr, /TRAEFIK_CHART_SHAPE/)
    }
    assert.equal(ownedState(), before)
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})

it("--dry-run puts the values through the chart: a shape the chart rejects fails there, nothing changed", () => {
  const before = ownedState()
  const r = runScript('02-traefik', ['--dry-run'], { ...CHART_41, TRAEFIK_CHART_SHAPE: '33-35', TRAEFIK_PHONE_HOME: 'true' })
  assert.is(r.code, 2, r.output)
  assert.match(r.stderr, /does not accept the values/)
  assert.match(r.stderr, /globalArguments/)
  assert.equal(ownedState(), before)
})

majors.run()
