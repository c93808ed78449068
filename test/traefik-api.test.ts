/**
 * Traefik's own view as the second witness (lib/verify/traefik-api.ts), on what the real Traefik
 * v3.6 served with the route forms of test/recorded/audit-forms.ts next to the kit's routes
 * (test/recorded/traefik-view.json, recorded by `node test/recorded/record.ts traefik-view`). The
 * expected verdicts are those written by hand in audit-forms.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type AuditScope, auditRoutes, auditSettings, type RouteObjects } from '../lib/verify/audit.ts'
import type { Obj } from '../lib/verify/checks.ts'
import { judgeTraefikView, type TraefikRawData } from '../lib/verify/traefik-api.ts'
import { loadConfig } from '../lib/config/load.ts'
import { INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS } from '../lib/render/render.ts'
import { adminBackends } from '../lib/steps/verify.ts'
import { AUDIT_FORM_VERDICTS } from './recorded/audit-forms.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
const view = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'recorded', 'traefik-view.json'), 'utf8'))
const raw: TraefikRawData = view.rawdata
const objects: RouteObjects = {
  ingressRoutes: view.ingressRoutes,
  ingressRouteTCPs: view.ingressRouteTCPs,
  ingressRouteUDPs: [],
  ingresses: view.ingresses,
  ingressClasses: view.ingressClasses,
  traefikServices: view.traefikServices,
  middlewares: view.middlewares,
  services: view.services,
  endpointSlices: view.endpointSlices,
  pods: view.pods,
}
const scope: AuditScope = {
  ...auditSettings(view.traefikPods),
  publicEntrypoints: PUBLIC_ENTRYPOINTS,
  admin: adminBackends(config),
  traefik: { namespace: 'traefik', podLabels: view.traefikPods.map((p: Obj) => p.metadata.labels) },
  internalIp: config.internalIp,
  internalEntrypoints: INTERNAL_ENTRYPOINTS,
}
const FAILING = AUDIT_FORM_VERDICTS.filter(([, v]) => v === 'fail').map(([n]) => n).sort()
const AGREE = "Traefik's API and the cluster reading agree on the public routers"
/** The route objects the witness's failing checks name. */
const witnessed = (checks: { name: string; status: string }[]) =>
  [...new Set(checks.filter((c) => c.name.startsWith('Traefik serves ') && c.status === 'fail').map((c) => /\((\S+ \S+)\) on public/.exec(c.name)?.[1] ?? c.name))].sort()

const witness = suite("Traefik's view: the second witness")

witness('the recording is the real Traefik with the forms loaded', () => {
  assert.ok(Object.keys(raw.routers ?? {}).some((r) => r.startsWith('argocd-status-public-') && r.endsWith('@kubernetescrd')))
  assert.ok(Object.keys(raw.tcpRouters ?? {}).some((r) => r.startsWith('longhorn-system-longhorn-any-sni-')))
  assert.is(view.traefikPods[0].metadata.labels['helm.sh/chart'], 'traefik-41.3.0')
})

witness('Traefik serves a public router to an admin UI for exactly the forms the cluster reading fails', () => {
  const checks = judgeTraefikView(raw, objects, scope)
  assert.equal(witnessed(checks), FAILING)
  const fromCluster = auditRoutes(objects, scope).filter((c) => c.status === 'fail' && / only on internal entrypoints$/.test(c.name))
  assert.equal([...new Set(fromCluster.map((c) => c.name.split(' ').slice(0, 2).join(' ')))].sort(), FAILING)
})

witness('the chain to api@internal and the backdoor into intweb are followed through what Traefik loaded', () => {
  const checks = judgeTraefikView(raw, objects, scope)
  const detail = (object: string) => checks.filter((c) => c.name.includes(`(${object})`)).map((c) => c.detail).join(' | ')
  assert.match(detail('IngressRoute default/status-page'), /service default-status-split@kubernetescrd -> service default-status-mirror@kubernetescrd -> api@internal/)
  assert.match(detail('IngressRoute traefik/backdoor'), /Traefik's entrypoint intweb/)
})

witness('a reference Traefik refuses is named as read but not served; nothing Traefik serves is unaccounted for', () => {
  const agree = judgeTraefikView(raw, objects, scope).find((c) => c.name === AGREE)!
  assert.is(agree.status, 'warn', agree.detail)
  assert.match(agree.detail, /read from the cluster but not served by Traefik .*IngressRoute default\/cross-namespace/)
  assert.not.match(agree.detail, /in no route object/)
})

witness('a public router Traefik serves that the cluster reading missed fails', () => {
  const missing = { ...objects, ingressRouteTCPs: [] }
  const agree = judgeTraefikView(raw, missing, scope).find((c) => c.name === AGREE)!
  assert.is(agree.status, 'fail')
  assert.match(agree.detail, /served by Traefik but in no route object read from the cluster: .*longhorn-system-longhorn-any-sni-/)
})

witness('a disabled router is not served', () => {
  const disabled: TraefikRawData = structuredClone(raw)
  for (const [id, router] of Object.entries(disabled.routers ?? {})) if (id.includes('argocd-status-public-')) router.status = 'disabled'
  assert.not.ok(witnessed(judgeTraefikView(disabled, objects, scope)).includes('IngressRoute argocd/status-public'))
})

witness.run()
