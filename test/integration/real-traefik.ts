/**
 * The real Traefik, run as a local process with the arguments the chart rendered into the test
 * cluster's Deployment (kwok runs no containers), and Pebble as its ACME server.
 *
 * What changes from the Deployment, and why:
 * - each `--entryPoints.X.address=:PORT/tcp` is bound to one loopback address (TRAEFIK_IP:PORT);
 * - the kubernetescrd/kubernetesingress/kubernetesgateway providers get the test API server's endpoint, its CA and a
 *   token of the chart's ServiceAccount from the TokenRequest API (in a pod these come from the
 *   mounted ServiceAccount); KUBECONFIG and KUBERNETES_SERVICE_HOST are kept out of its environment
 *   (Traefik prefers them over the flags);
 * - the ACME storage moves to a temporary directory, and LEGO_CA_CERTIFICATES trusts Pebble.
 * A forwarder (lb-forwarder.ts, its own process) stands in for kube-proxy: the LoadBalancer Services
 * in the Traefik namespace decide which entrypoint answers on which address, through their
 * `status.loadBalancer.ingress[].ip`, `port` and `targetPort` (a container port name of the
 * Deployment, which is the entrypoint's name in the chart).
 *
 * Nothing here resolves a DNS name: everything is an IP on 127.0.0.0/8 and Pebble's only resolver is
 * pebble-challtestsrv, which answers every name with EXTERNAL_IP.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import dotenv from 'dotenv'
import { applyYaml, CLUSTER_DIR, CLUSTER_SH, ENV_FILE, kubectl, kubectlMaybe, setProbeTargets, testCluster } from './harness.ts'
import { bindErrorMessage, type ForwardRoute } from './lb-forwarder.ts'

const TEST_ENV = dotenv.parse(fs.readFileSync(ENV_FILE))
export const NAMESPACE = TEST_ENV.TRAEFIK_NAMESPACE ?? 'traefik'
export const INTERNAL_IP = TEST_ENV.INTERNAL_IP!
export const EXTERNAL_IP = TEST_ENV.EXTERNAL_IP!
const FORWARDER = path.join(import.meta.dirname, 'lb-forwarder.ts')
/** The Traefik release cluster.sh builds (test/cluster/versions.env): what /api/version must report. */
export const TRAEFIK_VERSION = dotenv.parse(fs.readFileSync(path.join(path.dirname(CLUSTER_SH), 'versions.env'))).TRAEFIK_VERSION!
/** The extra read access Traefik v3.6 needs beyond the chart 33.2.1 ClusterRole (test-only). */
const EXTRA_RBAC = 'homelab-ingress-test-traefik-configmaps'

/** Why the real Traefik cannot run here, or undefined when it can. */
export function realTraefikUnavailable(): string | undefined {
  if (!testCluster()) return 'no test cluster'
  const built = spawnSync('bash', [CLUSTER_SH, 'built', 'traefik', 'pebble'], { encoding: 'utf8' })
  if (built.status !== 0) return 'Traefik and Pebble are not built: run `bash test/cluster/cluster.sh build traefik pebble` (Traefik ~11 min cold)'
  return undefined
}

function cachedBinary(name: string): string {
  const out = spawnSync('bash', [CLUSTER_SH, 'bin', name], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`cluster.sh bin ${name}: ${out.stderr}`)
  return out.stdout.trim()
}

// --- child processes: each in its own process group, killed by PID (group) and never by name

type Proc = { name: string; child: ChildProcess; logFile: string; exited: Promise<void> }
const running = new Set<Proc>()
// A test process that dies without its after() hook still takes its children with it.
process.on('exit', () => {
  for (const p of running) killGroup(p, 'SIGKILL')
})
// Stopped by a signal (Ctrl-C, a CI timeout), Node runs no 'exit' hooks: exit properly so it does.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)))
}

function killGroup(p: Proc, signal: NodeJS.Signals): void {
  if (p.child.pid === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return
  try {
    process.kill(-p.child.pid, signal)
  } catch {
    // already gone
  }
}

function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Proc {
  const fd = fs.openSync(logFile, 'a')
  // Output to a file, not a pipe: the tests block their event loop in spawnSync, and a child
  // writing into a full pipe would stall.
  const child = spawn(command, args, { env, stdio: ['ignore', fd, fd], detached: true })
  fs.closeSync(fd)
  // A test that forgets stop() must not keep the test process alive; the exit hook kills it then.
  child.unref()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const p: Proc = { name, child, logFile, exited }
  running.add(p)
  exited.then(() => running.delete(p))
  return p
}

/** Waits up to `ms` for the process to exit; true when it did. The timer keeps this process alive
 * meanwhile (the child itself is unref'd, so awaiting its exit alone could let Node quit). */
async function exitedWithin(p: Proc, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  const done = await Promise.race([p.exited.then(() => true as const), late])
  clearTimeout(timer)
  return done
}

/** SIGTERM to the process group; SIGKILL after `graceMs` (Traefik waits up to 10 s for open connections). */
async function stopProcess(p: Proc, graceMs = 5000): Promise<void> {
  killGroup(p, 'SIGTERM')
  if (await exitedWithin(p, graceMs)) return
  killGroup(p, 'SIGKILL')
  if (!(await exitedWithin(p, 5000))) throw new Error(`${p.name} (pid ${p.child.pid}) did not exit after SIGKILL`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const readLog = (p: Proc) => (fs.existsSync(p.logFile) ? fs.readFileSync(p.logFile, 'utf8') : '')
const tail = (text: string, lines = 30) => text.trimEnd().split('\n').slice(-lines).join('\n')

/** Polls `check` until it returns a value; fails early when `proc` has exited. */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, seconds: number, proc?: Proc): Promise<T> {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) while waiting for ${what}:\n${tail(readLog(proc))}`)
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}${proc ? `; ${proc.name} log:\n${tail(readLog(proc))}` : ''}`)
    await sleep(200)
  }
}

/** A free TCP port on 127.0.0.1 (UDP is checked too for the DNS server). */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

function tcpOpen(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

// --- requests (all to IPs; Host header and SNI carry the name)

export type Answer = { status: number; body: string; certificate?: PeerCertificate; authorized?: boolean; authorizationError?: string }

/**
 * GET http(s)://ip:port/path with Host (and SNI) `host`. With `ca`, the server's certificate is
 * verified against it for `host`; without, any certificate is accepted (Traefik's default one).
 */
export function request(
  ip: string,
  port: number,
  host: string,
  urlPath = '/',
  options: { tls?: boolean; ca?: string; timeoutMs?: number; localAddress?: string } = {},
): Promise<Answer> {
  const useTls = options.tls ?? port === 443
  return new Promise((resolve, reject) => {
    // localAddress: ask from another loopback source (every 127.x is local); the forwarder keeps it.
    const common = { host: ip, port, path: urlPath, headers: { Host: host }, timeout: options.timeoutMs ?? 5000, agent: false as const, localAddress: options.localAddress }
    const onResponse = (res: http.IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => {
        const socket = res.socket as TLSSocket
        const extra = useTls ? { certificate: socket.getPeerCertificate?.(true), authorized: socket.authorized, authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined } : {}
        resolve({ status: res.statusCode ?? 0, body, ...extra })
      })
    }
    const req = useTls
      ? https.request({ ...common, servername: net.isIP(host) ? undefined : host, ca: options.ca, rejectUnauthorized: false }, onResponse)
      : http.request(common, onResponse)
    req.on('timeout', () => req.destroy(new Error(`timed out asking ${ip}:${port} for ${host}${urlPath}`)))
    req.on('error', reject)
    req.end()
  })
}

// --- Pebble

export type Pebble = {
  directory: string
  /** Root of the certificates Pebble issues (made fresh at each start). */
  issuerRoot: string
  /** Root of Pebble's own HTTPS certificate: what an ACME client must trust to talk to it. */
  serverRoot: string
  orders(): number
  log(): string
}

async function startPebble(directory: string, dir: string, procs: Proc[]): Promise<Pebble> {
  const url = new URL(directory)
  if (url.protocol !== 'https:' || !net.isIPv4(url.hostname) || !url.hostname.startsWith('127.')) {
    throw new Error(`ACME_CA=${directory}: the tests need Pebble on a loopback IP, e.g. https://127.0.0.1:14000/dir`)
  }
  const pebbleDir = path.dirname(cachedBinary('pebble'))
  const serverRoot = fs.readFileSync(path.join(pebbleDir, 'certs', 'pebble.minica.pem'), 'utf8')
  const dnsPort = await freePort()
  const challManagementPort = await freePort()
  const managementPort = await freePort()
  // challtestsrv answers every name with EXTERNAL_IP and nothing on IPv6 (else Pebble dials ::1
  // first); its challenge listeners are off (Traefik answers the challenges). Its management
  // interface cannot be turned off: an empty address would mean port 80 on every interface.
  const chall = startProcess(
    'pebble-challtestsrv',
    cachedBinary('pebble-challtestsrv'),
    ['-dnsserver', `127.0.0.1:${dnsPort}`, '-defaultIPv4', EXTERNAL_IP, '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-management', `127.0.0.1:${challManagementPort}`],
    { PATH: process.env.PATH },
    path.join(dir, 'challtestsrv.log'),
  )
  procs.push(chall)
  await until('pebble-challtestsrv DNS', async () => ((await tcpOpen('127.0.0.1', dnsPort)) ? true : undefined), 20, chall)
  const config = {
    pebble: {
      listenAddress: url.host,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: path.join(pebbleDir, 'certs', 'cert.pem'),
      privateKey: path.join(pebbleDir, 'certs', 'key.pem'),
      // HTTP-01 is validated on port 80 of the address the name resolves to: EXTERNAL_IP:80.
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      keyAlgorithm: 'ecdsa',
    },
  }
  const configFile = path.join(dir, 'pebble-config.json')
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2))
  const pebble = startProcess(
    'pebble',
    cachedBinary('pebble'),
    ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`],
    // no sleeps before validation, and no nonces rejected at random: the test measures Traefik, not retries
    { PATH: process.env.PATH, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    path.join(dir, 'pebble.log'),
  )
  procs.push(pebble)
  await until('Pebble listening', () => {
    const log = readLog(pebble)
    if (/address already in use/.test(log)) throw new Error(`Pebble: ${bindErrorMessage('EADDRINUSE', url.host)}`)
    if (/permission denied/.test(log)) throw new Error(`Pebble: ${bindErrorMessage('EACCES', url.host)}`)
    return /Listening on: /.test(log) ? true : undefined
  }, 30, pebble)
  const issuerRoot = await until('Pebble root certificate', async () => {
    const r = await request('127.0.0.1', managementPort, '127.0.0.1', '/roots/0', { tls: true, ca: serverRoot }).catch(() => undefined)
    return r?.status === 200 && r.authorized ? r.body : undefined
  }, 20, pebble)
  return {
    directory,
    issuerRoot,
    serverRoot,
    orders: () => (readLog(pebble).match(/Added order /g) ?? []).length,
    log: () => readLog(pebble),
  }
}

// --- Traefik from the cluster's Deployment

type Deployment = { spec: { selector: { matchLabels: Record<string, string> }; template: { spec: any } } }

export type TraefikPlan = {
  args: string[]
  /** entrypoint name -> port it listens on (on TRAEFIK_IP) */
  entrypoints: Map<string, number>
  routes: ForwardRoute[]
  serviceAccount: string
  podName: string
  acmeStorage: string[]
  caServer?: string
  /** the container's env entries (values, or fieldRefs to fill in) */
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]
}

/**
 * Reads the chart's Deployment and LoadBalancer Services from the cluster and turns them into the
 * local Traefik's arguments and the forwarder's routes. Throws on anything it does not know how to
 * map, rather than running something other than what the chart rendered.
 */
export function planFromCluster(traefikIp: string, dataDir: string, apiServer: string, tokenFile: string, caFile: string): TraefikPlan {
  const deployments = JSON.parse(kubectl('get', 'deployments', '-n', NAMESPACE, '-l', 'app.kubernetes.io/name=traefik', '-o', 'json').stdout).items as Deployment[]
  if (deployments.length !== 1) throw new Error(`expected one Traefik Deployment in ${NAMESPACE}, found ${deployments.length}`)
  const deployment = deployments[0]
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const selector = Object.entries(deployment.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',')
  const pods = JSON.parse(kubectl('get', 'pods', '-n', NAMESPACE, '-l', selector, '-o', 'json').stdout).items
  const runningPod = pods.find((p: any) => p.status?.phase === 'Running')
  if (!runningPod) throw new Error(`no Running Traefik pod in ${NAMESPACE} (selector ${selector}): run the kit's 01-03 first`)

  const entrypoints = new Map<string, number>()
  const acmeStorage: string[] = []
  let caServer: string | undefined
  const args: string[] = []
  for (const arg of container.args as string[]) {
    const address = /^--entry[pP]oints\.([^.=]+)\.address=([^:]*):(\d+)(\/tcp)?$/i.exec(arg)
    if (address) {
      if (address[2] !== '') throw new Error(`entrypoint ${address[1]} is bound to host ${address[2]} in the Deployment; the test only rebinds ':PORT' addresses`)
      entrypoints.set(address[1], Number(address[3]))
      args.push(`--entryPoints.${address[1]}.address=${traefikIp}:${address[3]}${address[4] ?? ''}`)
      continue
    }
    const storage = /^(--certificates[rR]esolvers\.[^.]+\.acme\.storage)=(.*)$/i.exec(arg)
    if (storage) {
      const local = path.join(dataDir, path.basename(storage[2]))
      acmeStorage.push(local)
      args.push(`${storage[1]}=${local}`)
      continue
    }
    const ca = /^--certificates[rR]esolvers\.[^.]+\.acme\.ca[sS]erver=(.*)$/i.exec(arg)
    if (ca) caServer = ca[1]
    // Any other file path in the arguments would point into the pod's filesystem.
    if (/=\//.test(arg)) throw new Error(`Deployment argument ${arg} names a path in the pod; teach real-traefik.ts where it goes on this machine`)
    args.push(arg)
  }
  for (const provider of ['kubernetescrd', 'kubernetesingress', 'kubernetesgateway']) {
    if (!args.some((a) => a.toLowerCase() === `--providers.${provider}` || a.toLowerCase().startsWith(`--providers.${provider}=`) || a.toLowerCase().startsWith(`--providers.${provider}.`))) continue
    args.push(`--providers.${provider}.endpoint=${apiServer}`, `--providers.${provider}.token=${tokenFile}`, `--providers.${provider}.certauthfilepath=${caFile}`)
  }

  // Service targetPort (a container port name, or a number) -> container port -> the entrypoint on it.
  const containerPorts = new Map<string, number>((container.ports ?? []).map((p: any) => [p.name, p.containerPort]))
  const services = JSON.parse(kubectl('get', 'services', '-n', NAMESPACE, '-o', 'json').stdout).items
  const routes: ForwardRoute[] = []
  for (const svc of services) {
    if (svc.spec.type !== 'LoadBalancer') continue
    for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
      if (!ingress.ip) continue
      if (!ingress.ip.startsWith('127.')) throw new Error(`Service ${svc.metadata.name} has address ${ingress.ip}: tests only use 127.0.0.0/8`)
      for (const port of svc.spec.ports) {
        if ((port.protocol ?? 'TCP') !== 'TCP') continue
        const target = typeof port.targetPort === 'number' ? port.targetPort : containerPorts.get(port.targetPort)
        if (target === undefined) throw new Error(`Service ${svc.metadata.name} port ${port.port} targets ${port.targetPort}, which is no container port of the Deployment`)
        if (![...entrypoints.values()].includes(target)) throw new Error(`Service ${svc.metadata.name} port ${port.port} targets container port ${target}, where no entrypoint listens`)
        routes.push({ listen: { ip: ingress.ip, port: port.port }, target: { ip: traefikIp, port: target } })
      }
    }
  }
  return { args, entrypoints, routes, serviceAccount: pod.serviceAccountName ?? 'default', podName: runningPod.metadata.name, acmeStorage, caServer, env: container.env ?? [] }
}

/** Grants the chart's ServiceAccount read access to ConfigMaps when its ClusterRole lacks it. */
function ensureConfigMapAccess(serviceAccount: string): boolean {
  // a grant left by an interrupted run must not hide what the chart's own ClusterRole allows
  kubectlMaybe('delete', 'clusterrolebinding,clusterrole', EXTRA_RBAC, '--ignore-not-found')
  const can = kubectlMaybe('auth', 'can-i', 'watch', 'configmaps', '--all-namespaces', `--as=system:serviceaccount:${NAMESPACE}:${serviceAccount}`)
  if (can.stdout.trim() === 'yes') return false
  // Chart 33.2.1's ClusterRole (written for Traefik v3.2) has no configmaps rule; Traefik v3.6's CRD
  // provider watches them and stalls on "configmaps is forbidden" without it. Test-only grant,
  // removed again by stop().
  applyYaml(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${EXTRA_RBAC}
  labels: {app.kubernetes.io/managed-by: homelab-ingress-tests}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${EXTRA_RBAC}
  labels: {app.kubernetes.io/managed-by: homelab-ingress-tests}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${EXTRA_RBAC}}
subjects:
- {kind: ServiceAccount, name: ${serviceAccount}, namespace: ${NAMESPACE}}
`)
  return true
}

export type RealTraefik = {
  traefikIp: string
  dir: string
  plan: TraefikPlan
  pebble?: Pebble
  /** ms from spawning Traefik to /ping answering, and to the first route answering through the forwarder */
  timings: { ping: number; routes: number }
  /** true when a test-only ClusterRole had to add configmaps (chart 33.2.1 lacks it) */
  grantedConfigMaps: boolean
  traefikLog(): string
  forwarderLog(): string
  /** Peak resident memory (kB) of each process so far. */
  memory(): Record<string, number>
  restart(): Promise<void>
  stop(): Promise<void>
}

export type StartOptions = {
  /** also run Pebble (at the Deployment's ACME caServer) and pebble-challtestsrv */
  pebble?: boolean
  /** a request that answers once routes are live; default: the dashboard on INTERNAL_IP:80 */
  routesLive?: () => Promise<boolean>
}

/** A loopback address for Traefik's entrypoints, different per run (127.10.x.y). */
function pickTraefikIp(): string {
  return `127.10.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
}

/**
 * Starts Pebble (optional), the forwarder and Traefik; resolves once routes answer. On any failure
 * everything started so far is stopped again before the error is thrown.
 */
export async function startRealTraefik(options: StartOptions = {}): Promise<RealTraefik> {
  const cluster = testCluster()
  if (!cluster) throw new Error('no test cluster')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-real-traefik-'))
  const procs: Proc[] = []
  let granted = false
  let traefik: Proc | undefined
  const stopAll = async () => {
    setProbeTargets(undefined)
    await Promise.all([...procs].reverse().map((p) => stopProcess(p)))
    procs.length = 0
    if (granted) kubectlMaybe('delete', 'clusterrolebinding,clusterrole', EXTRA_RBAC, '--ignore-not-found')
  }
  try {
    const traefikIp = pickTraefikIp()
    const dataDir = path.join(dir, 'data')
    fs.mkdirSync(dataDir, { mode: 0o700 })
    const tokenFile = path.join(dir, 'token')
    const caFile = path.join(CLUSTER_DIR, 'pki', 'ca.crt')
    const apiServer = cluster.env.HOMELAB_INGRESS_APISERVER!
    const plan = planFromCluster(traefikIp, dataDir, apiServer, tokenFile, caFile)
    // TokenRequest API: a bound token of the chart's ServiceAccount, as the kubelet would mount it.
    fs.writeFileSync(tokenFile, kubectl('create', 'token', plan.serviceAccount, '-n', NAMESPACE, '--duration=2h').stdout.trim(), { mode: 0o600 })
    granted = ensureConfigMapAccess(plan.serviceAccount)

    let pebble: Pebble | undefined
    if (options.pebble) {
      if (!plan.caServer) throw new Error('the Deployment has no --certificatesresolvers.*.acme.caServer: set ACME_CA in test/integration/test.env to Pebble\'s directory')
      pebble = await startPebble(plan.caServer, dir, procs)
      fs.writeFileSync(path.join(dir, 'pebble-root.pem'), pebble.serverRoot)
    }

    const forwarder = startProcess('lb-forwarder', process.execPath, [FORWARDER, JSON.stringify(plan.routes)], { PATH: process.env.PATH }, path.join(dir, 'forwarder.log'))
    procs.push(forwarder)
    await until('the forwarder to bind the LoadBalancer addresses', () => {
      const log = readLog(forwarder)
      const failed = /^bind-error (\S+) (\S+)$/m.exec(log)
      if (failed) throw new Error(bindErrorMessage(failed[1], failed[2]))
      if (/^refused /m.test(log)) throw new Error(`forwarder: ${log.trim()}`)
      return /^ready$/m.test(log) ? true : undefined
    }, 20, forwarder)
    setProbeTargets(`the real Traefik (forwarder in ${dir})`)

    // Traefik's environment: the Deployment's env with the pod fields filled in; nothing of ours
    // (no KUBECONFIG, no KUBERNETES_SERVICE_HOST: Traefik would prefer them to the flags).
    const podEnv: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', HOME: dir }
    for (const e of plan.env) {
      const field = e.valueFrom?.fieldRef?.fieldPath
      if (e.value !== undefined) podEnv[e.name] = e.value
      else if (field === 'metadata.name') podEnv[e.name] = plan.podName
      else if (field === 'metadata.namespace') podEnv[e.name] = NAMESPACE
      else throw new Error(`Deployment env ${e.name} comes from ${JSON.stringify(e.valueFrom)}; teach real-traefik.ts to fill it in`)
    }
    if (pebble) podEnv.LEGO_CA_CERTIFICATES = path.join(dir, 'pebble-root.pem')

    const traefikBin = cachedBinary('traefik')
    const pingPort = plan.entrypoints.get('traefik')
    if (pingPort === undefined) throw new Error('the Deployment has no traefik entrypoint (where /ping answers)')
    const routesLive = options.routesLive ?? (async () => (await request(INTERNAL_IP, 80, `traefik.${TEST_ENV.DOMAIN}`, '/dashboard/').catch(() => undefined))?.status === 200)

    const timings = { ping: 0, routes: 0 }
    const launch = async () => {
      const started = Date.now()
      traefik = startProcess('traefik', traefikBin, plan.args, podEnv, path.join(dir, 'traefik.log'))
      procs.push(traefik)
      const t = traefik
      await until('Traefik /ping', async () => {
        const log = readLog(t)
        const bind = /listen tcp ([\d.]+:\d+): bind: (address already in use|permission denied)/.exec(log)
        if (bind) throw new Error(`Traefik: ${bindErrorMessage(bind[2] === 'permission denied' ? 'EACCES' : 'EADDRINUSE', bind[1])}`)
        return (await request(traefikIp, pingPort, traefikIp, '/ping', { tls: false }).catch(() => undefined))?.status === 200 ? true : undefined
      }, 30, t)
      timings.ping = Date.now() - started
      await until('routes to answer through the forwarder', async () => ((await routesLive()) ? true : undefined), 60, t)
      timings.routes = Date.now() - started
      const forbidden = readLog(t).match(/[a-z.]+ is forbidden[^"\n]*/g)
      if (forbidden) throw new Error(`Traefik's ServiceAccount lacks permissions: ${[...new Set(forbidden)].join('; ')}`)
    }
    await launch()

    const handle: RealTraefik = {
      traefikIp,
      dir,
      plan,
      pebble,
      timings,
      grantedConfigMaps: granted,
      traefikLog: () => (traefik ? readLog(traefik) : ''),
      forwarderLog: () => readLog(forwarder),
      memory: () => {
        const out: Record<string, number> = {}
        for (const p of procs) {
          let status = ''
          try {
            status = fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8')
          } catch {
            continue // exited
          }
          const hwm = /VmHWM:\s+(\d+) kB/.exec(status)
          if (hwm) out[p.name] = Number(hwm[1])
        }
        return out
      },
      restart: async () => {
        const old = traefik!
        await stopProcess(old)
        procs.splice(procs.indexOf(old), 1)
        fs.appendFileSync(old.logFile, '=== restart\n')
        await launch()
      },
      stop: async () => {
        await stopAll()
        // HOMELAB_INGRESS_KEEP_LOGS=1 keeps the logs, acme.json and Pebble's config for a look afterwards
        if (process.env.HOMELAB_INGRESS_KEEP_LOGS === '1') console.log(`  real Traefik's files kept in ${dir}`)
        else fs.rmSync(dir, { recursive: true, force: true })
      },
    }
    return handle
  } catch (err) {
    await stopAll()
    const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log'))
    throw new Error(`${(err as Error).message}\n(logs: ${logs.map((f) => path.join(dir, f)).join(', ')})`, { cause: err })
  }
}
