/**
 * The real cert-manager v1.21.2 controller (built from its Go module, run out of cluster) against the
 * kit's ClusterIssuer and Certificate in cert-manager mode with HTTP-01, and the real Pebble:
 * - the ACME account is registered with Pebble (ClusterIssuer Ready, written by cert-manager);
 * - cert-manager creates the HTTP-01 solver Ingress of the kit's issuer: class traefik, on the public
 *   entrypoint web;
 * - nothing serves the challenge (no Traefik runs here: PUBLIC_PROBE_HOST resolves, through
 *   pebble-challtestsrv, to 127.0.0.77 where nothing listens), so the Certificate is stuck, and 04 says
 *   why with cert-manager's own Challenge reason;
 * - a no-op rerun of 02 writes nothing although the test gave the issuer Pebble's CA (caBundle) under
 *   a field manager of its own; going back to acme removes the kit's objects while the controller runs.
 * - cert-manager's real webhook (its registrations rendered from its chart, pointing at 127.0.0.1) admits
 *   the kit's objects, and is shown to be judging by refusing an invalid Certificate.
 * Not covered here: issuance through the real Traefik (cert-manager-smoke.sh does that by hand).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import YAML from 'yaml'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, CLUSTER_DIR, installFakeApp, kubectl, kubectlMaybe, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
const built = cluster ? spawnSync('bash', [CLUSTER_SH, 'built', 'cert-manager', 'pebble']).status === 0 : false
const skip = !cluster ? skipReason() : !built ? 'cert-manager and Pebble are not built (bash test/cluster/cluster.sh build cert-manager pebble)' : ''
if (skip) console.log(`\n  real cert-manager tests skipped: ${skip}\n`)

const bin = (name: string) => sh('bash', [CLUSTER_SH, 'bin', name]).stdout.trim()
const NOWHERE = '127.0.0.77'
const procs: ChildProcess[] = []
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-cm-real-'))
let env: Record<string, string> = {}

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

function start(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const out = fs.openSync(path.join(WORK, `${name}.log`), 'w')
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '', ...extraEnv } })
  procs.push(child)
  return child
}

async function until<T>(what: string, seconds: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what} (logs: ${WORK})`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

const WEBHOOK_RELEASE = 'homelab-ingress-test-cm'

/** cert-manager's webhook on 127.0.0.1 (certificate from the test cluster's CA), registered from its chart. */
async function startWebhook(): Promise<void> {
  const pki = path.join(CLUSTER_DIR, 'pki')
  const port = await freePort()
  const key = path.join(WORK, 'webhook.key')
  const csr = path.join(WORK, 'webhook.csr')
  const crt = path.join(WORK, 'webhook.crt')
  const ext = path.join(WORK, 'webhook.ext')
  fs.writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n')
  for (const args of [
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key],
    ['req', '-new', '-key', key, '-subj', '/CN=cert-manager-webhook.cert-manager.svc', '-out', csr],
    ['x509', '-req', '-in', csr, '-CA', path.join(pki, 'ca.crt'), '-CAkey', path.join(pki, 'ca.key'), '-CAcreateserial', '-CAserial', path.join(WORK, 'ca.srl'), '-sha256', '-days', '1', '-extfile', ext, '-out', crt],
  ]) {
    const out = spawnSync('openssl', args, { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`openssl ${args[0]}: ${out.stderr}`)
  }
  start('webhook', bin('cert-manager-webhook'), ['--kubeconfig', path.join(CLUSTER_DIR, 'kubeconfig'), '--secure-port', String(port), '--tls-cert-file', crt, '--tls-private-key-file', key, '--v=2'])
  await until('the webhook answering', 60, () => {
    const out = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '--cacert', path.join(pki, 'ca.crt'), `https://127.0.0.1:${port}/validate`], { encoding: 'utf8' })
    return /^[1-5]\d\d$/.test(out.stdout) && out.stdout !== '404' ? true : undefined
  })
  const rendered = sh('helm', ['template', WEBHOOK_RELEASE, bin('cert-manager-chart'), '--namespace', 'cert-manager', '--set', `webhook.url.host=127.0.0.1:${port}`, '--show-only', 'templates/webhook-validating-webhook.yaml', '--show-only', 'templates/webhook-mutating-webhook.yaml']).stdout
  const caBundle = fs.readFileSync(path.join(pki, 'ca.crt')).toString('base64')
  const docs = YAML.parseAllDocuments(rendered).map((d) => d.toJS()).filter(Boolean)
  for (const doc of docs) for (const hook of doc.webhooks) hook.clientConfig.caBundle = caBundle
  sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: docs.map((d) => YAML.stringify(d)).join('---\n') })
}

const test = suite('integration: the real cert-manager controller and Pebble on the kit\'s objects')
const it = skip ? test.skip : test

test.before(async () => {
  if (skip) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  // cert-manager's CRDs from its chart
  const chart = bin('cert-manager-chart')
  const crds = fs.readdirSync(path.join(chart, 'templates')).filter((f) => /^crd-.*\.yaml$/.test(f))
  const rendered = sh('helm', ['template', 'cert-manager', chart, '--namespace', 'cert-manager', '--set', 'crds.enabled=true', ...crds.flatMap((f) => ['--show-only', `templates/${f}`])]).stdout
  sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '--force-conflicts', '-f', '-'], { input: rendered })
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/challenges.acme.cert-manager.io')
  applyYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n')
  // pebble-challtestsrv: the only DNS Pebble and cert-manager ask; every name is NOWHERE
  const dnsPort = await freePort()
  start('challtestsrv', bin('pebble-challtestsrv'), ['-dnsserver', `127.0.0.1:${dnsPort}`, '-defaultIPv4', NOWHERE, '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-management', `127.0.0.1:${await freePort()}`])
  const pebbleDir = path.dirname(bin('pebble'))
  const pebblePort = await freePort()
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${pebblePort}`,
      managementListenAddress: `127.0.0.1:${await freePort()}`,
      certificate: path.join(pebbleDir, 'certs', 'cert.pem'),
      privateKey: path.join(pebbleDir, 'certs', 'key.pem'),
      httpPort: await freePort(),
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }
  fs.writeFileSync(path.join(WORK, 'pebble.json'), JSON.stringify(config))
  start('pebble', bin('pebble'), ['-config', path.join(WORK, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' })
  await until('Pebble listening', 30, () => (/Listening on: /.test(fs.readFileSync(path.join(WORK, 'pebble.log'), 'utf8')) ? true : undefined))
  await startWebhook()
  start('controller', bin('cert-manager-controller'), [
    '--kubeconfig', path.join(CLUSTER_DIR, 'kubeconfig'),
    '--cluster-resource-namespace', 'cert-manager',
    '--acme-http01-solver-nameservers', `127.0.0.1:${dnsPort}`,
    '--dns01-recursive-nameservers', `127.0.0.1:${dnsPort}`,
    '--dns01-recursive-nameservers-only',
    '--v=2',
  ])
  env = {
    CERTIFICATES: 'cert-manager',
    ACME_CA: `https://127.0.0.1:${pebblePort}/dir`,
    ACME_CHALLENGE: 'http',
    PUBLIC_PROBE_HOST: 'app.home.example',
    caBundle: Buffer.from(fs.readFileSync(path.join(pebbleDir, 'certs', 'pebble.minica.pem'))).toString('base64'),
  }
})

test.after(() => {
  if (skip) return void fs.rmSync(WORK, { recursive: true, force: true })
  // the namespace's Challenges keep a finalizer until the controller removes it: delete while it runs
  kubectlMaybe('delete', 'certificates.cert-manager.io,orders.acme.cert-manager.io,challenges.acme.cert-manager.io', '--all', '-n', 'traefik', '--wait=true', '--timeout=30s')
  kubectlMaybe('delete', 'clusterissuers.cert-manager.io', '--all')
  // before the webhook stops: with failurePolicy Fail they would refuse every cert-manager object
  kubectlMaybe('delete', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', '-l', `app.kubernetes.io/instance=${WEBHOOK_RELEASE}`)
  for (const p of procs) {
    try {
      process.kill(-p.pid!, 'SIGTERM')
    } catch {}
  }
  if (!process.env.KEEP_LOGS) fs.rmSync(WORK, { recursive: true, force: true })
  // what this file installed: cert-manager's CRDs and namespace
  resetCluster()
  const crds = kubectlMaybe('get', 'customresourcedefinitions', '-o', 'json')
  const names = crds.code === 0 ? JSON.parse(crds.stdout).items.filter((c: any) => /cert-manager\.io$/.test(c.spec.group)).map((c: any) => c.metadata.name) : []
  if (names.length) kubectlMaybe('delete', 'customresourcedefinitions', ...names, '--wait=true')
  kubectlMaybe('delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=60s')
})

const kitEnv = () => ({ CERTIFICATES: env.CERTIFICATES, ACME_CA: env.ACME_CA, ACME_CHALLENGE: env.ACME_CHALLENGE, PUBLIC_PROBE_HOST: env.PUBLIC_PROBE_HOST })
const json = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json').stdout)

it('cert-manager\'s real webhook is judging: it refuses a Certificate without names', () => {
  const out = sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], {
    allowFail: true,
    input: JSON.stringify({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'invalid', namespace: 'default' }, spec: { secretName: 'invalid-tls', issuerRef: { name: 'x', kind: 'ClusterIssuer' } } }),
  })
  assert.is.not(out.code, 0)
  assert.match(out.stderr, /admission webhook "webhook\.cert-manager\.io" denied the request/)
})

it('02 in cert-manager mode (its objects admitted by the webhook); given Pebble\'s CA, cert-manager registers the ACME account: ClusterIssuer Ready', async () => {
  assert.is(runScript('01-metallb').code, 0)
  const r = runScript('02-traefik', [], kitEnv())
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /cert-manager objects: 2 created/)
  // what a user of a private ACME CA adds, under a field manager of its own
  kubectl('patch', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme', '--type=merge', '--field-manager=homelab-ingress-test', '-p', JSON.stringify({ spec: { acme: { caBundle: env.caBundle } } }))
  const ready = await until('ClusterIssuer Ready', 60, () => {
    const c = (json('get', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme').status?.conditions ?? []).find((c: any) => c.type === 'Ready')
    return c?.status === 'True' ? c : undefined
  })
  assert.is(ready.reason, 'ACMEAccountRegistered')
})

it('cert-manager makes the solver Ingress of the kit\'s issuer: class traefik, public entrypoint web only', async () => {
  const ingress = await until('the HTTP-01 solver Ingress', 60, () => json('-n', 'traefik', 'get', 'ingresses').items[0])
  assert.is(ingress.spec.ingressClassName, 'traefik')
  assert.is(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints'], 'web')
  assert.is(ingress.spec.rules[0].host, 'app.home.example')
  assert.match(ingress.spec.rules[0].http.paths[0].path, /^\/\.well-known\/acme-challenge\//)
})

it('the challenge cannot be served: 04 names the stuck Certificate\'s Challenge with cert-manager\'s own reason', async () => {
  const reason = await until('a Challenge reason', 90, () => {
    const c = json('-n', 'traefik', 'get', 'challenges.acme.cert-manager.io').items[0]
    return c?.status?.reason ? (c.status.reason as string) : undefined
  })
  const r = runScript('04-verify', ['--no-probe', '--timeout', '20'], kitEnv())
  assert.is(r.code, 1, r.output)
  assert.match(r.stderr, /\[ok {2}\] ClusterIssuer homelab-ingress-acme Ready: The ACME account was registered with the ACME server/)
  const line = r.stderr.split('\n').find((l) => l.includes('Certificate traefik/homelab-ingress-public (app.home.example)')) ?? ''
  console.log(`\n    04 with the real controller's Challenge: ${line.trim()}`)
  assert.match(line, /\[FAIL\]/)
  assert.match(line, /Order homelab-ingress-public-\S+ pending; Challenge HTTP-01 for app\.home\.example pending: /)
  assert.ok(line.includes(reason.split('\n')[0].slice(0, 60)), `04 should quote cert-manager's reason ${JSON.stringify(reason)}: ${line}`)
  assert.match(line, new RegExp(`${NOWHERE.replaceAll('.', '\\.')}|connection refused|self check`))
  assert.match(line, /the CA must reach http:\/\/<host>\/\.well-known\/acme-challenge\/ on EXTERNAL_IP:80/)
})

it('a no-op rerun of 02 writes nothing, though another field manager gave the issuer its caBundle', () => {
  const version = () => kubectl('get', 'clusterissuers.cert-manager.io,certificates.cert-manager.io', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}={.metadata.generation} {end}').stdout
  const before = version()
  const r = runScript('02-traefik', [], kitEnv())
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /cert-manager objects: 2 unchanged/)
  assert.is(json('get', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme').spec.acme.caBundle, env.caBundle)
  // generations, not resourceVersions: the controller writes status all along
  const generations = (s: string) => s.split(' ').map((x) => x.split('=').filter((_, i) => i !== 1).join('='))
  assert.equal(generations(version()), generations(before))
})

it('back to acme while the controller runs: the kit\'s issuer and Certificate (and cert-manager\'s Orders, Challenges, solver Ingress) go', async () => {
  const r = runScript('02-traefik', [], { ACME_CA: env.ACME_CA })
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /cert-manager objects: 2 deleted/)
  await until('the Challenges and the solver Ingress gone', 60, () =>
    json('-n', 'traefik', 'get', 'challenges.acme.cert-manager.io').items.length === 0 && json('-n', 'traefik', 'get', 'ingresses').items.length === 0 ? true : undefined,
  )
  assert.is(kubectlMaybe('get', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme').code, 1)
})

test.run()
