/**
 * Every kind of kubeconfig credential the kit reads itself, and those it hands to client-node,
 * against the real API server of the test cluster: who the server says we are (SelfSubjectReview),
 * not only that a request went through.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { loadKubeconfig } from '../../lib/kube/kubeconfig.ts'
import { makeTransport } from '../../lib/kube/transport.ts'
import { apiServerUnreachable } from '../../lib/base/errors.ts'
import { kubectl, kubectlMaybe, skipReason, testCluster } from './harness.ts'

const it = suite('kubeconfig: each kind of credential, as the API server sees it')
const cluster = testCluster()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-kubeconfig-'))
const SA = 'kubeconfig-test'

type Doc = { clusters: any[]; users: any[]; contexts: any[]; 'current-context'?: string }
let base: Doc
let token = ''

/** Writes a kubeconfig (and its side files) and asks the API server who we are through the kit's client. */
async function whoAmI(doc: Doc, files: Record<string, string> = {}, context = 'homelab-test'): Promise<{ user: string; viaClientNode: boolean }> {
  const file = path.join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`)
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o700 })
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 })
  return whoAmIWith(file, context)
}

async function whoAmIWith(kubeconfig: string, context: string): Promise<{ user: string; viaClientNode: boolean }> {
  // client-node's loader (exec plugins) reads KUBECONFIG from the environment, as the scripts do
  process.env.KUBECONFIG = kubeconfig
  const connection = loadKubeconfig({ KUBECONFIG: kubeconfig }).connection(context)
  const review = await makeTransport(connection).request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { text: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }), contentType: 'application/json' },
  })
  return { user: review.status.userInfo.username, viaClientNode: connection.viaClientNode }
}

const withUser = (user: Record<string, unknown>, clusterOver: Record<string, unknown> = {}): Doc => ({
  ...base,
  clusters: [{ ...base.clusters[0], cluster: { ...base.clusters[0].cluster, ...clusterOver } }],
  users: [{ ...base.users[0], user }],
})
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8')

it.before(() => {
  if (!cluster) return
  base = JSON.parse(kubectl('config', 'view', '--raw', '--minify', '-o', 'json').stdout)
  kubectlMaybe('create', 'serviceaccount', SA, '-n', 'default')
  token = kubectl('create', 'token', SA, '-n', 'default', '--duration=15m').stdout.trim()
})

const kubeconfigBefore = process.env.KUBECONFIG
it.after(() => {
  process.env.KUBECONFIG = kubeconfigBefore
  if (cluster) kubectlMaybe('delete', 'serviceaccount', SA, '-n', 'default')
  fs.rmSync(dir, { recursive: true, force: true })
})

const admin = 'homelab-test-admin'
const serviceAccount = `system:serviceaccount:default:${SA}`

it('client certificate and key inline (k3s, kubeadm, the test cluster)', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  assert.equal(await whoAmI(base), { user: admin, viaClientNode: false })
})

it('client certificate, key and CA in files, relative to the kubeconfig', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  const u = base.users[0].user
  const doc = withUser({ 'client-certificate': 'pki/admin.crt', 'client-key': 'pki/admin.key' }, { 'certificate-authority-data': undefined, 'certificate-authority': 'pki/ca.crt' })
  fs.mkdirSync(path.join(dir, 'pki'), { recursive: true })
  const files = { 'pki/admin.crt': decode(u['client-certificate-data']), 'pki/admin.key': decode(u['client-key-data']), 'pki/ca.crt': decode(base.clusters[0].cluster['certificate-authority-data']) }
  assert.equal(await whoAmI(doc, files), { user: admin, viaClientNode: false })
})

it('a bearer token, inline and in a token file', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  assert.equal(await whoAmI(withUser({ token })), { user: serviceAccount, viaClientNode: false })
  assert.equal(await whoAmI(withUser({ tokenFile: 'sa-token' }), { 'sa-token': `${token}\n` }), { user: serviceAccount, viaClientNode: false })
})

it('an exec plugin (client.authentication.k8s.io/v1) giving a token or a client certificate, through client-node', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  const credential = (status: Record<string, string>) =>
    `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status })}\nEOF\n`
  const exec = (command: string) => ({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: path.join(dir, command), interactiveMode: 'Never' } })
  assert.equal(await whoAmI(withUser(exec('token-plugin')), { 'token-plugin': credential({ token }) }), { user: serviceAccount, viaClientNode: true })
  const u = base.users[0].user
  const certificate = credential({ clientCertificateData: decode(u['client-certificate-data']), clientKeyData: decode(u['client-key-data']) })
  assert.equal(await whoAmI(withUser(exec('cert-plugin')), { 'cert-plugin': certificate }), { user: admin, viaClientNode: true })
})

it('insecure-skip-tls-verify without a CA; without either, the server is not trusted', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  const skip = withUser(base.users[0].user, { 'certificate-authority-data': undefined, 'insecure-skip-tls-verify': true })
  assert.equal(await whoAmI(skip), { user: admin, viaClientNode: false })
  const err = await whoAmI(withUser(base.users[0].user, { 'certificate-authority-data': undefined })).then(() => undefined, (e) => e)
  assert.type(apiServerUnreachable(err, base.clusters[0].cluster.server), 'string', String(err))
})

it('tls-server-name: the name checked against the server certificate instead of the address', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  assert.equal(await whoAmI(withUser(base.users[0].user, { 'tls-server-name': 'kubernetes' })), { user: admin, viaClientNode: false })
  const err = await whoAmI(withUser(base.users[0].user, { 'tls-server-name': 'not-the-apiserver.example' })).then(() => undefined, (e) => e)
  assert.match(String(err?.code), /ERR_TLS_CERT_ALTNAME_INVALID/)
})

it('KUBECONFIG with several files: the first to name a context, cluster or user wins, and the first current-context', async () => {
  if (!cluster) return console.log(`  skipped: ${skipReason()}`)
  const first = path.join(dir, 'first')
  const second = path.join(dir, 'second')
  fs.writeFileSync(first, YAML.stringify({ contexts: [{ name: 'homelab-test', context: { cluster: 'homelab-test', user: 'token-user' } }], users: [{ name: 'token-user', user: { token } }], 'current-context': 'homelab-test' }))
  fs.writeFileSync(second, YAML.stringify({ ...base, contexts: [...base.contexts, { name: 'other', context: { cluster: 'homelab-test', user: base.users[0].name } }], 'current-context': 'other' }))
  const kc = loadKubeconfig({ KUBECONFIG: [first, path.join(dir, 'missing'), second].join(path.delimiter) })
  assert.equal(kc.contexts.sort(), ['homelab-test', 'other'])
  assert.is(kc.currentContext, 'homelab-test')
  assert.is(kc.connection('homelab-test').server, base.clusters[0].cluster.server)
  assert.equal(await whoAmIWith(kc.files.join(path.delimiter), 'homelab-test'), { user: serviceAccount, viaClientNode: false })
  assert.equal(await whoAmIWith(kc.files.join(path.delimiter), 'other'), { user: admin, viaClientNode: false })
})

it.run()
