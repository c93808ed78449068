/**
 * A certificate really issued in cert-manager mode: the real cert-manager v1.21.2 controller, the kit's
 * ClusterIssuer (HTTP-01) and Certificate for PUBLIC_PROBE_HOST, Pebble validating through EXTERNAL_IP:80
 * and the real Traefik (run by real-traefik.ts with the Deployment's arguments), which then serves the
 * issued certificate on EXTERNAL_IP:443 as its default certificate (TLSStore default).
 *
 * What the test adds to the kit's objects, and why (all on a test cluster whose pods kwok fakes):
 * - the issuer's solver gets a podTemplate nodeSelector matching no node, so kwok does not "run" the
 *   solver pod (its fake address would become the Service's endpoint); test/cluster/http01-solver.sh runs
 *   cert-manager's acmesolver for it on loopback and makes the solver Service an ExternalName to it;
 * - Traefik's Ingress provider is started with allowExternalNameServices=true (for that ExternalName);
 * - the issuer gets Pebble's caBundle.
 * Then the drain: the real Traefik, sent SIGTERM, stops answering /ping at once (what takes a pod out of
 * its Services) while it keeps serving requests on EXTERNAL_IP for requestAcceptGraceTimeout. One
 * process: kube-proxy removing the endpoint and a second replica taking over are not exercised.
 * Needs root (ports 80/443) and runs under the lock other tests on 127.0.0.200/201 use:
 *   flock /tmp/homelab-ingress-lb.lock node test/integration/cert-manager-http01.test.ts
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, CLUSTER_DIR, installFakeApp, kubectl, kubectlMaybe, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'
import { EXTERNAL_IP, type RealTraefik, request, startRealTraefik } from './real-traefik.ts'

const cluster = testCluster()
const built = cluster ? spawnSync('bash', [CLUSTER_SH, 'built', 'cert-manager', 'pebble', 'traefik']).status === 0 : false
const skip = !cluster
  ? skipReason()
  : !built
    ? 'cert-manager, Pebble and Traefik are not built (bash test/cluster/cluster.sh build cert-manager pebble traefik)'
    : process.getuid?.() !== 0
      ? "Traefik's and Pebble's ports 80/443 need root"
      : ''
if (skip) console.log(`\n  cert-manager HTTP-01 issuance test skipped: ${skip}\n`)

const bin = (name: string) => sh('bash', [CLUSTER_SH, 'bin', name]).stdout.trim()
const HOST = 'app.example.org'
const procs: ChildProcess[] = []
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-cm-http01-'))
let kitEnv: Record<string, string> = {}
let caBundle = ''
let pebbleManagement = 0
let rt: RealTraefik | undefined

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const out = fs.openSync(path.join(WORK, `${name}.log`), 'w')
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env })
  procs.push(child)
  return child
}

async function until<T>(what: string, seconds: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what} (logs: ${WORK})`)
    await new Promise((r) => setTimeout(r, 500))
  }
}
const json = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json').stdout)

const test = suite('integration: cert-manager mode issues through the real Traefik (HTTP-01, Pebble)')
const it = skip ? test.skip : test

test.before(async () => {
  if (skip) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  const chart = bin('cert-manager-chart')
  const crds = fs.readdirSync(path.join(chart, 'templates')).filter((f) => /^crd-.*\.yaml$/.test(f))
  const rendered = sh('helm', ['template', 'cert-manager', chart, '--namespace', 'cert-manager', '--set', 'crds.enabled=true', ...crds.flatMap((f) => ['--show-only', `templates/${f}`])]).stdout
  sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '--force-conflicts', '-f', '-'], { input: rendered })
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/challenges.acme.cert-manager.io')
  applyYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n')
  const plain = { PATH: process.env.PATH ?? '' }
  // every name resolves to EXTERNAL_IP, for Pebble and for cert-manager's self check
  const dnsPort = await freePort()
  start('challtestsrv', bin('pebble-challtestsrv'), ['-dnsserver', `127.0.0.1:${dnsPort}`, '-defaultIPv4', EXTERNAL_IP, '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-management', `127.0.0.1:${await freePort()}`], plain)
  const pebbleDir = path.dirname(bin('pebble'))
  const pebblePort = await freePort()
  pebbleManagement = await freePort()
  fs.writeFileSync(path.join(WORK, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${pebblePort}`,
      managementListenAddress: `127.0.0.1:${pebbleManagement}`,
      certificate: path.join(pebbleDir, 'certs', 'cert.pem'),
      privateKey: path.join(pebbleDir, 'certs', 'key.pem'),
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }))
  start('pebble', bin('pebble'), ['-config', path.join(WORK, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { ...plain, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' })
  await until('Pebble listening', 30, () => (/Listening on: /.test(fs.readFileSync(path.join(WORK, 'pebble.log'), 'utf8')) ? true : undefined))
  caBundle = fs.readFileSync(path.join(pebbleDir, 'certs', 'pebble.minica.pem')).toString('base64')
  start('controller', bin('cert-manager-controller'), [
    '--kubeconfig', path.join(CLUSTER_DIR, 'kubeconfig'),
    '--cluster-resource-namespace', 'cert-manager',
    '--acme-http01-solver-nameservers', `127.0.0.1:${dnsPort}`,
    '--v=2',
  ], plain)
  start('http01-solver', 'bash', [path.join(path.dirname(CLUSTER_SH), 'http01-solver.sh'), 'traefik', path.join(WORK, 'http01')], cluster!.env)
  kitEnv = { CERTIFICATES: 'cert-manager', ACME_CA: `https://127.0.0.1:${pebblePort}/dir`, ACME_CHALLENGE: 'http', PUBLIC_PROBE_HOST: HOST, ADMIN_ALLOW_CIDRS: 'off' }
})

test.after(async () => {
  if (skip) return void fs.rmSync(WORK, { recursive: true, force: true })
  if (rt) await rt.stop()
  kubectlMaybe('delete', 'certificates.cert-manager.io,orders.acme.cert-manager.io,challenges.acme.cert-manager.io', '--all', '-n', 'traefik', '--wait=true', '--timeout=30s')
  kubectlMaybe('delete', 'clusterissuers.cert-manager.io', '--all')
  for (const p of procs) {
    try {
      process.kill(-p.pid!, 'SIGTERM')
    } catch {}
  }
  resetCluster()
  const crds = kubectlMaybe('get', 'customresourcedefinitions', '-o', 'json')
  const names = crds.code === 0 ? JSON.parse(crds.stdout).items.filter((c: any) => /cert-manager\.io$/.test(c.spec.group)).map((c: any) => c.metadata.name) : []
  if (names.length) kubectlMaybe('delete', 'customresourcedefinitions', ...names, '--wait=true')
  kubectlMaybe('delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=60s')
  if (!process.env.KEEP_LOGS) fs.rmSync(WORK, { recursive: true, force: true })
})

it('the Certificate for PUBLIC_PROBE_HOST becomes Ready: Pebble validated it through EXTERNAL_IP:80 and the real Traefik', async () => {
  assert.is(runScript('01-metallb', [], kitEnv).code, 0)
  const r = runScript('02-traefik', [], kitEnv)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /cert-manager objects: 2 created/)
  // the test's additions (see the header)
  const solver = { http01: { ingress: { ingressClassName: 'traefik', ingressTemplate: { metadata: { annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'web' } } }, podTemplate: { spec: { nodeSelector: { 'homelab-ingress.test/solver': 'out-of-cluster' } } } } } }
  kubectl('patch', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme', '--type=merge', '--field-manager=homelab-ingress-test', '-p', JSON.stringify({ spec: { acme: { caBundle, solvers: [solver] } } }))
  const deployment = json('-n', 'traefik', 'get', 'deployment', 'traefik')
  const args: string[] = deployment.spec.template.spec.containers[0].args
  if (!args.includes('--providers.kubernetesingress.allowExternalNameServices=true')) {
    kubectl('-n', 'traefik', 'patch', 'deployment', 'traefik', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--providers.kubernetesingress.allowExternalNameServices=true' }]))
    kubectl('-n', 'traefik', 'rollout', 'status', 'deployment/traefik', '--timeout=90s')
  }
  rt = await startRealTraefik()
  const started = Date.now()
  const ready = await until('the Certificate Ready', 150, () => {
    const c = (json('-n', 'traefik', 'get', 'certificates.cert-manager.io', 'homelab-ingress-public').status?.conditions ?? []).find((c: any) => c.type === 'Ready')
    return c?.status === 'True' ? c : undefined
  })
  console.log(`\n    Certificate ${HOST} Ready ${((Date.now() - started) / 1000).toFixed(1)} s after the real Traefik answered: ${ready.message}`)
  const served = fs.readdirSync(path.join(WORK, 'http01')).map((f) => fs.readFileSync(path.join(WORK, 'http01', f), 'utf8')).join('').match(/got successful challenge request/g)?.length ?? 0
  assert.ok(served >= 2, `cert-manager's acmesolver answered ${served} challenge requests through Traefik`)
})

it('Traefik serves the issued certificate for PUBLIC_PROBE_HOST on EXTERNAL_IP:443 (TLSStore default), chaining to Pebble\'s root', async () => {
  const root = await until('Pebble\'s root', 20, async () => {
    const r = await request('127.0.0.1', pebbleManagement, '127.0.0.1', '/roots/0', { tls: true, ca: Buffer.from(caBundle, 'base64').toString() }).catch(() => undefined)
    return r?.status === 200 ? r.body : undefined
  })
  const answer = await until('the issued certificate served', 30, async () => {
    const a = await request(EXTERNAL_IP, 443, HOST, '/', { tls: true, ca: root }).catch(() => undefined)
    return a?.authorized ? a : undefined
  })
  assert.match(answer.certificate?.subjectaltname ?? '', new RegExp(`DNS:${HOST.replaceAll('.', '\\.')}`))
  console.log(`    ${EXTERNAL_IP}:443 (SNI ${HOST}): ${answer.certificate?.subjectaltname}, issuer ${answer.certificate?.issuer?.CN}, verified against Pebble's root`)
})

it('04 in cert-manager mode: the ClusterIssuer and the real Certificate pass, with days left', () => {
  const r = runScript('04-verify', ['--no-probe', '--timeout', '30'], kitEnv)
  assert.match(r.stderr, /\[ok {2}\] ClusterIssuer homelab-ingress-acme Ready/)
  assert.match(r.stderr, new RegExp(`\\[ok {2}\\] Certificate traefik/homelab-ingress-public \\(${HOST.replaceAll('.', '\\.')}\\) Ready, not about to expire: valid until \\S+ \\(\\d+ days left\\)`))
  assert.match(r.stderr, /\[ok {2}\] Secret traefik\/homelab-ingress-public-tls present/)
})

it('drain: told to stop, the real Traefik fails /ping at once (readiness) while it keeps serving a bounded load on EXTERNAL_IP for requestAcceptGraceTimeout', async () => {
  const args = rt!.plan.args
  assert.ok(args.includes('--entryPoints.websecure.transport.lifeCycle.requestAcceptGraceTimeout=15s'), args.join(' '))
  const pingPort = rt!.plan.entrypoints.get('traefik')!
  const pid = Number(spawnSync('pgrep', ['-f', '--', `--entryPoints.web.address=${rt!.traefikIp}:`], { encoding: 'utf8' }).stdout.trim().split('\n')[0])
  assert.ok(pid > 0, 'the real Traefik process')
  assert.is((await request(rt!.traefikIp, pingPort, rt!.traefikIp, '/ping', { tls: false })).status, 200)
  process.kill(pid, 'SIGTERM')
  const results = { requests: 0, failed: 0, pingStatuses: new Set<number>(), errors: [] as string[] }
  const deadline = Date.now() + 8000 // within the 15 s grace, with margin
  while (Date.now() < deadline) {
    const [answer, ping] = await Promise.all([
      request(EXTERNAL_IP, 443, HOST, '/', { tls: true, timeoutMs: 3000 }).then((a) => a.status, (e: Error) => e.message),
      request(rt!.traefikIp, pingPort, rt!.traefikIp, '/ping', { tls: false, timeoutMs: 3000 }).then((a) => a.status, () => 0),
    ])
    results.requests++
    if (typeof answer !== 'number') {
      results.failed++
      results.errors.push(answer)
    }
    results.pingStatuses.add(ping)
    await new Promise((r) => setTimeout(r, 50))
  }
  console.log(`    drain: ${results.requests} requests to ${EXTERNAL_IP}:443 in the 8 s after SIGTERM, ${results.failed} failed; /ping answered ${[...results.pingStatuses].join(', ')}`)
  assert.is(results.failed, 0, results.errors.slice(0, 3).join('; '))
  assert.ok(results.requests > 20)
  // the readiness probe's /ping is on the entrypoint traefik, which has no grace: it stops at once
  // (refused, 0 here; a 503 would do as well), so the pod leaves its Services while web/websecure serve on
  assert.not.ok(results.pingStatuses.has(200), 'readiness fails at once and stays failed')
})

test.run()
