/**
 * Records the API objects 04-verify reads, from the real test cluster, into test/recorded/*.json:
 * the unit tests of the verify checks run on these. Rerun after a change to what verify reads:
 *   npm run cluster:up && node test/recorded/record.ts [SNAPSHOT...]
 * With snapshot names (converged, squatter, stuck-pods), records only those. The route forms the audit
 * judges are not recorded: test/audit.test.ts reads test/recorded/audit-forms.ts itself, and
 * test/integration/audit.test.ts applies them to the cluster and asks the real Traefik.
 */
import fs from 'node:fs'
import path from 'node:path'
import { applyYaml, createSquatter, installFakeApp, kubectl, resetCluster, runScript, sh, testCluster } from '../integration/harness.ts'
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
