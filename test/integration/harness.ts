/**
 * Shared by the integration tests: the real test cluster (test/cluster/cluster.sh), the real
 * scripts spawned as a user runs them, and snapshots of what the steps own.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import YAML from 'yaml'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')
export const CLUSTER_SH = path.join(ROOT, 'test', 'cluster', 'cluster.sh')
export const ENV_FILE = path.join(ROOT, 'test', 'integration', 'test.env')
/** The chart test.env installs (TRAEFIK_CHART: a stand-in in test/chart/), and its "<name>-<version>" as helm reports it. */
export const TEST_CHART = path.resolve(ROOT, parseDotenv(fs.readFileSync(ENV_FILE)).TRAEFIK_CHART)
const testChartMeta = YAML.parse(fs.readFileSync(path.join(TEST_CHART, 'Chart.yaml'), 'utf8'))
export const TEST_CHART_NAME_VERSION = `${testChartMeta.name}-${testChartMeta.version}`
/** Where cluster.sh keeps the test cluster's state; HOMELAB_INGRESS_CLUSTER_DIR moves it (cluster.sh honours it too). */
export const CLUSTER_DIR = process.env.HOMELAB_INGRESS_CLUSTER_DIR ?? path.join(ROOT, '.cluster')
const ZX = path.join(ROOT, 'node_modules', '.bin', 'zx')

export type Cluster = { env: NodeJS.ProcessEnv }

let cluster: Cluster | undefined
let unavailable: string | undefined

/** The environment of `.cluster/env` (KUBECONFIG, PATH with helm), applied over ours. */
function clusterEnv(): NodeJS.ProcessEnv {
  const out = spawnSync('bash', ['-c', `set -a; . "${path.join(CLUSTER_DIR, 'env')}"; env -0`], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`cannot read .cluster/env: ${out.stderr}`)
  const env: NodeJS.ProcessEnv = {}
  for (const entry of out.stdout.split('\0')) {
    const i = entry.indexOf('=')
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1)
  }
  delete env.FORCE_COLOR
  return { ...env, NO_COLOR: '1', CI: 'true' }
}

/**
 * Brings the test cluster up (idempotent) when its binaries are built. Returns undefined, with
 * `skipReason()` saying why, when they are not: building takes about 20-25 minutes, so a plain
 * `npm test` does not start it on its own; `make test` (and .ci/run) does.
 */
export function testCluster(): Cluster | undefined {
  if (cluster || unavailable) return cluster
  // only the cluster's own pieces: the real Traefik and Pebble are asked for by real-traefik.ts
  const built = spawnSync('bash', [CLUSTER_SH, 'built', 'cluster'], { encoding: 'utf8' })
  if (built.status !== 0) {
    unavailable = 'the test cluster binaries are not built: `make test` builds them once (about 20-25 minutes on 2 idle cores) and runs every test'
    return undefined
  }
  const up = spawnSync('bash', [CLUSTER_SH, 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 })
  if (up.status !== 0) throw new Error(`test/cluster/cluster.sh up failed (exit ${up.status})`)
  cluster = { env: clusterEnv() }
  return cluster
}

export function skipReason(): string {
  return unavailable ?? ''
}

export type Run = { code: number | null; stdout: string; stderr: string; output: string }

/**
 * Who answers on INTERNAL_IP/EXTERNAL_IP for this test process right now (the real Traefik's
 * forwarder, or a test's own stand-in servers), or undefined. 04-verify's probes ask those
 * addresses; when this process holds neither, whatever else listens there (another test run on
 * this machine) would answer, and a test could pass or fail because of it.
 */
let probeTargets: string | undefined
export function setProbeTargets(holder: string | undefined): void {
  probeTargets = holder
}

function guardProbes(script: string, args: string[]): void {
  if (script !== '04-verify' && script !== 'run-all') return
  if (args.some((a) => a === '--no-probe' || a === '--help' || a === '--dry-run')) return
  if (probeTargets === undefined) {
    throw new Error(
      `${script} would probe INTERNAL_IP and EXTERNAL_IP, but this test holds neither address, so anything listening there would answer: ` +
        'pass --no-probe, or start the real Traefik first (real-traefik.ts)',
    )
  }
}

/** Runs one of scripts/*.ts with the test env file, the way a user does. */
export function runScript(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Run {
  const c = testCluster()!
  guardProbes(script, args)
  const result = spawnSync(ZX, [path.join('scripts', `${script}.ts`), '--env-file', ENV_FILE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...c.env, ...env },
    timeout: 600_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, output: result.stdout + result.stderr }
}

/**
 * Starts a script without waiting; `onLine` sees each line of its output as it comes, `onSpawn` its
 * process id (the script's own Node process: zx runs the script in it).
 */
export function startScript(
  script: string,
  args: string[],
  onLine: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
  onSpawn: (pid: number) => void = () => {},
): Promise<Run> {
  const c = testCluster()!
  guardProbes(script, args)
  const child = spawn(ZX, [path.join('scripts', `${script}.ts`), '--env-file', ENV_FILE, ...args], { cwd: ROOT, env: { ...c.env, ...env } })
  if (child.pid !== undefined) onSpawn(child.pid)
  let stdout = ''
  let stderr = ''
  const feed = (chunk: Buffer, into: 'out' | 'err') => {
    const text = chunk.toString()
    if (into === 'out') stdout += text
    else stderr += text
    for (const line of text.split('\n')) if (line) onLine(line)
  }
  child.stdout.on('data', (c) => feed(c, 'out'))
  child.stderr.on('data', (c) => feed(c, 'err'))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, output: stdout + stderr })))
}

/** A command against the test cluster (kubectl, helm, cluster.sh); throws on failure unless allowed. */
export function sh(command: string, args: string[], options: { input?: string; allowFail?: boolean } = {}): Run {
  const c = testCluster()!
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: c.env, input: options.input, timeout: 300_000, maxBuffer: 256 * 1024 * 1024 })
  const run = { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', output: (result.stdout ?? '') + (result.stderr ?? '') }
  if (run.code !== 0 && !options.allowFail) throw new Error(`${command} ${args.join(' ')} failed (${run.code}): ${run.stderr}`)
  return run
}

export const kubectl = (...args: string[]) => sh('kubectl', ['--context=homelab-test', ...args])
export const kubectlMaybe = (...args: string[]) => sh('kubectl', ['--context=homelab-test', ...args], { allowFail: true })
export const helm = (...args: string[]) => sh('helm', ['--kube-context=homelab-test', ...args])

/**
 * What the steps own, one fingerprint per object, plus the helm release revision. For objects
 * without a status this is the resourceVersion itself. Controllers keep writing the status of the
 * others (MetalLB's pool counters, the Deployment's replicas), which moves resourceVersion without
 * any step doing anything; for those the fingerprint is everything but the status: generation,
 * labels, annotations, spec, and each non-status managedFields entry with its time.
 */
export function ownedState(): Record<string, string> {
  const state: Record<string, string> = {}
  const lists: [string, string[]][] = [
    ['ipaddresspools.metallb.io', ['-n', 'metallb-system']],
    ['l2advertisements.metallb.io', ['-n', 'metallb-system']],
    ['ingressroutes.traefik.io', ['--all-namespaces']],
    ['deployments,services,persistentvolumeclaims,serviceaccounts,configmaps,secrets', ['-n', 'traefik']],
    // 02 brings the traefik.io CRDs up to the chart's; a rerun must not touch them either.
    ['customresourcedefinitions', []],
    // 03's admission guard (cluster-scoped)
    ['validatingadmissionpolicies.admissionregistration.k8s.io,validatingadmissionpolicybindings.admissionregistration.k8s.io', ['-l', 'app.kubernetes.io/managed-by=homelab-ingress']],
  ]
  for (const [kinds, scope] of lists) {
    const out = kubectlMaybe('get', kinds, ...scope, '-o', 'json', '--show-managed-fields')
    if (out.code !== 0) continue
    for (const item of JSON.parse(out.stdout).items) {
      if (item.kind === 'CustomResourceDefinition' && item.spec.group !== 'traefik.io') continue
      const key = `${item.kind} ${item.metadata.namespace ?? ''}/${item.metadata.name}`
      if (item.status === undefined) {
        state[key] = item.metadata.resourceVersion
        continue
      }
      const { generation, labels, annotations, managedFields = [] } = item.metadata
      const writes = managedFields
        .filter((m: any) => m.subresource !== 'status')
        .map((m: any) => `${m.manager} ${m.operation} ${m.time}`)
      state[key] = JSON.stringify({ generation, labels, annotations, spec: item.spec, writes })
    }
  }
  const release = sh('helm', ['--kube-context=homelab-test', 'list', '-n', 'traefik', '-a', '-o', 'json'], { allowFail: true })
  for (const r of release.code === 0 ? JSON.parse(release.stdout || '[]') : []) state[`release ${r.name}`] = `${r.revision} ${r.status}`
  return state
}

export function helmRelease(): { revision: string; status: string } | undefined {
  const out = helm('list', '-n', 'traefik', '-a', '-o', 'json')
  return JSON.parse(out.stdout || '[]').find((r: { name: string }) => r.name === 'traefik')
}

/** Back to "MetalLB CRDs and its controller present, nothing else". */
export function resetCluster(): void {
  sh('helm', ['--kube-context=homelab-test', 'uninstall', 'traefik', '-n', 'traefik', '--no-hooks'], { allowFail: true })
  // the kit's admission guard first: a deny policy left by a test would refuse the next one's routes
  kubectlMaybe('delete', 'validatingadmissionpolicybindings.admissionregistration.k8s.io,validatingadmissionpolicies.admissionregistration.k8s.io', '-l', 'app.kubernetes.io/managed-by=homelab-ingress', '--wait=true')
  kubectlMaybe('delete', 'ingressroutes.traefik.io', '--all-namespaces', '--all', '--wait=true')
  kubectlMaybe('delete', 'namespace', 'traefik', 'argocd', 'longhorn-system', 'squatters', '--ignore-not-found', '--wait=true', '--timeout=120s')
  kubectlMaybe('delete', 'ipaddresspools.metallb.io,l2advertisements.metallb.io', '-n', 'metallb-system', '--all', '--wait=true')
  // helm never deletes CRDs, nor does the kit: a clean slate removes them here.
  const crds = kubectlMaybe('get', 'customresourcedefinitions', '-o', 'json')
  const traefikCrds = crds.code === 0 ? JSON.parse(crds.stdout).items.filter((c: any) => c.spec.group === 'traefik.io').map((c: any) => c.metadata.name) : []
  if (traefikCrds.length > 0) kubectlMaybe('delete', 'customresourcedefinitions', ...traefikCrds, '--wait=true')
  // helm keeps nothing else; the release records lived in the traefik namespace.
}

/** An admin app's namespace and Service, as if ArgoCD were installed. */
export function installFakeApp(namespace: string, service: string, port: number): void {
  applyYaml(`apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: v1
kind: Service
metadata: {name: ${service}, namespace: ${namespace}}
spec:
  selector: {app: ${service}}
  ports: [{name: http, port: ${port}, targetPort: ${port}}]
`)
}

/** kubectl apply of a YAML text to the test cluster. */
export function applyYaml(yaml: string): void {
  sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: yaml })
}

/** Someone else's LoadBalancer Service in the Traefik namespace, asking for INTERNAL_IP. */
export function createSquatter(): void {
  applyYaml(`apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: Service
metadata:
  name: squatter
  namespace: traefik
  annotations: {metallb.io/loadBalancerIPs: 127.0.0.200}
spec:
  type: LoadBalancer
  selector: {app: squatter}
  ports: [{port: 80}]
`)
  kubectl('wait', '--for=jsonpath={.status.loadBalancer.ingress[0].ip}=127.0.0.200', 'service/squatter', '-n', 'traefik', '--timeout=60s')
}

/** An ArgoCD route someone attached to the public entrypoint web. */
export const ROGUE_ARGOCD_ROUTE = `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-shortcut, namespace: argocd}
spec:
  entryPoints: [web, intweb]
  routes:
  - kind: Rule
    match: Host(\`argocd.home.example\`)
    services: [{name: argocd-server, port: 80}]
`

/** Ingress objects for admin hosts: one as a Helm chart's `ingress.enabled` makes it (no entrypoints:
 * every entrypoint), one bound to the internal entrypoints, one of another controller's class. */
export const ADMIN_INGRESSES = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: longhorn-ingress, namespace: longhorn-system}
spec:
  rules:
  - host: longhorn.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-internal-ingress
  namespace: argocd
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: "intweb,intwebsec"}
spec:
  ingressClassName: traefik
  rules:
  - host: argocd.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: argocd-other-controller, namespace: argocd}
spec:
  ingressClassName: nginx
  rules:
  - host: argocd.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
`
