/**
 * 04-verify's route audit against the real test cluster: with the routes of
 * test/recorded/audit-forms.ts applied next to the kit's own, verify reads IngressRoutes,
 * TraefikServices, Ingresses and IngressClasses from the API server and the default entrypoints
 * from the running Traefik pod, and fails naming each admin route on a public entrypoint.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { auditSettings } from '../../lib/verify/audit.ts'
import { INTERNAL_ENTRYPOINTS } from '../../lib/render/render.ts'
import { AUDIT_FORMS } from '../recorded/audit-forms.ts'
import { applyYaml, installFakeApp, kubectl, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
const audit = suite('integration: 04-verify audits every form of admin route')
const test = cluster ? audit : audit.skip

audit.before(() => {
  if (!cluster) return console.error(`  audit tests skipped: ${skipReason()}`)
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
})

test('fails on each admin route on a public entrypoint, warns on a rule Traefik rejects', () => {
  const pods = JSON.parse(kubectl('get', 'pods', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik', '-o', 'json').stdout).items
  const defaults = auditSettings(pods).defaultEntrypoints ?? []
  // Routes without entrypoints are safe exactly when the running Traefik's defaults are internal.
  const internalDefaults = defaults.length > 0 && defaults.every((e) => INTERNAL_ENTRYPOINTS.includes(e))
  applyYaml(AUDIT_FORMS)
  try {
    const r = runScript('04-verify', ['--json', '--no-probe', '--timeout', '30'])
    assert.is(r.code, 1, r.output)
    const checks: { name: string; status: string }[] = JSON.parse(r.stdout).checks
    const audited = checks.filter((c) => /^(IngressRoute|Ingress) (default|argocd|traefik)\//.test(c.name) && !/ exists$/.test(c.name))
    const noEntrypoints = internalDefaults ? 'pass' : 'fail'
    assert.equal(
      audited.map((c) => [c.name.split(' ').slice(0, 2).join(' '), c.status]),
      [
        ['IngressRoute argocd/argocd-internal', 'pass'],
        ['IngressRoute default/argocd-no-entrypoints', noEntrypoints],
        ['IngressRoute default/argocd-regexp', 'fail'],
        ['IngressRoute default/blog-or-longhorn', 'fail'],
        ['IngressRoute default/single-quotes', 'warn'],
        ['IngressRoute default/status-page', 'fail'],
        ['IngressRoute default/unreadable-regexp', 'fail'],
        ['IngressRoute default/v2-hosts', 'fail'],
        ['IngressRoute traefik/traefik-dashboard', 'pass'],
        ['Ingress default/argocd-classless-annotated', noEntrypoints],
        ['Ingress default/longhorn-default-entrypoints', noEntrypoints],
        ['Ingress default/longhorn-second-class', noEntrypoints],
        ['Ingress default/wildcard-on-web', 'fail'],
      ],
    )
  } finally {
    sh('kubectl', ['--context=homelab-test', 'delete', '-f', '-'], { input: AUDIT_FORMS })
  }
})

audit.run()
