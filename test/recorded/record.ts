/**
 * Records the API objects 04-verify reads, from the real test cluster, into test/recorded/*.json:
 * the unit tests of the verify checks run on these. Rerun after a change to what verify reads:
 *   npm run cluster:up && node test/recorded/record.ts [SNAPSHOT...]
 * With snapshot names (converged, traefik-view, squatter, stuck-pods), records only those. The route forms the audit
 * judges are not recorded: test/audit.test.ts reads test/recorded/audit-forms.ts itself, and
 * test/integration/audit.test.ts applies them to the cluster and asks the real Traefik.
 */
import fs from 'node:fs'
import path from 'node:path'
import { applyYaml, createSquatter, installFakeApp, kubectl, resetCluster, runScript, sh, testCluster } from '../integration/harness.ts'
import { AUDIT_FORMS } from './audit-forms.ts'
import { pods, STUCK_CAUSES } from '../integration/stuck-pods.ts'

if (!testCluster()) {
  console.error('the test cluster is not built: npm run cluster:build')
  process.exit(2)
}
const OUT = import.meta.dirname

/** Strips what only adds noise (managedFields) and keeps the rest as the API returned it. */
function items(...args: string[]): any[] {
  return JSON.parse(kubectl('get', ...args, '-o', 'json').stdout).items.map((o: any) => {
    delete o.metadata.managedFields
    return o
  })
}

function snapshot(name: string, note: string): void {
  const data = {
    note,
    pods: items('pods', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik'),
    services: items('services', '-n', 'traefik'),
    events: items('events', '-n', 'traefik', '--field-selector', 'involvedObject.kind=Service'),
    allServices: items('services', '--all-namespaces'),
    ingressRoutes: items('ingressroutes.traefik.io', '--all-namespaces'),
    ingresses: items('ingresses.networking.k8s.io', '--all-namespaces'),
    traefikServices: items('traefikservices.traefik.io', '--all-namespaces'),
    ingressClasses: items('ingressclasses.networking.k8s.io'),
    namespaces: items('namespaces').map((n) => n.metadata.name),
  }
  fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(data, null, 1) + '\n')
  console.error(`wrote test/recorded/${name}.json`)
}

const must = (r: { code: number | null; output: string }) => {
  if (r.code !== 0) throw new Error(r.output)
}

const wanted = process.argv.slice(2)
const recording = (name: string) => wanted.length === 0 || wanted.includes(name)

if (recording('converged')) {
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  must(runScript('run-all', ['--no-probe']))
  snapshot('converged', 'run-all on an empty cluster with ArgoCD present and Longhorn absent; 04-verify passed')
}

if (recording('traefik-view')) {
  // The route forms next to the kit's routes, and what the real Traefik (v3.6, the chart's
  // arguments) says it serves: test/traefik-api.test.ts judges both witnesses on these.
  resetCluster()
  must(runScript('run-all', ['--no-probe']))
  applyYaml(AUDIT_FORMS)
  must(runScript('03-internal-routes'))
  const { startRealTraefik, request, INTERNAL_IP } = await import('../integration/real-traefik.ts')
  const rt = await startRealTraefik()
  try {
    let raw: any = {}
    for (let i = 0; i < 120; i++) {
      const answer = await request(INTERNAL_IP, 443, 'traefik.home.example', '/api/rawdata')
      raw = answer.status === 200 ? JSON.parse(answer.body) : {}
      if (Object.keys(raw.routers ?? {}).some((r) => r.startsWith('argocd-status-public-')) && Object.keys(raw.tcpRouters ?? {}).length >= 2) break
      await new Promise((r) => setTimeout(r, 250))
    }
    const data = {
      note: 'converged (chart 41.3.0), plus the routes of test/recorded/audit-forms.ts and the kit\'s routes for their namespaces; rawdata: /api/rawdata of the real Traefik run with the Deployment\'s arguments',
      traefikPods: items('pods', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik'),
      ingressRoutes: items('ingressroutes.traefik.io', '--all-namespaces'),
      ingressRouteTCPs: items('ingressroutetcps.traefik.io', '--all-namespaces'),
      ingresses: items('ingresses.networking.k8s.io', '--all-namespaces'),
      ingressClasses: items('ingressclasses.networking.k8s.io'),
      traefikServices: items('traefikservices.traefik.io', '--all-namespaces'),
      middlewares: items('middlewares.traefik.io', '--all-namespaces'),
      services: items('services', '--all-namespaces'),
      endpointSlices: items('endpointslices.discovery.k8s.io', '--all-namespaces', '-l', 'endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io'),
      pods: [...items('pods', '-n', 'argocd'), ...items('pods', '-n', 'longhorn-system'), ...items('pods', '-n', 'traefik')],
      rawdata: raw,
    }
    fs.writeFileSync(path.join(OUT, 'traefik-view.json'), JSON.stringify(data, null, 1) + '\n')
    console.error('wrote test/recorded/traefik-view.json')
  } finally {
    await rt.stop()
    sh('kubectl', ['--context=homelab-test', 'delete', '--ignore-not-found', '--wait=true', '-f', '-'], { input: AUDIT_FORMS })
  }
}

if (recording('squatter')) {
  resetCluster()
  must(runScript('01-metallb'))
  createSquatter()
  runScript('run-all', ['--from', '02', '--no-probe', '--timeout', '20'])
  snapshot('squatter', 'Service traefik/squatter took 127.0.0.200 before Traefik; traefik-internal stays pending')
  kubectl('delete', 'service', 'squatter', '-n', 'traefik')
}

if (recording('stuck-pods')) {
  // Each way test/integration/stuck-pods.ts makes a Traefik pod stuck, with what 04 reads about it.
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  must(runScript('run-all', ['--no-probe']))
  const causes: Record<string, unknown> = {}
  for (const cause of STUCK_CAUSES) {
    await cause.make()
    const stuck = pods().map((p) => (delete p.metadata.managedFields, p))
    const claims = items('pvc', '-n', 'traefik')
    const about = new Set([...stuck.map((p) => `Pod/${p.metadata.name}`), ...claims.map((c) => `PersistentVolumeClaim/${c.metadata.name}`)])
    causes[cause.id] = {
      made: cause.made,
      pods: stuck,
      // what the pods check reads: events about these pods and claims (earlier objects of the same names included)
      events: items('events', '-n', 'traefik').filter((e) => about.has(`${e.involvedObject.kind}/${e.involvedObject.name}`)),
      pvcs: claims,
      storageClasses: items('storageclasses'),
      nodes: items('nodes'),
      persistentVolumes: items('pv').map((v) => v.metadata.name),
    }
    await cause.undo?.()
  }
  fs.writeFileSync(
    path.join(OUT, 'stuck-pods.json'),
    JSON.stringify({ note: 'converged, then each cause of test/integration/stuck-pods.ts ("made": scheduler/controllers for real, or the pod status patched as a kubelet writes it)', causes }, null, 1) + '\n',
  )
  console.error('wrote test/recorded/stuck-pods.json')
  resetCluster()
}
