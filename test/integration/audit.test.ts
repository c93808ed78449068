/**
 * The reachability audit on the real test cluster, with two witnesses: the routes of
 * test/recorded/audit-forms.ts applied next to the kit's own, 04-verify reads them from the API
 * server (the cluster reading) and asks the real Traefik, started from the chart's Deployment,
 * which routers it serves (its API, on INTERNAL_IP under the dashboard host). Both must name every
 * form that reaches an admin UI from a public entrypoint, with the verdicts written by hand in
 * audit-forms.ts, and 04 passes again once the forms are gone.
 *
 * The forms give the admin UIs pods (kwok's, with fake 10.244.x addresses): no request is ever sent
 * through a route here (04 runs with --no-matrix: only Traefik's own API is asked).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AUDIT_FORM_VERDICTS, AUDIT_FORMS, AUDIT_FORMS_CLEAN } from '../recorded/audit-forms.ts'
import { applyYaml, kubectlMaybe, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'
import { INTERNAL_IP, type RealTraefik, realTraefikUnavailable, request, startRealTraefik } from './real-traefik.ts'

const cluster = testCluster()
const unavailable = cluster ? realTraefikUnavailable() : skipReason()
const audit = suite('integration: 04-verify judges every form by what it reaches, and the real Traefik agrees')
const test = cluster && !unavailable ? audit : audit.skip

type Check = { name: string; status: string; detail: string }
let rt: RealTraefik | undefined
let setupError: Error | undefined

/** Traefik's routers, from its API (the dashboard host on INTERNAL_IP), as names. */
async function loadedRouters(): Promise<string[]> {
  const answer = await request(INTERNAL_IP, 443, 'traefik.home.example', '/api/rawdata')
  if (answer.status !== 200) return []
  const raw = JSON.parse(answer.body)
  return [...Object.keys(raw.routers ?? {}), ...Object.keys(raw.tcpRouters ?? {})]
}

/** Waits until Traefik has loaded a router of each named route object (or `gone`: of none). */
async function untilTraefikSees(prefixes: string[], gone = false): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const routers = await loadedRouters().catch(() => [])
    const seen = prefixes.filter((p) => routers.some((r) => r.startsWith(p)))
    if (gone ? seen.length === 0 : seen.length === prefixes.length) return
    if (Date.now() > deadline) throw new Error(`Traefik's routers after 30 s: ${routers.join(', ')}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

function verify(): { code: number | null; checks: Check[]; output: string } {
  const r = runScript('04-verify', ['--json', '--no-matrix', '--timeout', '60'])
  return { code: r.code, checks: r.stdout.trim() ? JSON.parse(r.stdout).checks : [], output: r.output }
}

audit.before(async () => {
  if (!cluster || unavailable) return console.error(`  audit tests skipped: ${unavailable}`)
  try {
    resetCluster()
    const r = runScript('run-all', ['--no-probe'])
    if (r.code !== 0) throw new Error(`run-all failed:\n${r.output}`)
    rt = await startRealTraefik()
  } catch (err) {
    setupError = err as Error
  }
})

audit.after(async () => {
  if (!cluster || unavailable) return
  sh('kubectl', ['--context=homelab-test', 'delete', '--ignore-not-found', '--wait=true', '-f', '-'], { input: AUDIT_FORMS })
  await rt?.stop()
})

test('every form: the cluster reading and Traefik name the same routes, with the verdicts written for them', async () => {
  if (setupError) throw setupError
  applyYaml(AUDIT_FORMS)
  // the kit's routes for the admin UIs the forms brought (their namespaces are there now)
  const routes = runScript('03-internal-routes', [])
  assert.is(routes.code, 0, routes.output)
  await untilTraefikSees(['argocd-status-public-', 'traefik-backdoor-', 'longhorn-system-longhorn-any-sni-'])
  const r = verify()
  assert.is(r.code, 1, r.output)

  // the cluster reading
  const objectChecks = r.checks.filter((c) => / only on internal entrypoints$| the audit can judge$/.test(c.name))
  const kit = ['IngressRoute argocd/argocd-internal', 'IngressRoute longhorn-system/longhorn-internal', 'IngressRoute traefik/traefik-dashboard']
  assert.equal(
    objectChecks.map((c) => [c.name.split(' ').slice(0, 2).join(' '), c.status]).sort(),
    [...AUDIT_FORM_VERDICTS, ...kit.map((k) => [k, 'pass'])].sort(),
    JSON.stringify(objectChecks, null, 1),
  )
  for (const clean of AUDIT_FORMS_CLEAN) assert.not.ok(r.checks.some((c) => c.name.startsWith(`${clean} `)), `${clean} is named`)

  // without any request (--no-probe): the cluster reading alone, the same verdicts
  const quiet = runScript('04-verify', ['--json', '--no-probe', '--timeout', '60'])
  assert.is(quiet.code, 1, quiet.output)
  const quietChecks: Check[] = JSON.parse(quiet.stdout).checks
  assert.equal(
    quietChecks.filter((c) => / only on internal entrypoints$| the audit can judge$/.test(c.name)).map((c) => [c.name, c.status]),
    objectChecks.map((c) => [c.name, c.status]),
  )
  assert.not.ok(quietChecks.some((c) => c.name.startsWith('Traefik serves ') || c.name.startsWith("Traefik's API")))

  // Traefik's own view: a failing router for each failing form, and nothing else
  const witness = r.checks.filter((c) => c.name.startsWith('Traefik serves '))
  const witnessed = [...new Set(witness.map((c) => /\((\S+ \S+)\) on public/.exec(c.name)?.[1] ?? c.name))].sort()
  const failing = AUDIT_FORM_VERDICTS.filter(([, v]) => v === 'fail').map(([n]) => n).sort()
  assert.equal(witnessed, failing, JSON.stringify(witness, null, 1))
  assert.ok(witness.every((c) => c.status === 'fail'))
  const agree = r.checks.find((c) => c.name === "Traefik's API and the cluster reading agree on the public routers")!
  assert.ok(agree.status !== 'fail', JSON.stringify(agree))
  // The cross-namespace reference is read from the cluster, and Traefik refuses it (allowCrossNamespace is off).
  assert.match(agree.detail, /not served by Traefik .*IngressRoute default\/cross-namespace/)
  console.log(`\n  Traefik's view: ${agree.detail}`)
})

test('with the forms gone, both readings pass again', async () => {
  if (setupError) throw setupError
  sh('kubectl', ['--context=homelab-test', 'delete', '--ignore-not-found', '--wait=true', '-f', '-'], { input: AUDIT_FORMS })
  await untilTraefikSees(['argocd-status-public-', 'traefik-backdoor-'], true)
  const r = verify()
  assert.is(r.code, 0, r.output)
  const agree = r.checks.find((c) => c.name === "Traefik's API and the cluster reading agree on the public routers")!
  assert.is(agree.status, 'pass', JSON.stringify(agree))
  kubectlMaybe('delete', 'namespace', 'argocd', 'longhorn-system', '--ignore-not-found', '--wait=true', '--timeout=120s')
})

audit.run()
