/**
 * Records how failures look to the kit, from the real test cluster, into test/recorded/errors.json:
 * the errors of its API client (HTTP status and the server's Status, or Node's connection error) and
 * helm's stderr, with the MetalLB webhook down, hanging or saying no, and with the API server down,
 * not trusted or refusing the user.
 * The unit tests of the error classification (test/errors.test.ts) run on these. Rerun with:
 *   npm run cluster:up && node test/recorded/record-errors.ts
 * It stops and restarts MetalLB's controller and the API server, and leaves the cluster as it found it.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { connectCluster, type Cluster } from '../../lib/kube/cluster.ts'
import { planApply } from '../../lib/kube/apply.ts'
import { apiPath, rawGet } from '../../lib/kube/raw.ts'
import { metallbManifests } from '../../lib/render/render.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { CLUSTER_DIR, CLUSTER_SH, ENV_FILE, kubectl, kubectlMaybe, resetCluster, sh, testCluster } from '../integration/harness.ts'

const c = testCluster()
if (!c) {
  console.error('the test cluster is not built: npm run cluster:build')
  process.exit(2)
}
Object.assign(process.env, { KUBECONFIG: c.env.KUBECONFIG, PATH: c.env.PATH })
const config = loadConfig({ envFile: ENV_FILE })
const cluster = connectCluster(config)
const pools = metallbManifests(config)

type Recorded = Record<string, unknown>
const shapes: Record<string, Recorded> = {}

/** The fields the kit reads of a thrown error, as plain data. */
function fields(err: any): Recorded {
  const out: Recorded = { class: err?.constructor?.name, name: err?.name, message: err?.message }
  for (const key of ['code', 'errno', 'type', 'syscall', 'address', 'port', 'statusCode', 'body', 'headers']) {
    if (err?.[key] !== undefined) out[key] = err[key]
  }
  if (err?.cause) out.cause = fields(err.cause)
  return out
}

async function api(name: string, note: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action()
    throw new Error(`${name}: expected a failure`)
  } catch (err) {
    if ((err as Error).message?.endsWith('expected a failure')) throw err
    shapes[name] = { note, server: cluster.server, source: 'api', error: fields(err) }
  }
}

function command(name: string, note: string, bin: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): void {
  const out = spawnSync(bin, args, { encoding: 'utf8', input, env: { ...c!.env, ...env }, timeout: 120_000 })
  if (out.status === 0) throw new Error(`${name}: expected ${bin} to fail:\n${out.stdout}`)
  shapes[name] = { note, server: cluster.server, source: bin, args, exitCode: out.status, stdout: out.stdout, stderr: out.stderr }
}

/** What 01 does first: a server-side dry run of its objects, through MetalLB's webhook. */
const planPools = (c: Cluster) => () => planApply(c, pools)
const readCrd = (c: Cluster) => () => rawGet(c, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name: 'ipaddresspools.metallb.io' }))
const helmList = ['--kube-context=homelab-test', 'list', '--namespace', 'traefik', '--output', 'json']
const clusterSh = (...args: string[]) => sh('bash', [CLUSTER_SH, ...args])
const webhookPort = Number(/METALLB_WEBHOOK_PORT=(\d+)/.exec(fs.readFileSync(path.join(CLUSTER_DIR, 'ports.env'), 'utf8'))![1])

resetCluster()

// --- the webhook down: the API server answers 500 "failed calling webhook ... connection refused"
clusterSh('stop-metallb')
try {
  await api('webhook-refused/api', 'MetalLB controller stopped; server-side apply dry run of the 01-metallb objects', planPools(cluster))

  // --- the webhook hanging: it accepts connections and never answers; the API server gives up after the
  // webhook's timeoutSeconds (10 s by default)
  const sockets: net.Socket[] = []
  const hanging = net.createServer((socket) => sockets.push(socket))
  await new Promise<void>((resolve) => hanging.listen(webhookPort, '127.0.0.1', resolve))
  try {
    await api('webhook-hanging/api', 'a listener on the webhook port that never answers; server-side apply dry run of the 01-metallb objects', planPools(cluster))
  } finally {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => hanging.close(resolve))
  }
} finally {
  clusterSh('start-metallb')
}

// --- the webhook saying no: two pools overlapping each other, made while no webhook was registered
const webhookConfig = JSON.parse(kubectl('get', 'validatingwebhookconfiguration', 'metallb-webhook-configuration', '-o', 'json').stdout)
for (const key of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation']) delete webhookConfig.metadata[key]
kubectl('delete', 'validatingwebhookconfiguration', 'metallb-webhook-configuration')
try {
  sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], {
    input: `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-a, namespace: metallb-system}
spec: {addresses: [127.0.0.210/31], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-b, namespace: metallb-system}
spec: {addresses: [127.0.0.211/32], autoAssign: false}
`,
  })
} finally {
  sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: JSON.stringify(webhookConfig) })
}
try {
  await api('webhook-denied/api', 'pools lab-a 127.0.0.210/31 and lab-b 127.0.0.211/32 overlap; server-side apply dry run of the 01-metallb objects', planPools(cluster))
} finally {
  kubectlMaybe('delete', 'ipaddresspools.metallb.io', 'lab-a', 'lab-b', '-n', 'metallb-system')
}

// --- the API server not trusted: a kubeconfig whose CA did not sign the server's certificate
const untrusted = path.join(CLUSTER_DIR, 'kubeconfig-untrusted-ca')
const kubeconfig = JSON.parse(kubectl('config', 'view', '--raw', '-o', 'json').stdout)
kubeconfig.clusters[0].cluster['certificate-authority-data'] = kubeconfig.users[0].user['client-certificate-data']
fs.writeFileSync(untrusted, JSON.stringify(kubeconfig), { mode: 0o600 })
try {
  process.env.KUBECONFIG = untrusted
  const distrusting = connectCluster(config)
  await api('apiserver-untrusted/api', 'kubeconfig CA is not the one that signed the API server certificate; read a CRD', readCrd(distrusting))
  command('apiserver-untrusted/helm-list', 'kubeconfig CA is not the one that signed the API server certificate; helm list', 'helm', helmList, undefined, { KUBECONFIG: untrusted })
} finally {
  process.env.KUBECONFIG = c.env.KUBECONFIG
  fs.rmSync(untrusted, { force: true })
}

// --- the API server answering 403: a user with no rights at all
kubectl('create', 'serviceaccount', 'errors-recorder-nobody', '-n', 'default')
const nobody = path.join(CLUSTER_DIR, 'kubeconfig-nobody')
const nobodyConfig = JSON.parse(kubectl('config', 'view', '--raw', '--minify', '-o', 'json').stdout)
nobodyConfig.users[0].user = { token: kubectl('create', 'token', 'errors-recorder-nobody', '-n', 'default', '--duration=10m').stdout.trim() }
fs.writeFileSync(nobody, JSON.stringify(nobodyConfig), { mode: 0o600 })
try {
  process.env.KUBECONFIG = nobody
  await api('apiserver-forbidden/api', 'a user without rights; read a CRD', readCrd(connectCluster(config)))
  command('apiserver-forbidden/helm-list', 'a user without rights; helm list', 'helm', helmList, undefined, { KUBECONFIG: nobody })
} finally {
  process.env.KUBECONFIG = c.env.KUBECONFIG
  fs.rmSync(nobody, { force: true })
  kubectlMaybe('delete', 'serviceaccount', 'errors-recorder-nobody', '-n', 'default')
}

// --- the API server down (killed; its port refuses connections)
await readCrd(cluster)() // a connection kept alive, for the first read after
clusterSh('stop-apiserver', '--kill') // no graceful close: the kept-alive connection just ends
try {
  await api('apiserver-down/api-kept-alive', 'API server stopped; a read on a connection kept alive from before it stopped', readCrd(cluster))
  await api('apiserver-down/api', 'API server stopped; read a CRD on a new connection', readCrd(connectCluster(config)))
  command('apiserver-down/helm-list', 'API server stopped; helm list', 'helm', helmList)
} finally {
  clusterSh('start-apiserver')
}

const file = path.join(import.meta.dirname, 'errors.json')
fs.writeFileSync(file, JSON.stringify(shapes, null, 1) + '\n')
console.error(`wrote ${path.relative(process.cwd(), file)} (${Object.keys(shapes).length} shapes)`)
