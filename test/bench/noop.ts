/**
 * npm run bench: figures, not a timed test. On the test cluster, with everything converged:
 *  1. start-up: `--help` and a configuration error;
 *  2. wall time of a no-op run-all --no-probe, next to a naive script doing the same job the usual
 *     way (helm upgrade --install, kubectl apply -f of each manifest, kubectl wait), run in turns, as
 *     a ratio; API requests each makes, from kube-apiserver's apiserver_request_total minus the
 *     background rate of the cluster's own controllers; and where a no-op run's time goes (--timings);
 *  3. time from the last Traefik pod turning Ready to 04-verify returning;
 *  4. the route audit at scale: 04-verify --no-probe with N routes in the cluster, a quarter each
 *     IngressRoute, IngressRouteTCP, IngressRouteUDP and Ingress (env BENCH_ROUTES, default
 *     200,2000,20000): wall time, the audit's own time (its --timings span), peak memory; and a
 *     no-op 03 with 50 INTERNAL_ROUTES.
 * Each figure is the median of RUNS runs (env BENCH_RUNS, default 5), with min and max. The scripts
 * are started the way make starts them: plain node, with Node's compile cache.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { resolveChart } from '../../lib/traefik/chart.ts'
import { renderAll } from '../../lib/render/render.ts'
import { connectCluster } from '../../lib/kube/cluster.ts'
import { apiPath, rawWatch } from '../../lib/kube/raw.ts'
import { ENV_FILE, installFakeApp, kubectl, resetCluster, ROOT, runScript, sh, skipReason, testCluster } from '../integration/harness.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const ROUTE_COUNTS = (process.env.BENCH_ROUTES ?? '200,2000,20000').split(',').map(Number).filter((n) => n > 0)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const spread = (xs: number[]) => `${seconds(median(xs))} (min ${seconds(Math.min(...xs))}, max ${seconds(Math.max(...xs))})`
const target = (ms: number, limitMs: number) => `target <= ${seconds(limitMs)}: ${ms <= limitMs ? 'met' : 'MISSED'}`
const NODE_ENV_FOR_MAKE = { NODE_COMPILE_CACHE: path.join(ROOT, 'node_modules', '.cache', 'node-compile-cache') }
const INVALID_ENV = path.join(ROOT, 'test', 'env', 'invalid', 'ip-leading-zero.env')

const cluster = testCluster()
if (!cluster) {
  console.error(`bench needs the test cluster: ${skipReason()}`)
  process.exit(2)
}
Object.assign(process.env, { KUBECONFIG: cluster.env.KUBECONFIG })

/** A script as `make` starts it: `node scripts/X.ts` (no npx, no zx CLI), with the compile cache. */
function runLikeMake(script: string, args: string[], env: NodeJS.ProcessEnv = {}, envFile = ENV_FILE): { code: number | null; output: string; stderr: string; maxRssKb: number; ms: number } {
  const started = performance.now()
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join('scripts', `${script}.ts`), '--env-file', envFile, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...cluster!.env, ...NODE_ENV_FOR_MAKE, ...env },
    maxBuffer: 64 * 1024 * 1024,
  })
  const ms = performance.now() - started
  const lines = r.stderr.trimEnd().split('\n')
  return { code: r.status, output: r.stdout + r.stderr, stderr: lines.slice(0, -1).join('\n'), maxRssKb: Number(lines.at(-1)), ms }
}

/** The same, not waiting: resolves when it exits, with the time it exited. */
function startLikeMake(script: string, args: string[]): Promise<{ code: number | null; output: string; exitedAt: number }> {
  const child = spawn(process.execPath, [path.join('scripts', `${script}.ts`), '--env-file', ENV_FILE, ...args], { cwd: ROOT, env: { ...cluster!.env, ...NODE_ENV_FOR_MAKE } })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output, exitedAt: performance.now() })))
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

/** The span of a --timings report whose label starts with `label`, in ms. */
function span(stderr: string, label: string): number | undefined {
  const line = stderr.split('\n').find((l) => new RegExp(`^ *\\d+ ms \\+ *\\d+ ms  ${label}`).test(l))
  return line ? Number(/\+ *(\d+) ms/.exec(line)![1]) : undefined
}

// --- 1. start-up
process.stderr.write('start-up ...\n')
const help: number[] = []
const configError: number[] = []
for (let i = 0; i < RUNS; i++) {
  help.push(runLikeMake('04-verify', ['--help']).ms)
  const bad = runLikeMake('04-verify', [], {}, INVALID_ENV)
  if (bad.code !== 2) throw new Error(`a configuration error should exit 2:\n${bad.output}`)
  configError.push(bad.ms)
}

// --- 2. a converged cluster, then the no-op side by side with the naive script
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
// Where a no-op run's time goes: the median run's --timings report, trimmed to what is not an API call.
const timingRuns = Array.from({ length: RUNS }, () => runLikeMake('run-all', ['--no-probe', '--timings']))
const timingReport = timingRuns.sort((a, b) => a.ms - b.ms)[Math.floor(RUNS / 2)].stderr
const report = timingReport.slice(timingReport.indexOf('timings (')).split('\n')
const apiCalls = report.filter((l) => / API [A-Z]+ /.test(l)).length
const whereTimeGoes = [...report.filter((l) => !/ API [A-Z]+ /.test(l)), `  (${apiCalls} API requests in between, many at once)`]

// --- 3. last pod Ready -> 04-verify returns: restart the pod, start verify at once, note when Ready arrives.
const kube = connectCluster({ kubeContext: 'homelab-test' }, 'homelab-test')
const latencies: number[] = []
for (let i = 1; i <= RUNS; i++) {
  const old = JSON.parse(kubectl('get', 'pods', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik', '-o', 'json').stdout).items.map((p: any) => p.metadata.uid)
  let readyAt = 0
  const watch = await rawWatch(kube, apiPath('v1', 'pods', { namespace: 'traefik', query: { labelSelector: 'app.kubernetes.io/name=traefik' } }), undefined, ({ object: pod }) => {
    const ready = (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
    if (ready && readyAt === 0 && !old.includes(pod.metadata.uid)) readyAt = performance.now()
  }, () => {})
  kubectl('delete', 'pod', '-n', 'traefik', '-l', 'app.kubernetes.io/name=traefik', '--wait=false')
  const result = await startLikeMake('04-verify', ['--no-probe'])
  watch.abort()
  if (result.code !== 0 || readyAt === 0) throw new Error(`verify exit ${result.code}, new pod Ready seen: ${readyAt !== 0}\n${result.output}`)
  latencies.push(result.exitedAt - readyAt)
  process.stderr.write(`  pod Ready -> 04-verify returned: ${seconds(result.exitedAt - readyAt)}\n`)
}

// --- 4. the route audit at scale, every kind of route; and a no-op 03 with 50 routes.
const NAMESPACES = 200
const KINDS = ['IngressRoute', 'IngressRouteTCP', 'IngressRouteUDP', 'Ingress'] as const
/** Route i: a public app's route of kind KINDS[i % 4], on public entrypoints (what a homelab has most). */
function route(i: number): { path: string; body: object } {
  const namespace = `bench-${i % NAMESPACES}`
  const kind = KINDS[i % KINDS.length]
  const metadata = { name: `app-${i}`, namespace }
  const plural = { IngressRoute: 'ingressroutes', IngressRouteTCP: 'ingressroutetcps', IngressRouteUDP: 'ingressrouteudps', Ingress: 'ingresses' }[kind]
  const apiVersion = kind === 'Ingress' ? 'networking.k8s.io/v1' : 'traefik.io/v1alpha1'
  const spec =
    kind === 'IngressRoute'
      ? { entryPoints: ['websecure'], routes: [{ kind: 'Rule', match: `Host(\`app-${i}.public.example\`) && PathPrefix(\`/\`)`, services: [{ name: 'app', port: 80 }] }] }
      : kind === 'IngressRouteTCP'
        ? { entryPoints: ['websecure'], routes: [{ match: `HostSNI(\`tcp-${i}.public.example\`)`, services: [{ name: 'app', port: 443 }] }], tls: { passthrough: true } }
        : kind === 'IngressRouteUDP'
          ? { entryPoints: ['websecure'], routes: [{ services: [{ name: 'app', port: 53 }] }] }
          : { ingressClassName: 'traefik', rules: [{ host: `ing-${i}.public.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }] }
  const annotations = kind === 'Ingress' ? { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' } : undefined
  return { path: apiPath(apiVersion, plural, { namespace }), body: { apiVersion, kind, metadata: { ...metadata, ...(annotations ? { annotations } : {}) }, spec } }
}

/** Creates routes from..to-1 through the API, 32 at a time (kubectl apply of thousands takes minutes). */
async function createRoutes(from: number, to: number): Promise<void> {
  let next = from
  const worker = async () => {
    while (next < to) {
      const { path: p, body } = route(next++)
      await kube.transport.request('POST', p, { body: { text: JSON.stringify(body), contentType: 'application/json' } }).catch((err) => {
        if (err.code !== 409) throw err
      })
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
}

const scale: string[] = []
let created = 0
let audit2000: number | undefined
sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], {
  input: Array.from({ length: NAMESPACES }, (_, i) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench-${i}}\n`).join('---\n'),
})
for (const count of ROUTE_COUNTS) {
  process.stderr.write(`creating routes up to ${count} (every kind) ...\n`)
  const started = performance.now()
  await createRoutes(created, count)
  created = Math.max(created, count)
  process.stderr.write(`  created in ${seconds(performance.now() - started)}\n`)
  const times: number[] = []
  const audits: number[] = []
  let rss = 0
  for (let i = 0; i < RUNS; i++) {
    const r = runLikeMake('04-verify', ['--no-probe', '--timings'])
    if (r.code !== 0) throw new Error(r.output)
    times.push(r.ms)
    audits.push(span(r.stderr, 'route audit') ?? NaN)
    rss = Math.max(rss, r.maxRssKb)
  }
  if (count === 2000) audit2000 = median(audits)
  scale.push(
    `  ${String(count).padStart(6)} routes: 04-verify ${spread(times)}; the audit ${spread(audits)}; peak memory ${Math.round(rss / 1024)} MB`,
  )
}
const fifty = Array.from({ length: 50 }, (_, i) => `r${i}=argocd/argocd-server:80`).join(',')
runLikeMake('03-internal-routes', [], { INTERNAL_ROUTES: fifty })
const noop03: number[] = []
for (let i = 0; i < RUNS; i++) {
  const r = runLikeMake('03-internal-routes', [], { INTERNAL_ROUTES: fifty })
  noop03.push(r.ms)
  if (r.code !== 0 || !/50 unchanged/.test(r.output)) throw new Error(r.output)
}
runLikeMake('03-internal-routes', [])
for (let i = 0; i < NAMESPACES; i++) sh('kubectl', ['--context=homelab-test', 'delete', 'namespace', `bench-${i}`, '--wait=false'], { allowFail: true })

const ourMs = median(ours.map((r) => r.ms))
const theirMs = median(theirs.map((r) => r.ms))
const ourReq = median(ours.map((r) => r.requests - (idle * r.ms) / 1000))
const theirReq = median(theirs.map((r) => r.requests - (idle * r.ms) / 1000))
console.log(`
homelab-ingress benchmark (median of ${RUNS}, min and max; test cluster, everything converged; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})
  --help (04-verify)                : ${spread(help)}; ${target(median(help), 300)}
  a configuration error (exit 2)    : ${spread(configError)}; ${target(median(configError), 300)}
  no-op run-all (01-04, --no-probe) : ${spread(ours.map((r) => r.ms))}, ~${Math.round(ourReq)} API requests; ${target(ourMs, 500)}
  naive helm/kubectl script         : ${spread(theirs.map((r) => r.ms))}, ~${Math.round(theirReq)} API requests
  ratio run-all / naive             : ${(ourMs / theirMs).toFixed(2)}x time (target <= 0.35x: ${ourMs / theirMs <= 0.35 ? 'met' : 'MISSED'}), ${(ourReq / theirReq).toFixed(2)}x requests
  helm revision after all runs      : ${helmRevisionsAfter} (run-all adds none; each naive run adds one)
  last pod Ready -> 04-verify done  : ${spread(latencies)}; ${target(median(latencies), 300)}
  route audit at scale (a quarter each IngressRoute, IngressRouteTCP, IngressRouteUDP, Ingress):
${scale.join('\n')}
  the audit over 2,000 routes       : ${audit2000 === undefined ? 'not measured (BENCH_ROUTES)' : `${seconds(audit2000)}; ${target(audit2000, 600)}`}
  no-op 03 with 50 INTERNAL_ROUTES  : ${spread(noop03)}
  (requests: apiserver_request_total delta minus ${idle.toFixed(1)}/s background)

Where a no-op run-all's time goes (its median run with --timings, API requests left out):
${whereTimeGoes.join('\n')}`)
fs.rmSync(dir, { recursive: true, force: true })
process.exit(0)
