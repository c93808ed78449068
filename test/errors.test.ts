/**
 * Where did it fail: the API server not answering, versus the API server answering that it could not
 * call (or was refused by) an admission webhook. Run on error shapes recorded from the real test cluster
 * (test/recorded/errors.json, made by test/recorded/record-errors.ts) and on a few written here in
 * the formats of Node's connection errors and of helm for what the test cluster cannot show (a server
 * named by DNS, timeouts).
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ProcessOutput } from 'zx'
import { explainClusterError } from '../lib/kube/cluster.ts'
import { commandFailed, admissionWebhookFailure, apiServerUnreachable, EXIT, UserError } from '../lib/base/errors.ts'

type Shape = { note: string; server: string; source: string; error?: any; args?: string[]; exitCode?: number; stdout?: string; stderr?: string }
const RECORDED: Record<string, Shape> = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'recorded', 'errors.json'), 'utf8'))

/** A recorded error as the kit meets it: its API client's error, or a failed helm's UserError. */
function rebuild(shape: Shape): unknown {
  if (shape.source === 'helm') {
    const what = `${shape.source} ${shape.args!.filter((a) => !a.startsWith('--')).slice(0, 2).join(' ')}`
    return commandFailed(what, { exitCode: shape.exitCode, stdout: shape.stdout, stderr: shape.stderr } as ProcessOutput)
  }
  return revive(shape.error)
}

function revive(fields: any): unknown {
  if (fields === undefined || fields === null) return fields
  const { class: _class, cause, ...rest } = fields
  return Object.assign(new Error(fields.message), rest, cause ? { cause: revive(cause) } : {})
}

const recorded = (prefix: string) => Object.entries(RECORDED).filter(([name]) => name.startsWith(prefix))
const SERVER = 'https://k8s.home.example:6443'
const cluster = { context: 'homelab', server: SERVER }
const failedCommand = (what: string, stderr: string) => commandFailed(what, { exitCode: 1, stdout: '', stderr } as ProcessOutput)
/** Node's error for a connection that failed, as the kit's API client passes it on. */
const connectionError = (message: string, code: string, where: { address?: string; port?: number; hostname?: string } = {}) =>
  Object.assign(new Error(message), { code, errno: code, ...where })
/** An answer of the API server that is not a success, as the kit's API client throws it. */
const answer = (code: number, status: object) => Object.assign(new Error(`GET /x: HTTP ${code}`), { code, body: JSON.stringify(status) })

// ---
const unreachable = suite('apiServerUnreachable: the API server did not answer, read from the error itself')

unreachable('recorded: every way the test cluster\'s API server failed to answer is recognised', () => {
  const shapes = [...recorded('apiserver-down/'), ...recorded('apiserver-untrusted/')]
  assert.ok(shapes.length >= 4, `recorded shapes: ${shapes.map(([n]) => n)}`)
  for (const [name, shape] of shapes) {
    const reason = apiServerUnreachable(rebuild(shape), shape.server)
    assert.type(reason, 'string', `${name} should be recognised: ${JSON.stringify(shape).slice(0, 400)}`)
    assert.ok(reason!.length > 0 && !reason!.includes('\n'), `${name}: ${reason}`)
  }
})

unreachable('recorded: the API server answering that a webhook failed is not "unreachable", though it quotes connection errors', () => {
  const shapes = recorded('webhook-')
  assert.ok(shapes.length >= 3, `recorded shapes: ${shapes.map(([n]) => n)}`)
  for (const [name, shape] of shapes) {
    assert.is(apiServerUnreachable(rebuild(shape), shape.server), undefined, name)
  }
  assert.match(RECORDED['webhook-refused/api'].error.body, /connection refused/)
  assert.match(RECORDED['webhook-hanging/api'].error.body, /context deadline exceeded|TLS handshake timeout/)
})

unreachable('recorded: the reason names the API server and the connection error', () => {
  const down = RECORDED['apiserver-down/api']
  const port = new URL(down.server).port
  assert.match(apiServerUnreachable(rebuild(down), down.server)!, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`))
  const helm = RECORDED['apiserver-down/helm-list']
  assert.match(apiServerUnreachable(rebuild(helm), helm.server)!, new RegExp(`127\\.0\\.0\\.1:${port}.*refused`))
  const untrusted = RECORDED['apiserver-untrusted/api']
  assert.match(apiServerUnreachable(rebuild(untrusted), untrusted.server)!, /certificate/)
  const untrustedHelm = RECORDED['apiserver-untrusted/helm-list']
  assert.match(apiServerUnreachable(rebuild(untrustedHelm), untrustedHelm.server)!, /x509|certificate/)
})

unreachable('the API client: name resolution, refusal, TLS and timeouts towards the server named in the kubeconfig', () => {
  assert.match(apiServerUnreachable(connectionError('getaddrinfo ENOTFOUND k8s.home.example', 'ENOTFOUND', { hostname: 'k8s.home.example' }), SERVER)!, /ENOTFOUND k8s\.home\.example/)
  assert.match(apiServerUnreachable(connectionError('getaddrinfo EAI_AGAIN k8s.home.example', 'EAI_AGAIN'), SERVER)!, /EAI_AGAIN/)
  const refused = connectionError('connect ECONNREFUSED 192.168.0.10:6443', 'ECONNREFUSED', { address: '192.168.0.10', port: 6443 })
  assert.match(apiServerUnreachable(refused, 'https://192.168.0.10:6443')!, /ECONNREFUSED/)
  assert.match(apiServerUnreachable(refused, SERVER)!, /ECONNREFUSED/, 'a resolved address of the named server: the port decides')
  assert.is(apiServerUnreachable(refused, 'https://k8s.home.example:443'), undefined)
  assert.match(apiServerUnreachable(connectionError('certificate has expired', 'CERT_HAS_EXPIRED'), SERVER)!, /certificate has expired/)
  assert.match(apiServerUnreachable(connectionError(`GET ${SERVER}/api: no answer within 60s`, 'ETIMEDOUT'), SERVER)!, /no answer within 60s/)
})

unreachable('the API client: a connection error naming another host or port is not the API server', () => {
  const elsewhere = connectionError('connect ECONNREFUSED 192.168.0.10:9443', 'ECONNREFUSED', { address: '192.168.0.10', port: 9443 })
  assert.is(apiServerUnreachable(elsewhere, SERVER), undefined)
})

unreachable('the API client: any HTTP answer, whatever its message, is the server answering', () => {
  const status = { kind: 'Status', code: 500, message: 'Internal error occurred: dial tcp 10.96.0.1:443: connect: connection refused' }
  assert.is(apiServerUnreachable(answer(500, status), SERVER), undefined)
})

unreachable('helm: its client-side errors towards the API server, by host and port', () => {
  const lines = [
    'Error: Kubernetes cluster unreachable: Get "https://k8s.home.example:6443/version": dial tcp: lookup k8s.home.example on 127.0.0.53:53: server misbehaving',
    'Error: Kubernetes cluster unreachable: Get "https://k8s.home.example:6443/version": net/http: TLS handshake timeout',
    'Error: Kubernetes cluster unreachable: Get "https://k8s.home.example:6443/version": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'Error: Kubernetes cluster unreachable: Get "https://k8s.home.example:6443/version": context deadline exceeded',
    'Error: UPGRADE FAILED: Get "https://k8s.home.example:6443/openapi/v3?timeout=32s": dial tcp: lookup k8s.home.example: i/o timeout',
    'E1126 11:30:02.123456   4242 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: Get \\"https://k8s.home.example:6443/api?timeout=32s\\": dial tcp 192.168.0.10:6443: connect: no route to host"',
  ]
  for (const line of lines) assert.type(apiServerUnreachable(failedCommand('helm list', line), SERVER), 'string', line)
})

unreachable('helm: the same words about another address, or inside the server\'s answer, are not the API server', () => {
  const lines = [
    'Error: Kubernetes cluster unreachable: Get "https://other.example:6443/version": context deadline exceeded',
    'Error: UPGRADE FAILED: Get "https://k8s.home.example:9443/healthz": dial tcp 192.168.0.10:9443: connect: connection refused',
    'Error from server (InternalError): Internal error occurred: failed calling webhook "x.example.com": failed to call webhook: Post "https://k8s.home.example:6443/x?timeout=10s": dial tcp 192.168.0.10:6443: connect: connection refused',
    'Error from server (ServiceUnavailable): the server is currently unable to handle the request (get pods.metrics.k8s.io)',
    'Error: INSTALLATION FAILED: 1 error occurred:\n\t* Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s": dial tcp 10.96.12.7:443: connect: connection refused',
  ]
  for (const line of lines) assert.is(apiServerUnreachable(failedCommand('helm upgrade', line), SERVER), undefined, line)
})

unreachable.run()

// ---
const webhook = suite('admissionWebhookFailure: the API server answered about an admission webhook')

webhook('recorded: MetalLB\'s webhook refusing connections, with its name and where it was called', () => {
  for (const [name, shape] of recorded('webhook-refused/')) {
    const failure = admissionWebhookFailure(rebuild(shape))
    assert.ok(failure, name)
    assert.is(failure!.webhook, 'ipaddresspoolvalidationwebhook.metallb.io', name)
    assert.is(failure!.denied, false, name)
    assert.match(failure!.url!, /^https:\/\/127\.0\.0\.1:\d+\/validate-metallb-io-v1beta1-ipaddresspool$/, name)
    assert.match(failure!.reason, /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/, name)
  }
})

webhook('recorded: MetalLB\'s webhook not answering in time', () => {
  const failure = admissionWebhookFailure(rebuild(RECORDED['webhook-hanging/api']))
  assert.is(failure?.denied, false)
  assert.match(failure!.reason, /context deadline exceeded|TLS handshake timeout/)
})

webhook('recorded: MetalLB\'s webhook saying no, with its reason (it checks overlap across all pools)', () => {
  for (const [name, shape] of recorded('webhook-denied/')) {
    const failure = admissionWebhookFailure(rebuild(shape))
    assert.is(failure?.denied, true, name)
    assert.is(failure!.webhook, 'ipaddresspoolvalidationwebhook.metallb.io', name)
    assert.match(failure!.reason, /^CIDR "127\.0\.0\.211\/32" in pool "lab-b" overlaps with already defined CIDR "127\.0\.0\.210\/31"$/, name)
  }
})

webhook('in a cluster: no endpoints for the webhook Service yet, or a CA bundle not patched in yet', () => {
  const noEndpoints = admissionWebhookFailure(
    answer(500, {
      kind: 'Status',
      code: 500,
      message:
        'Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool?timeout=10s": no endpoints available for service "metallb-webhook-service"',
    }),
  )
  assert.equal(noEndpoints, {
    webhook: 'ipaddresspoolvalidationwebhook.metallb.io',
    denied: false,
    url: 'https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-ipaddresspool',
    reason: 'no endpoints available for service "metallb-webhook-service"',
  })
  const caBundle = admissionWebhookFailure(
    answer(500, {
      kind: 'Status',
      code: 500,
      message:
        'Internal error occurred: failed calling webhook "l2advertisementvalidationwebhook.metallb.io": failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io-v1beta1-l2advertisement?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    }),
  )
  assert.is(caBundle?.webhook, 'l2advertisementvalidationwebhook.metallb.io')
  assert.match(caBundle!.reason, /x509: certificate signed by unknown authority/)
})

webhook('recorded: the API server not answering is no webhook failure', () => {
  for (const [name, shape] of recorded('apiserver-')) assert.is(admissionWebhookFailure(rebuild(shape)), undefined, name)
})

webhook.run()

// ---
const explain = suite('explainClusterError: one message per place it failed')

explain('recorded: the API server down reads "cannot reach the API server", with the context and its address', () => {
  for (const [name, shape] of recorded('apiserver-down/')) {
    const err = explainClusterError(rebuild(shape), { context: 'homelab-test', server: shape.server }) as UserError
    assert.instance(err, UserError, name)
    assert.is(err.exitCode, EXIT.failed)
    assert.match(err.message, /^cannot reach the API server of context homelab-test \(https:\/\/127\.0\.0\.1:\d+\): .+\. Is the cluster up\?/, name)
  }
})

explain('recorded: a webhook that does not answer is named as such, not as the API server', () => {
  for (const [name, shape] of [...recorded('webhook-refused/'), ...recorded('webhook-hanging/')]) {
    const err = explainClusterError(rebuild(shape), { context: 'homelab-test', server: shape.server }) as UserError
    assert.instance(err, UserError, name)
    assert.match(err.message, /^the API server of context homelab-test could not call the admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" at https:\/\/127\.0\.0\.1:\d+\/validate-metallb-io-v1beta1-ipaddresspool: /, name)
    assert.not.match(err.message, /cannot reach the API server/, name)
  }
})

explain('recorded: a user who may not read gets the API server\'s own words, from the API client as from helm', () => {
  const fromClient = explainClusterError(rebuild(RECORDED['apiserver-forbidden/api']), { context: 'homelab-test', server: RECORDED['apiserver-forbidden/api'].server }) as UserError
  assert.instance(fromClient, UserError)
  assert.match(fromClient.message, /^the API server of context homelab-test refused the request \(403 Forbidden\): customresourcedefinitions\.apiextensions\.k8s\.io "ipaddresspools\.metallb\.io" is forbidden: User "system:serviceaccount:default:errors-recorder-nobody" cannot get /)
  assert.not.match(fromClient.message, /HTTP|\\"/)
  const fromHelm = rebuild(RECORDED['apiserver-forbidden/helm-list'])
  assert.is(explainClusterError(fromHelm, cluster), fromHelm, 'helm already says it in one line')
  assert.match((fromHelm as UserError).message, /is forbidden: User "system:serviceaccount:default:errors-recorder-nobody" cannot list/)
  for (const [name, shape] of recorded('apiserver-forbidden/')) {
    assert.is(apiServerUnreachable(rebuild(shape), shape.server), undefined, name)
    assert.is(admissionWebhookFailure(rebuild(shape)), undefined, name)
  }
})

explain('a server not ready yet (429, 503, or the words helm prints for it) says so; a webhook quoting the words is the webhook', () => {
  const status503 = Object.assign(new Error('GET /apis/traefik.io/v1alpha1/ingressroutes: HTTP-Code: 503'), {
    code: 503,
    body: '{"kind":"Status","code":503,"reason":"ServiceUnavailable","message":"storage is (re)initializing"}',
  })
  assert.match((explainClusterError(status503, cluster) as Error).message, /^the API server of context homelab is not ready|is not ready: storage is \(re\)initializing\. Wait a moment/)
  const fromHelm = failedCommand('helm upgrade', 'Error: UPGRADE FAILED: the server is currently unable to handle the request')
  assert.match((explainClusterError(fromHelm, cluster) as Error).message, /is not ready: .*the server is currently unable to handle the request/)
  const webhook = failedCommand('helm upgrade', 'Error: UPGRADE FAILED: Internal error occurred: failed calling webhook "x.metallb.io": the server is currently unable to handle the request')
  assert.not.match((explainClusterError(webhook, cluster) as Error).message, /is not ready/)
  const conflict = Object.assign(new Error('HTTP-Code: 409'), { code: 409, body: '{"message":"the object has been modified"}' })
  assert.is(explainClusterError(conflict, cluster), conflict)
})

explain('a webhook\'s "no", a precondition and anything unknown pass through as they are', () => {
  const denied = rebuild(RECORDED['webhook-denied/api'])
  assert.is(explainClusterError(denied, cluster), denied, 'a webhook saying no is not the user lacking rights, whatever its status code')
  const precondition = new UserError('MetalLB is not installed', EXIT.precondition)
  assert.is(explainClusterError(precondition, cluster), precondition)
  const unknown = new Error('something else')
  assert.is(explainClusterError(unknown, cluster), unknown)
})

explain.run()
