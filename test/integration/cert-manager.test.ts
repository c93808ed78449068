/**
 * CERTIFICATES=cert-manager on the test cluster: refused while cert-manager is absent; acme ->
 * cert-manager -> acme as reruns (nothing orphaned, the acme.json volume kept); a no-op rerun that
 * writes nothing; 04's checks, and a node failure with the replicas on two kwok nodes.
 *
 * What is real here: the API server (cert-manager's own CRDs from its v1.21.2 chart, so its schema
 * judges the kit's ClusterIssuer and Certificates), the scheduler spreading the replicas over two kwok
 * nodes, kube-controller-manager's Deployment, PodDisruptionBudget and node lifecycle controllers,
 * helm with the stand-in chart. What stands in: cert-manager's controller does not run, so the
 * Certificates' and ClusterIssuer's status and the Secrets (a self-signed certificate, labelled as
 * cert-manager labels them through the Certificate's secretTemplate) are written by this test.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { applyYaml, CLUSTER_SH, installFakeApp, kubectl, kubectlMaybe, ownedState, resetCluster, runScript, sh, skipReason, testCluster } from './harness.ts'

const cluster = testCluster()
const certManagerBuilt = cluster ? spawnSync('bash', [CLUSTER_SH, 'built', 'cert-manager']).status === 0 : false
const skip = !cluster ? skipReason() : !certManagerBuilt ? 'cert-manager is not built (bash test/cluster/cluster.sh build cert-manager): its CRDs come from its chart' : ''
if (skip) console.log(`\n  cert-manager integration tests skipped: ${skip}\n`)

const SECOND_NODE = 'kwok-node-1'
const INSTANCE = 'traefik.home.example'
/** cert-manager mode, DNS-01 (Cloudflare's solver: the Secret only has to exist) and a public host outside the wildcard. */
const CERT_MANAGER = { CERTIFICATES: 'cert-manager', ACME_CHALLENGE: 'dns:cloudflare', ACME_DNS_SECRET: 'cf-token', PUBLIC_PROBE_HOST: 'app.example.org' }
const CERTIFICATES = [
  { name: 'homelab-ingress-admin', secret: 'homelab-ingress-admin-tls', host: '*.home.example' },
  { name: 'homelab-ingress-public', secret: 'homelab-ingress-public-tls', host: 'app.example.org' },
]

const test = suite('integration: CERTIFICATES=cert-manager')
const it = skip ? test.skip : test

function secondNode(): void {
  applyYaml(`apiVersion: v1
kind: Node
metadata:
  name: ${SECOND_NODE}
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/arch: amd64, kubernetes.io/hostname: ${SECOND_NODE}, kubernetes.io/os: linux, kubernetes.io/role: agent, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
`)
  kubectl('wait', '--for=condition=Ready', `node/${SECOND_NODE}`, '--timeout=60s')
}

function installCertManagerCrds(): void {
  const chart = sh('bash', [CLUSTER_SH, 'bin', 'cert-manager-chart']).stdout.trim()
  const crds = fs.readdirSync(path.join(chart, 'templates')).filter((f) => /^crd-.*\.yaml$/.test(f))
  const rendered = sh('helm', ['template', 'cert-manager', chart, '--namespace', 'cert-manager', '--set', 'crds.enabled=true', ...crds.flatMap((f) => ['--show-only', `templates/${f}`])]).stdout
  sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '--force-conflicts', '-f', '-'], { input: rendered })
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/clusterissuers.cert-manager.io', 'crd/orders.acme.cert-manager.io', 'crd/challenges.acme.cert-manager.io')
  applyYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n')
  kubectlMaybe('-n', 'cert-manager', 'create', 'secret', 'generic', 'cf-token', '--from-literal=CF_DNS_API_TOKEN=not-a-real-token')
}

function removeCertManagerCrds(): void {
  const crds = kubectlMaybe('get', 'customresourcedefinitions', '-o', 'json')
  const names = crds.code === 0 ? JSON.parse(crds.stdout).items.filter((c: any) => /cert-manager\.io$/.test(c.spec.group)).map((c: any) => c.metadata.name) : []
  if (names.length) kubectlMaybe('delete', 'customresourcedefinitions', ...names, '--wait=true')
  kubectlMaybe('delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=60s')
}

/** What cert-manager's controller would write once it has issued: the Secret, then Ready with the dates. */
function issue(days: number): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-cert-'))
  try {
    for (const c of CERTIFICATES) {
      const key = path.join(dir, 'key.pem')
      const crt = path.join(dir, 'crt.pem')
      const subject = c.host.replace('*', 'wildcard')
      const out = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', `/CN=${subject}`, '-addext', `subjectAltName=DNS:${c.host}`, '-keyout', key, '-out', crt], { encoding: 'utf8' })
      assert.is(out.status, 0, out.stderr)
      kubectlMaybe('-n', 'traefik', 'delete', 'secret', c.secret, '--ignore-not-found')
      kubectl('-n', 'traefik', 'create', 'secret', 'tls', c.secret, `--cert=${crt}`, `--key=${key}`)
      kubectl('-n', 'traefik', 'label', 'secret', c.secret, 'app.kubernetes.io/managed-by=homelab-ingress', `homelab-ingress/instance=${INSTANCE}`, 'controller.cert-manager.io/fao=true')
      kubectl('-n', 'traefik', 'annotate', 'secret', c.secret, `cert-manager.io/certificate-name=${c.name}`, 'cert-manager.io/issuer-kind=ClusterIssuer', 'cert-manager.io/issuer-name=homelab-ingress-acme')
      const now = new Date()
      const status = {
        status: {
          conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired', lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z'), observedGeneration: 1 }],
          notBefore: now.toISOString().replace(/\.\d+Z$/, 'Z'),
          notAfter: new Date(now.getTime() + days * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          revision: 1,
        },
      }
      kubectl('-n', 'traefik', 'patch', 'certificates.cert-manager.io', c.name, '--subresource=status', '--type=merge', '-p', JSON.stringify(status))
    }
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
  const issuerStatus = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'ACMEAccountRegistered', message: 'The ACME account was registered with the ACME server', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } }
  kubectl('patch', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme', '--subresource=status', '--type=merge', '-p', JSON.stringify(issuerStatus))
}

const json = (...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json').stdout)
const traefikPods = (): any[] =>
  json('-n', 'traefik', 'get', 'pods', '-l', 'app.kubernetes.io/name=traefik').items.filter((p: any) => !p.metadata.deletionTimestamp)
function waitForPods(count: number, distinctNodes: number): any[] {
  const deadline = Date.now() + 90_000
  let pods: any[] = []
  while (Date.now() < deadline) {
    pods = traefikPods()
    const ready = pods.filter((p) => (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'))
    if (pods.length === count && ready.length === count && new Set(ready.map((p) => p.spec.nodeName)).size === distinctNodes) return pods
    spawnSync('sleep', ['1'])
  }
  assert.unreachable(`expected ${count} Ready Traefik pods on ${distinctNodes} node(s), have: ${pods.map((p) => `${p.metadata.name}@${p.spec.nodeName}`).join(', ')}`)
  return pods
}
const certManagerState = () => {
  const out = kubectlMaybe('get', 'clusterissuers.cert-manager.io,certificates.cert-manager.io', '-A', '-l', 'app.kubernetes.io/managed-by=homelab-ingress', '-o', 'json')
  return out.code === 0 ? JSON.parse(out.stdout).items.map((o: any) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} ${o.metadata.resourceVersion}`) : []
}

test.before(() => {
  if (skip) return
  resetCluster()
  removeCertManagerCrds()
  kubectlMaybe('delete', 'node', SECOND_NODE, '--ignore-not-found')
  installFakeApp('argocd', 'argocd-server', 80)
  secondNode()
})

test.after(() => {
  if (skip) return
  // the kit's objects first (no controller runs: nothing holds a finalizer), then what this file installed
  resetCluster()
  kubectlMaybe('delete', 'clusterissuers.cert-manager.io,certificates.cert-manager.io', '--all', '-A', '--wait=true')
  removeCertManagerCrds()
  kubectlMaybe('delete', 'node', SECOND_NODE, '--ignore-not-found')
})

it('cert-manager mode without cert-manager installed: refused (exit 3) naming how to install it, nothing changed', () => {
  assert.is(runScript('01-metallb').code, 0)
  const before = ownedState()
  const r = runScript('02-traefik', [], CERT_MANAGER)
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, /CERTIFICATES=cert-manager: cert-manager is not installed in context homelab-test \(no CRD certificates\.cert-manager\.io\); nothing was changed/)
  assert.match(r.stderr, /helm install cert-manager jetstack\/cert-manager --namespace cert-manager --create-namespace --set crds\.enabled=true/)
  assert.match(r.stderr, /CERTIFICATES=acme/)
  assert.equal(ownedState(), before)
})

it('TRAEFIK_REPLICAS=2 in acme mode is a configuration error naming the setting and the reason', () => {
  const r = runScript('02-traefik', [], { TRAEFIK_REPLICAS: '2' })
  assert.is(r.code, 2, r.output)
  assert.match(r.stderr, /TRAEFIK_REPLICAS: 2 needs CERTIFICATES=cert-manager: Traefik's ACME cannot run with more than one replica/)
})

it('acme mode converges as before (one replica, the acme.json volume), cert-manager installed beside it', () => {
  installCertManagerCrds()
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^02-traefik: release traefik installed \(revision 1, [^)]*\); 10 traefik\.io CRDs updated first$/m)
  assert.match(r.stdout, /^04-verify: OK/m)
  assert.not.match(r.stderr, /ClusterIssuer|Certificate /)
  assert.is(json('-n', 'traefik', 'get', 'deployment', 'traefik').spec.strategy.type, 'Recreate')
  assert.is(kubectl('-n', 'traefik', 'get', 'pvc', 'traefik', '-o', 'name').stdout.trim(), 'persistentvolumeclaim/traefik')
})

it('acme -> cert-manager: 2 replicas on the two nodes, no volume mounted, PDB, TLSStore, ClusterIssuer and Certificates; the acme.json volume kept and said so', () => {
  const r = runScript('02-traefik', [], CERT_MANAGER)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^02-traefik: release traefik upgraded \(revision 2, .*\); cert-manager objects: 3 created; acme\.json volume traefik\/traefik kept \(unused; delete it yourself\)$/m)
  assert.match(r.stderr, /the acme\.json volume \(PersistentVolumeClaim traefik\/traefik\) of CERTIFICATES=acme is kept/)
  const deployment = json('-n', 'traefik', 'get', 'deployment', 'traefik')
  assert.is(deployment.spec.replicas, 2)
  assert.equal(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
  assert.is(deployment.spec.template.spec.volumes.some((v: any) => v.persistentVolumeClaim), false)
  const args: string[] = deployment.spec.template.spec.containers[0].args
  assert.ok(args.includes('--entryPoints.websecure.transport.lifeCycle.requestAcceptGraceTimeout=15s'), args.join(' '))
  assert.not.ok(args.some((a) => a.includes('certificatesresolvers') || a.includes('certResolver')), args.join(' '))
  assert.equal(json('-n', 'traefik', 'get', 'poddisruptionbudget', 'traefik').spec.maxUnavailable, 1)
  assert.equal(json('-n', 'traefik', 'get', 'tlsstores.traefik.io', 'default').spec, { defaultCertificate: { secretName: 'homelab-ingress-admin-tls' } })
  const issuer = json('get', 'clusterissuers.cert-manager.io', 'homelab-ingress-acme')
  assert.equal(issuer.spec.acme.solvers, [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cf-token', key: 'CF_DNS_API_TOKEN' } } } }])
  assert.is(issuer.spec.acme.server, 'https://127.0.0.1:14000/dir')
  const certs = json('-n', 'traefik', 'get', 'certificates.cert-manager.io').items
  assert.equal(certs.map((c: any) => [c.metadata.name, c.spec.dnsNames]).sort(), [['homelab-ingress-admin', ['*.home.example']], ['homelab-ingress-public', ['app.example.org']]])
  assert.is(kubectl('-n', 'traefik', 'get', 'pvc', 'traefik', '-o', 'name').stdout.trim(), 'persistentvolumeclaim/traefik')
  const pods = waitForPods(2, 2)
  assert.equal(pods.map((p) => p.spec.nodeName).sort(), ['kwok-node-0', SECOND_NODE])
})

it('04 before cert-manager has issued anything: fails, each Certificate and Secret saying so', () => {
  const r = runScript('04-verify', ['--no-probe', '--timeout', '20'], CERT_MANAGER)
  assert.is(r.code, 1, r.output)
  assert.match(r.stderr, /\[FAIL\] ClusterIssuer homelab-ingress-acme Ready: no Ready condition yet: is cert-manager running\?/)
  assert.match(r.stderr, /\[FAIL\] Certificate traefik\/homelab-ingress-admin \(\*\.home\.example\) Ready, not about to expire: no Ready condition yet/)
  assert.match(r.stderr, /\[FAIL\] Secret traefik\/homelab-ingress-public-tls present: missing/)
  assert.match(r.stderr, /\[ok {2}\] Traefik replicas Ready on distinct nodes \(2 wanted\): 2\/2 Ready on 2 nodes/)
})

it('04 once issued (status and Secrets written by the test): passes, naming days left, replicas and the PDB', () => {
  issue(90)
  const r = runScript('04-verify', ['--no-probe', '--timeout', '30'], CERT_MANAGER)
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /\[ok {2}\] ClusterIssuer homelab-ingress-acme Ready: The ACME account was registered/)
  assert.match(r.stderr, /\[ok {2}\] Certificate traefik\/homelab-ingress-admin \(\*\.home\.example\) Ready, not about to expire: valid until \d{4}-\d\d-\d\d \((89|90) days left\)/)
  assert.match(r.stderr, /\[ok {2}\] Secret traefik\/homelab-ingress-admin-tls present/)
  assert.match(r.stderr, /\[ok {2}\] PodDisruptionBudget traefik\/traefik allows a disruption: 1 allowed \(2 healthy, 1 needed\)/)
})

it('a no-op rerun of 02 in cert-manager mode writes nothing', () => {
  const before = { owned: ownedState(), certManager: certManagerState() }
  const r = runScript('02-traefik', [], CERT_MANAGER)
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^02-traefik: release traefik unchanged \(revision 2, .*\); cert-manager objects: 3 unchanged; acme\.json volume traefik\/traefik kept/m)
  assert.equal({ owned: ownedState(), certManager: certManagerState() }, before)
})

it('a Certificate about to expire fails 04, naming the days left', () => {
  issue(3)
  const r = runScript('04-verify', ['--no-probe', '--timeout', '10'], CERT_MANAGER)
  assert.is(r.code, 1, r.output)
  assert.match(r.stderr, /\[FAIL\] Certificate traefik\/homelab-ingress-public \(app\.example\.org\) Ready, not about to expire: valid until \d{4}-\d\d-\d\d \((2|3) days left\): about to expire/)
  issue(90)
})

it('a node failure: 04 reports the replica there degraded while it lasts; a replacement on the other node makes it pass again (warning)', () => {
  // kwok stops keeping the node alive; the node lifecycle controller then sees it as a dead kubelet would leave it
  kubectl('annotate', 'node', SECOND_NODE, 'kwok.x-k8s.io/node-')
  const notReady = { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'node failure (test)', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } }
  kubectl('patch', 'node', SECOND_NODE, '--subresource=status', '--type=strategic', '-p', JSON.stringify(notReady))
  const degraded = runScript('04-verify', ['--no-probe', '--timeout', '10'], CERT_MANAGER)
  assert.is(degraded.code, 1, degraded.output)
  assert.match(degraded.stderr, new RegExp(`\\[FAIL\\] Traefik replicas Ready on distinct nodes \\(2 wanted\\): degraded: 1/2 Ready \\(traefik-\\S+ on kwok-node-0\\); not Ready: traefik-\\S+ on ${SECOND_NODE} \\(node NotReady\\)`))
  // what eviction does after its toleration (300 s): the pod goes, the Deployment replaces it on the node left
  const lost = traefikPods().find((p) => p.spec.nodeName === SECOND_NODE)
  kubectl('-n', 'traefik', 'delete', 'pod', lost.metadata.name, '--grace-period=0', '--force', '--wait=false')
  waitForPods(2, 1)
  const replaced = runScript('04-verify', ['--no-probe', '--timeout', '30'], CERT_MANAGER)
  assert.is(replaced.code, 0, replaced.output)
  assert.match(replaced.stderr, /\[warn\] Traefik replicas Ready on distinct nodes \(2 wanted\): 2\/2 Ready, all on kwok-node-0: the cluster has 1 Ready node\(s\)/)
})

it('cert-manager -> acme: the kit\'s ClusterIssuer, Certificates and their Secrets removed, the kept volume used again, 04 passes', () => {
  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^02-traefik: release traefik upgraded \(revision 3, .*\); cert-manager objects: 5 deleted$/m)
  assert.equal(certManagerState(), [])
  for (const c of CERTIFICATES) assert.is(kubectlMaybe('-n', 'traefik', 'get', 'secret', c.secret).code, 1, `${c.secret} removed`)
  const deployment = json('-n', 'traefik', 'get', 'deployment', 'traefik')
  assert.is(deployment.spec.strategy.type, 'Recreate')
  assert.is(deployment.spec.replicas, 1)
  assert.ok(deployment.spec.template.spec.volumes.some((v: any) => v.persistentVolumeClaim?.claimName === 'traefik'))
  assert.is(kubectlMaybe('-n', 'traefik', 'get', 'poddisruptionbudget', 'traefik').code, 1, 'the PDB went with the values')
  // The user's own Secret in cert-manager's namespace is untouched.
  assert.is(kubectl('-n', 'cert-manager', 'get', 'secret', 'cf-token', '-o', 'name').stdout.trim(), 'secret/cf-token')
  waitForPods(1, 1)
  const verify = runScript('04-verify', ['--no-probe', '--timeout', '60'])
  assert.is(verify.code, 0, verify.output)
  assert.not.match(verify.stderr, /Traefik replicas Ready on distinct nodes/)
  const again = runScript('02-traefik')
  assert.match(again.stdout, /^02-traefik: release traefik unchanged \(revision 3, [^)]*\)$/m)
})

test.run()
