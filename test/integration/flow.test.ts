/**
 * The whole flow against the real test cluster: converge from empty, rerun without changes,
 * dry runs that write nothing, 04-verify's probes through the real Traefik, teardown that keeps
 * (or purges) the acme.json volume.
 *
 * Runs that only check the steps' output and the route audit pass --no-probe: nothing of this test
 * listens on INTERNAL_IP/EXTERNAL_IP then, and whatever else might must not decide the result.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { helmRelease, installFakeApp, TEST_CHART_NAME_VERSION, kubectl, kubectlMaybe, ownedState, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'
import { realTraefikUnavailable, startRealTraefik } from './real-traefik.ts'

const cluster = testCluster()
const CHART = TEST_CHART_NAME_VERSION.replaceAll('.', '\\.')
if (!cluster) console.log(`\n  integration tests skipped: ${skipReason()}\n`)

// ---
const converge = suite('integration: run-all from an empty cluster')
const it = cluster ? converge : converge.skip

converge.before(() => {
  if (!cluster) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80) // longhorn-system stays absent: that route is skipped
})

it('converges and 04-verify passes', () => {
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^01-metallb: 3 created$/m)
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik installed \\(revision 1, ${CHART}, deployed\\); 10 traefik\\.io CRDs updated first$`, 'm'))
  assert.match(r.stdout, /^03-internal-routes: 1 created, 1 skipped \(longhorn: namespace missing\)$/m)
  assert.match(r.stdout, /^04-verify: OK: \d+ passed, 0 failed/m)
  assert.match(r.stderr, /\[ok {2}\] Service traefik EXTERNAL-IP = EXTERNAL_IP 127\.0\.0\.201: 127\.0\.0\.201 from pool homelab-ingress-external/)
  assert.match(r.stderr, /\[ok {2}\] Service traefik-internal EXTERNAL-IP = INTERNAL_IP 127\.0\.0\.200: 127\.0\.0\.200 from pool homelab-ingress-internal/)
  assert.match(r.stderr, /\[ok {2}\] IngressRoute argocd\/argocd-internal \(argocd\.home\.example\) only on internal entrypoints/)
  assert.match(r.stderr, /127\.0\.0\.200 traefik\.home\.example argocd\.home\.example longhorn\.home\.example/)
  // the LAN check: 01 before claiming the addresses, 04 after; loopback has no LAN to look at
  assert.match(r.stderr, /^ {4}no other device on the LAN uses INTERNAL_IP 127\.0\.0\.200: not checked: loopback/m)
  assert.match(r.stderr, /\[skip\] no other device on the LAN uses EXTERNAL_IP 127\.0\.0\.201: not checked: loopback/)
  assert.match(r.stderr, /^ {4}host-record=argocd\.home\.example,127\.0\.0\.200$/m)
})

it('04-verify --dns FORMAT prints only those records on stdout, the report and summary on stderr', () => {
  const r = runScript('04-verify', ['--no-probe', '--dns', 'unbound'])
  assert.is(r.code, 0, r.output)
  assert.is(
    r.stdout,
    [
      'server:',
      '  local-data: "traefik.home.example. IN A 127.0.0.200"',
      '  local-data: "argocd.home.example. IN A 127.0.0.200"',
      '  local-data: "longhorn.home.example. IN A 127.0.0.200"',
      '',
    ].join('\n'),
  )
  assert.match(r.stderr, /^04-verify: OK: /m)
  assert.match(r.stderr, /The admin hosts' records for Unbound are on stdout \(for unbound\.conf, or a file in \/etc\/unbound\/unbound\.conf\.d\/\)\./)
  assert.not.match(r.stderr, /host-record=/)
})

it('the cluster holds what the README promises', () => {
  const external = JSON.parse(kubectl('get', 'service', 'traefik', '-n', 'traefik', '-o', 'json').stdout)
  const internal = JSON.parse(kubectl('get', 'service', 'traefik-internal', '-n', 'traefik', '-o', 'json').stdout)
  assert.equal(external.status.loadBalancer.ingress[0].ip, '127.0.0.201')
  assert.equal(internal.status.loadBalancer.ingress[0].ip, '127.0.0.200')
  assert.equal(external.spec.ports.map((p: any) => p.targetPort).sort(), ['web', 'websecure'])
  assert.equal(internal.spec.ports.map((p: any) => p.targetPort).sort(), ['intweb', 'intwebsec'])
  const route = JSON.parse(kubectl('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd', '-o', 'json', '--show-managed-fields').stdout)
  assert.equal(route.spec.entryPoints, ['intweb', 'intwebsec'])
  const managers = route.metadata.managedFields.map((m: any) => m.manager)
  assert.equal(managers, ['homelab-ingress'])
  const pvc = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout)
  assert.is(pvc.status.phase, 'Bound')
  assert.is(pvc.spec.storageClassName, 'longhorn')
})

it('a second run-all changes nothing: no resourceVersion moves, same helm revision', () => {
  const before = ownedState()
  assert.ok(Object.keys(before).length > 10, JSON.stringify(before))
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^01-metallb: 3 unchanged$/m)
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik unchanged \\(revision 1, ${CHART}\\)$`, 'm'))
  assert.match(r.stdout, /^03-internal-routes: 1 unchanged, 1 skipped/m)
  assert.equal(ownedState(), before)
})

for (const step of ['01-metallb', '02-traefik', '03-internal-routes', '04-verify']) {
  it(`${step} rerun alone changes nothing`, () => {
    const before = ownedState()
    const r = runScript(step, step === '04-verify' ? ['--no-probe'] : [])
    assert.is(r.code, 0, r.output)
    assert.equal(ownedState(), before)
  })
}

it('--dry-run of every step writes nothing and shows the pending changes', () => {
  const before = ownedState()
  const changed = { TRAEFIK_PHONE_HOME: 'true', INTERNAL_ROUTES: 'argocd=argocd/argocd-server:8080', EXTERNAL_IP: '127.0.0.202' }
  const r1 = runScript('01-metallb', ['--dry-run'], changed)
  assert.is(r1.code, 0, r1.output)
  assert.match(r1.stdout, /^01-metallb: 1 would be changed, 2 unchanged$/m)
  assert.match(r1.stderr, /-\s+- 127\.0\.0\.201\/32\n\+\s+- 127\.0\.0\.202\/32/)
  const r2 = runScript('02-traefik', ['--dry-run'], changed)
  assert.is(r2.code, 0, r2.output)
  assert.match(r2.stdout, new RegExp(`^02-traefik: release traefik would be upgraded \\(${CHART}\\)$`, 'm'))
  assert.match(r2.stderr, /-\s+checkNewVersion: false\n-\s+sendAnonymousUsage: false\n\+\s+checkNewVersion: true/)
  const r3 = runScript('03-internal-routes', ['--dry-run'], changed)
  assert.is(r3.code, 0, r3.output)
  assert.match(r3.stdout, /^03-internal-routes: 1 would be changed/m)
  assert.match(r3.stderr, /-\s+port: 80\n\+\s+port: 8080/)
  assert.equal(ownedState(), before)
})

it('a route removed from INTERNAL_ROUTES is deleted; adding it back recreates it', () => {
  const removed = runScript('03-internal-routes', [], { INTERNAL_ROUTES: 'none' })
  assert.is(removed.code, 0, removed.output)
  assert.match(removed.stdout, /^03-internal-routes: 1 deleted$/m)
  assert.is(kubectlMaybe('get', 'ingressroutes.traefik.io', 'argocd-internal', '-n', 'argocd').code, 1)
  const back = runScript('03-internal-routes')
  assert.match(back.stdout, /^03-internal-routes: 1 created/m)
})

it('helm 4 reads, leaves alone, and upgrades the same release', () => {
  // .cluster/env puts helm 3 on PATH as `helm` and helm 4 as `helm4`; give helm 4 the name `helm`.
  const helm4 = sh('bash', ['-c', 'command -v helm4']).stdout.trim()
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'helm4-'))
  fs.symlinkSync(helm4, path.join(bin, 'helm'))
  const env = { PATH: `${bin}:${cluster!.env.PATH}` }
  try {
    assert.match(sh('bash', ['-c', `PATH=${bin}:$PATH helm version --short`]).stdout, /^v4\./)
    const revision = Number(helmRelease()!.revision)
    const same = runScript('02-traefik', [], env)
    assert.is(same.code, 0, same.output)
    assert.match(same.stdout, /^02-traefik: release traefik unchanged/m)
    const changed = runScript('02-traefik', [], { ...env, TRAEFIK_PHONE_HOME: 'true' })
    assert.is(changed.code, 0, changed.output)
    assert.match(changed.stderr, /helm 4: upgrade --install traefik/)
    assert.match(changed.stdout, new RegExp(`^02-traefik: release traefik upgraded \\(revision ${revision + 1}, ${CHART}, deployed\\)$`, 'm'))
    const back = runScript('02-traefik', [], env)
    assert.match(back.stdout, new RegExp(`revision ${revision + 2}`))
    assert.match(runScript('02-traefik', [], env).stdout, /^02-traefik: release traefik unchanged/m)
  } finally {
    fs.rmSync(bin, { recursive: true, force: true })
  }
})

const noRealTraefik = cluster ? realTraefikUnavailable() : 'no test cluster'
if (cluster && noRealTraefik) console.log(`\n  04-verify probe test skipped: ${noRealTraefik}\n`)
;(noRealTraefik ? converge.skip : converge)('04-verify asks every admin host on both addresses through the real Traefik and passes', async () => {
  // longhorn's namespace appears: 03 routes it, and all three admin hosts can be asked.
  installFakeApp('longhorn-system', 'longhorn-frontend', 80)
  const routes = runScript('03-internal-routes')
  assert.match(routes.stdout, /^03-internal-routes: 1 created, 1 unchanged$/m)
  const traefik = await startRealTraefik()
  try {
    const r = runScript('04-verify', ['--json'])
    assert.is(r.code, 0, r.output)
    const probes = JSON.parse(r.stdout).checks.filter((c: any) => / answer(s| on)/.test(c.name))
    for (const host of ['traefik', 'argocd', 'longhorn'].map((n) => `${n}.home.example`)) {
      // names as "<host> answers on INTERNAL_IP <ip>[:port]": the probe may ask more than port 80
      for (const where of ['answers on INTERNAL_IP 127.0.0.200', 'does not answer on EXTERNAL_IP 127.0.0.201']) {
        assert.ok(probes.some((c: any) => c.name.startsWith(`${host} ${where}`)), `no probe "${host} ${where}" in ${r.stdout}`)
      }
    }
    for (const c of probes) assert.is(c.status, 'pass', `${c.name}: ${c.detail}`)
  } finally {
    await traefik.stop()
    // back to the state the teardown suite expects (longhorn not installed, its route gone with it)
    kubectl('delete', 'namespace', 'longhorn-system', '--wait=true', '--timeout=120s')
  }
})

converge.run()

// ---
const teardown = suite('integration: teardown')
const td = cluster ? teardown : teardown.skip

td('removes routes, release and pools in reverse order and keeps the acme.json volume', () => {
  const pvcUid = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid
  const r = runScript('99-teardown')
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^99-teardown: 5 deleted; kept the acme\.json volume traefik\/traefik \(--purge deletes it\)$/m)
  assert.is(helmRelease(), undefined)
  assert.is(kubectl('get', 'ipaddresspools.metallb.io', '-n', 'metallb-system', '-o', 'name').stdout.trim(), '')
  assert.is(kubectl('get', 'ingressroutes.traefik.io', '-A', '-l', 'app.kubernetes.io/managed-by=homelab-ingress', '-o', 'name').stdout.trim(), '')
  assert.is(JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid, pvcUid)
})

td('a reinstall reuses the kept volume', () => {
  const pvcUid = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  assert.is(JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid, pvcUid)
})

td('--purge deletes the volume too', () => {
  const r = runScript('99-teardown', ['--purge'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^99-teardown: 6 deleted$/m)
  assert.is(kubectl('get', 'pvc', '-n', 'traefik', '-o', 'name').stdout.trim(), '')
})

teardown.run()
