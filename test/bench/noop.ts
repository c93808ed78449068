/**
 * npm run bench: figures, not a timed test. On the test cluster, with everything converged:
 *  1. wall time of a no-op run-all, next to a naive script doing the same job the usual way
 *     (helm upgrade --install, kubectl apply -f of each manifest, kubectl wait), as a ratio;
 *  2. API requests each makes, counted from kube-apiserver's apiserver_request_total, minus the
 *     background rate of the cluster's own controllers measured over an idle interval;
 *  3. time from the last Traefik pod turning Ready to 04-verify returning;
 *  4. the route audit at scale: 04-verify --no-probe with N IngressRoutes in the cluster (env
 *     BENCH_ROUTES, default 200,2000; 20000 takes minutes to create), time and peak memory; and a
 *     no-op 03 with 50 INTERNAL_ROUTES.
 * Each figure is the median of RUNS runs (env BENCH_RUNS, default 5), with min and max. The scripts
 * are started the way make starts them: plain node, with Node's compile cache.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Watch, KubeConfig } from '@kubernetes/client-node'
import { loadConfig } from '../../lib/config/load.ts'
import { resolveChart } from '../../lib/traefik/chart.ts'
import { renderAll } from '../../lib/render/render.ts'
import { ENV_FILE, installFakeApp, kubectl, resetCluster, ROOT, runScript, sh, skipReason, startScript, testCluster } from '../integration/harness.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const ROUTE_COUNTS = (process.env.BENCH_ROUTES ?? '200,2000').split(',').map(Number).filter((n) => n > 0)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const spread = (xs: number[]) => `${seconds(median(xs))} (min ${seconds(Math.min(...xs))}, max ${seconds(Math.max(...xs))})`
const NODE_ENV_FOR_MAKE = { NODE_COMPILE_CACHE: path.join(ROOT, 'node_modules', '.cache', 'node-compile-cache') }

/** A script as `make` starts it: `node scripts/X.ts` (no npx, no zx CLI), with the compile cache. */
function runLikeMake(script: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; output: string; maxRssKb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join('scripts', `${script}.ts`), '--env-file', ENV_FILE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...cluster!.env, ...NODE_ENV_FOR_MAKE, ...env },
    maxBuffer: 64 * 1024 * 1024,
  })
  const maxRssKb = Number(r.stderr.trim().split('\n').at(-1))
  return { code: r.status, output: r.stdout + r.stderr, maxRssKb }
}

const cluster = testCluster()
if (!cluster) {
  console.error(`bench needs the test cluster: ${skipReason()}`)
  process.exit(2)
}

/** Sum of apiserver_request_total over every label set. */
function requestCount(): number {
  const metrics = kubectl('get', '--raw', '/metrics').stdout
  let total = 0
  for (const line of metrics.split('\n')) {
    if (line.startsWith('apiserver_request_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

function measure(label: string, action: () => void): { ms: number; requests: number } {
  const before = requestCount()
  const started = performance.now()
  action()
  const ms = performance.now() - started
  const requests = requestCount() - before - 1 // the /metrics read itself
  process.stderr.write(`  ${label}: ${seconds(ms)}, ${requests} requests\n`)
  return { ms, requests }
}

// A converged cluster to start from.
process.stderr.write('converging the test cluster ...\n')
resetCluster()
installFakeApp('argocd', 'argocd-server', 80)
installFakeApp('longhorn-system', 'longhorn-frontend', 80)
const first = runScript('run-all', ['--no-probe'])
if (first.code !== 0) throw new Error(`run-all did not converge:\n${first.output}`)

// The naive way, with the very same rendered manifests and values.
const config = loadConfig({ envFile: ENV_FILE, env: {}, cwd: ROOT })
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-bench-'))
for (const [file, text] of Object.entries(renderAll(config, (await resolveChart(config)).shape))) fs.writeFileSync(path.join(dir, file), text)
const naive = [
  `kubectl --context=homelab-test apply -f ${dir}/01-metallb.yaml`,
  `helm --kube-context=homelab-test upgrade --install traefik ${config.traefikChart.ref} -n traefik --create-namespace -f ${dir}/02-traefik-values.yaml`,
  `kubectl --context=homelab-test apply -f ${dir}/03-internal-routes.yaml`,
  'kubectl --context=homelab-test -n traefik rollout status deployment/traefik --timeout=300s',
  'kubectl --context=homelab-test -n traefik wait --for=condition=Ready pod -l app.kubernetes.io/name=traefik --timeout=300s',
  `kubectl --context=homelab-test -n traefik wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=127.0.0.201 service/traefik --timeout=300s`,
  `kubectl --context=homelab-test -n traefik wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=127.0.0.200 service/traefik-internal --timeout=300s`,
].join(' && ')

const idle = (() => {
  const before = requestCount()
  const started = performance.now()
  spawnSync('sleep', ['10'])
  const perSecond = (requestCount() - before - 1) / ((performance.now() - started) / 1000)
  process.stderr.write(`background: ${perSecond.toFixed(1)} requests/s from the cluster's own controllers\n`)
  return perSecond
})()

const ours: { ms: number; requests: number }[] = []
const theirs: { ms: number; requests: number }[] = []
for (let i = 1; i <= RUNS; i++) {
  process.stderr.write(`run ${i}/${RUNS}\n`)
  ours.push(measure('run-all (no-op)', () => {
    const r = runLikeMake('run-all', ['--no-probe'])
    if (r.code !== 0) throw new Error(r.output)
  }))
  theirs.push(measure('naive script', () => sh('bash', ['-c', naive])))
}
const helmRevisionsAfter = JSON.parse(sh('helm', ['--kube-context=homelab-test', 'list', '-n', 'traefik', '-o', 'json']).stdout)[0].revision

// Last pod Ready -> 04-verify returns: restart the pod, start verify at once, note when Ready arrives.
const kc = new KubeConfig()
kc.loadFromFile(cluster.env.KUBECONFIG!)
kc.setCurrentContext('homelab-test')
const latencies: number[] = []
for (let i = 1; i <= RUNS; i++) {
  const old = JSON.parse(kubectl('get', 'pods', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik', '-o', 'json').stdout).items.map((p: any) => p.metadata.uid)
  let readyAt = 0
  const watch = await new Watch(kc).watch(
    '/api/v1/namespaces/traefik/pods',
    { labelSelector: 'app.kubernetes.io/name=traefik' },
    (_phase, pod) => {
      const ready = (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
      if (ready && readyAt === 0 && !old.includes(pod.metadata.uid)) readyAt = performance.now()
    },
    () => {},
  )
  kubectl('delete', 'pod', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik', '--wait=false')
  const result = await startScript('04-verify', ['--no-probe'], () => {})
  const returnedAt = performance.now()
  watch.abort()
  if (result.code !== 0 || readyAt === 0) throw new Error(`verify exit ${result.code}, new pod Ready seen: ${readyAt !== 0}\n${result.output}`)
  latencies.push(returnedAt - readyAt)
  process.stderr.write(`  pod Ready -> 04-verify returned: ${seconds(returnedAt - readyAt)}\n`)
}

// The route audit at scale, and a no-op 03 with 50 routes.
const scale: string[] = []
const routeYaml = (i: number) => `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: app-${i}, namespace: bench-${i % 200}}
spec:
  entryPoints: [websecure]
  routes: [{kind: Rule, match: "Host(\`app-${i}.public.example\`) && PathPrefix(\`/\`)", services: [{name: app, port: 80}]}]
`
let created = 0
for (const count of ROUTE_COUNTS) {
  process.stderr.write(`creating IngressRoutes up to ${count} ...\n`)
  const namespaces = Array.from({ length: Math.min(count, 200) }, (_, i) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench-${i}}\n`)
  sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: namespaces.join('---\n') })
  for (let from = created; from < count; from += 500) {
    const batch = Array.from({ length: Math.min(500, count - from) }, (_, k) => routeYaml(from + k))
    sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '-f', '-'], { input: batch.join('---\n') })
  }
  created = count
  const times: number[] = []
  let rss = 0
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now()
    const r = runLikeMake('04-verify', ['--no-probe'])
    times.push(performance.now() - started)
    rss = Math.max(rss, r.maxRssKb)
    if (r.code !== 0) throw new Error(r.output)
  }
  scale.push(`  04-verify --no-probe, ${String(count).padStart(6)} routes: ${spread(times)}, peak memory ${Math.round(rss / 1024)} MB`)
}
const fifty = Array.from({ length: 50 }, (_, i) => `r${i}=argocd/argocd-server:80`).join(',')
runLikeMake('03-internal-routes', [], { INTERNAL_ROUTES: fifty })
const noop03: number[] = []
for (let i = 0; i < RUNS; i++) {
  const started = performance.now()
  const r = runLikeMake('03-internal-routes', [], { INTERNAL_ROUTES: fifty })
  noop03.push(performance.now() - started)
  if (r.code !== 0 || !/50 unchanged/.test(r.output)) throw new Error(r.output)
}
scale.push(`  no-op 03 with 50 INTERNAL_ROUTES       : ${spread(noop03)}`)
runLikeMake('03-internal-routes', [])
for (let i = 0; i < Math.min(created, 200); i++) sh('kubectl', ['--context=homelab-test', 'delete', 'namespace', `bench-${i}`, '--wait=false'], { allowFail: true })

const ourMs = median(ours.map((r) => r.ms))
const theirMs = median(theirs.map((r) => r.ms))
const ourReq = median(ours.map((r) => r.requests - (idle * r.ms) / 1000))
const theirReq = median(theirs.map((r) => r.requests - (idle * r.ms) / 1000))
console.log(`
homelab-ingress benchmark (median of ${RUNS}; test cluster, everything converged)
  no-op run-all (01-04, --no-probe) : ${spread(ours.map((r) => r.ms))}, ~${Math.round(ourReq)} API requests
  naive helm/kubectl script         : ${spread(theirs.map((r) => r.ms))}, ~${Math.round(theirReq)} API requests
  ratio run-all / naive             : ${(ourMs / theirMs).toFixed(2)}x time, ${(ourReq / theirReq).toFixed(2)}x requests
  helm revision after all runs      : ${helmRevisionsAfter} (run-all adds none; each naive run adds one)
  last pod Ready -> 04-verify done  : ${spread(latencies)}
${scale.join('\n')}
  (requests: apiserver_request_total delta minus ${idle.toFixed(1)}/s background)`)
fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
