/**
 * 01-metallb against MetalLB's real validating webhook (the test cluster's controller serves it on
 * loopback and the API server calls it for every pool write), and teardown when it cannot read.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  applyYaml,
  CLUSTER_DIR,
  CLUSTER_SH,
  kubectl,
  kubectlMaybe,
  resetCluster,
  runScript,
  sh,
  startScript,
  testCluster,
} from './harness.ts'

const cluster = testCluster()
const clusterSh = (...args: string[]) => sh('bash', [CLUSTER_SH, ...args])
const WEBHOOK = 'ipaddresspoolvalidationwebhook.metallb.io'
const NOT_ANSWERING_YET = /^ {4}\.\.\. MetalLB's admission webhook: "ipaddresspoolvalidationwebhook\.metallb\.io" not answering yet \(.*\) \(\d+s of \d+s\)$/

/** Pools that overlap each other, made while no webhook is registered (as on a cluster that had MetalLB without it). */
function createOverlappingPools(): void {
  const registration = JSON.parse(kubectl('get', 'validatingwebhookconfiguration', 'metallb-webhook-configuration', '-o', 'json').stdout)
  for (const key of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation']) delete registration.metadata[key]
  kubectl('delete', 'validatingwebhookconfiguration', 'metallb-webhook-configuration')
  try {
    applyYaml(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-a, namespace: metallb-system}
spec: {addresses: [127.0.0.210/31], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-b, namespace: metallb-system}
spec: {addresses: [127.0.0.211/32], autoAssign: false}
`)
  } finally {
    sh('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: JSON.stringify(registration) })
  }
}

/** MetalLB's pools and advertisements, with their resourceVersions. */
function metallbObjects(): string[] {
  const out = kubectl('get', 'ipaddresspools.metallb.io,l2advertisements.metallb.io', '-n', 'metallb-system', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}@{.metadata.resourceVersion} {end}')
  return out.stdout.split(' ').filter(Boolean).sort()
}

// ---
const webhook = suite("integration: 01-metallb and MetalLB's admission webhook")
const wh = cluster ? webhook : webhook.skip

webhook.before(() => {
  if (cluster) resetCluster()
})
webhook.after(() => {
  if (cluster) clusterSh('start-metallb')
})

wh('the webhook is registered with the API server and checks pools: it refuses one overlapping ours', () => {
  const r = runScript('01-metallb')
  assert.is(r.code, 0, r.output)
  const registered = JSON.parse(kubectl('get', 'validatingwebhookconfiguration', 'metallb-webhook-configuration', '-o', 'json').stdout)
  const pools = registered.webhooks.find((w: any) => w.name === WEBHOOK)
  assert.match(pools.clientConfig.url, /^https:\/\/127\.0\.0\.1:\d+\/validate-metallb-io-v1beta1-ipaddresspool$/)
  const attempt = sh('kubectl', ['--context=homelab-test', 'create', '--dry-run=server', '-f', '-'], {
    allowFail: true,
    input: 'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: lab-overlap, namespace: metallb-system}\nspec: {addresses: [127.0.0.200-127.0.0.203]}\n',
  })
  assert.is.not(attempt.code, 0, attempt.output)
  assert.match(attempt.stderr, /admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" denied the request: CIDR "127\.0\.0\.20[0-3]\/3\d" in pool "[\w-]+" overlaps with already defined CIDR "127\.0\.0\.20[0-3]\/3\d"/)
})

wh('01 started while the webhook is not answering waits, with progress lines, and succeeds once it answers', async () => {
  resetCluster()
  clusterSh('stop-metallb')
  let restarted = false
  const run = await startScript('01-metallb', ['--timeout', '120'], (line) => {
    if (!restarted && NOT_ANSWERING_YET.test(line)) {
      restarted = true
      clusterSh('start-metallb')
    }
  })
  assert.ok(restarted, run.output)
  assert.is(run.code, 0, run.output)
  assert.match(run.stderr, /MetalLB's admission webhook: "ipaddresspoolvalidationwebhook\.metallb\.io" not answering yet \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\) \(\d+s of 120s\)/)
  assert.match(run.stdout, /^01-metallb: 3 created$/m)
})

wh('a webhook that does not answer ends within --timeout in an error naming the webhook, not the API server', () => {
  clusterSh('stop-metallb')
  try {
    const started = Date.now()
    const r = runScript('01-metallb', ['--timeout', '8'])
    const seconds = (Date.now() - started) / 1000
    assert.is(r.code, 3, r.output)
    assert.match(
      r.stderr,
      /ERROR: MetalLB's admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" did not answer within 8s: the API server called https:\/\/127\.0\.0\.1:\d+\/validate-metallb-io-v1beta1-ipaddresspool and got dial tcp 127\.0\.0\.1:\d+: connect: connection refused\n/,
    )
    assert.match(r.stderr, /Check the MetalLB controller, which serves it: kubectl --context homelab-test -n metallb-system get pods,endpoints/)
    assert.not.match(r.stderr, /cannot reach the API server/)
    assert.ok(seconds < 8 + 5, `took ${seconds}s`) // + node/zx start-up
  } finally {
    clusterSh('start-metallb')
  }
})

wh('a webhook that accepts connections and never answers: 01 still ends within --timeout, naming the webhook', async () => {
  const port = Number(/^METALLB_WEBHOOK_PORT=(\d+)$/m.exec(fs.readFileSync(path.join(CLUSTER_DIR, 'ports.env'), 'utf8'))![1])
  clusterSh('stop-metallb')
  const sockets: net.Socket[] = []
  const silent = net.createServer((socket) => sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve))
  try {
    const started = Date.now()
    // the API server gives up on the webhook after 10 s (its timeoutSeconds, and Go's TLS handshake
    // timeout: either may say so first): one named failure, then an attempt still waiting at --timeout
    const run = await startScript('01-metallb', ['--timeout', '15'], () => {})
    const seconds = (Date.now() - started) / 1000
    assert.is(run.code, 3, run.output)
    assert.match(
      run.stderr,
      /ERROR: MetalLB's admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" did not answer within 15s: the API server called https:\/\/127\.0\.0\.1:\d+\/validate-metallb-io-v1beta1-ipaddresspool and got (context deadline exceeded|net\/http: TLS handshake timeout)\n/,
      run.output,
    )
    assert.ok(sockets.length > 0, 'the API server did call it')
    assert.ok(seconds < 15 + 5, `took ${seconds}s`) // + node/zx start-up
  } finally {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
    clusterSh('start-metallb')
  }
})

wh('with the API server down during the wait, 01 says the API server is not answering', async () => {
  resetCluster()
  clusterSh('stop-metallb')
  let stopped = false
  const started = Date.now()
  try {
    const run = await startScript('01-metallb', ['--timeout', '120'], (line) => {
      if (!stopped && NOT_ANSWERING_YET.test(line)) {
        stopped = true
        clusterSh('stop-apiserver')
      }
    })
    assert.ok(stopped, run.output)
    assert.is(run.code, 1, run.output)
    assert.match(run.stderr, /ERROR: cannot reach the API server of context homelab-test \(https:\/\/127\.0\.0\.1:\d+\): /)
    assert.not.match(run.stderr, /did not answer within|admission webhook "/)
    assert.ok((Date.now() - started) / 1000 < 60, 'it does not wait for the timeout')
  } finally {
    clusterSh('start-apiserver')
    clusterSh('start-metallb')
  }
})

wh('pools the webhook rejects are reported with the webhook\'s reason, and nothing is created', () => {
  resetCluster()
  createOverlappingPools()
  try {
    const before = metallbObjects()
    const r = runScript('01-metallb')
    assert.is(r.code, 1, r.output)
    assert.match(
      r.stderr,
      /ERROR: MetalLB's admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" rejected the pools of 01-metallb: CIDR "127\.0\.0\.211\/32" in pool "lab-b" overlaps with already defined CIDR "127\.0\.0\.210\/31"\n/,
    )
    assert.match(r.stderr, /MetalLB validates every IPAddressPool in metallb-system together, so the cause may be another pool/)
    assert.equal(metallbObjects(), before)
  } finally {
    kubectl('delete', 'ipaddresspools.metallb.io', 'lab-a', 'lab-b', '-n', 'metallb-system')
  }
  const again = runScript('01-metallb')
  assert.is(again.code, 0, again.output)
})

webhook.run()

// ---
const teardown = suite('integration: teardown stops when it cannot read')
const td = cluster ? teardown : teardown.skip

/** A kubeconfig for context homelab-test whose user may read helm's release records and nothing else. */
function helmOnlyKubeconfig(): string {
  applyYaml(`apiVersion: v1
kind: Namespace
metadata: {name: traefik}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: helm-reader, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: helm-reader, namespace: traefik}
rules: [{apiGroups: [''], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: helm-reader, namespace: traefik}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: helm-reader}
subjects: [{kind: ServiceAccount, name: helm-reader, namespace: default}]
`)
  const token = kubectl('create', 'token', 'helm-reader', '-n', 'default', '--duration=10m').stdout.trim()
  const config = JSON.parse(kubectl('config', 'view', '--raw', '--minify', '-o', 'json').stdout)
  config.users[0].user = { token }
  const file = path.join(CLUSTER_DIR, 'kubeconfig-helm-reader')
  fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 })
  return file
}

td('a kubectl get that fails (Forbidden) fails the step, naming it, and deletes nothing', () => {
  resetCluster()
  assert.is(runScript('01-metallb').code, 0)
  const kubeconfig = helmOnlyKubeconfig()
  try {
    const r = runScript('99-teardown', [], { KUBECONFIG: kubeconfig })
    assert.is(r.code, 1, r.output)
    // the first read it may not do, in the API server's words, on one line
    assert.match(r.stderr, /^ERROR: .* is forbidden: User "system:serviceaccount:default:helm-reader" cannot (list|get) resource /m)
    assert.not.match(r.stdout, /99-teardown:/)
    const pools = kubectl('get', 'ipaddresspools.metallb.io', '-n', 'metallb-system', '-o', 'name').stdout
    assert.match(pools, /homelab-ingress-internal/)
  } finally {
    fs.rmSync(kubeconfig, { force: true })
    kubectlMaybe('delete', 'serviceaccount', 'helm-reader', '-n', 'default')
  }
})

td('with the API server down, teardown says it cannot reach it and deletes nothing', () => {
  clusterSh('stop-apiserver')
  let r
  try {
    r = runScript('99-teardown')
  } finally {
    clusterSh('start-apiserver')
  }
  assert.is(r.code, 1, r.output)
  assert.match(r.stderr, /ERROR: cannot reach the API server of context homelab-test \(https:\/\/127\.0\.0\.1:\d+\): /)
  assert.match(kubectl('get', 'ipaddresspools.metallb.io', '-n', 'metallb-system', '-o', 'name').stdout, /homelab-ingress-internal/)
  const done = runScript('99-teardown')
  assert.is(done.code, 0, done.output)
  assert.match(done.stdout, /^99-teardown: 3 deleted$/m)
})

teardown.run()
