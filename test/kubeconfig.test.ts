/**
 * The kit's own reading of a kubeconfig, next to @kubernetes/client-node's on the same files: the
 * same TLS settings and the same Authorization header for every kind of credential the kit reads
 * itself; every other kind is handed to client-node. (test/integration/kubeconfig.test.ts asks the
 * real API server who each one is.)
 */
import fs from 'node:fs'
import type https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { loadKubeconfig } from '../lib/kube/kubeconfig.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-kubeconfig-unit-'))
const b64 = (text: string) => Buffer.from(text).toString('base64')
const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n'
const CERT = '-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN EC PRIVATE KEY-----\nkey\n-----END EC PRIVATE KEY-----\n'
fs.writeFileSync(path.join(dir, 'ca.crt'), CA)
fs.writeFileSync(path.join(dir, 'token'), 'file-token')

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}`)
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://192.168.0.10:6443', 'certificate-authority-data': b64(CA), ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'home', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'home',
    }),
  )
  return file
}

const text = (v: unknown) => (v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v))

async function both(file: string) {
  const ours = await loadKubeconfig({ KUBECONFIG: file }).connection('home').options()
  const kc = new KubeConfig()
  kc.loadFromFile(file)
  const theirs: https.RequestOptions = {}
  await kc.applyToHTTPSOptions(theirs)
  const auth = (theirs.headers as Record<string, string> | undefined)?.Authorization ?? (theirs.auth ? `Basic ${b64(theirs.auth)}` : undefined)
  const view = (o: any, authorization: unknown) => ({
    ca: text(o.ca),
    cert: text(o.cert),
    key: text(o.key),
    rejectUnauthorized: o.rejectUnauthorized,
    servername: o.servername,
    authorization,
  })
  return { ours: view(ours, ours.headers.Authorization), theirs: view(theirs, auth) }
}

// ---
const same = suite('kubeconfig: the kit reads credentials as client-node does')

same('client certificate and key, inline', async () => {
  const { ours, theirs } = await both(kubeconfig({ 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }))
  assert.equal(ours, theirs)
  assert.is(ours.cert, CERT)
})

same('a CA in a file, a token, tls-server-name', async () => {
  const file = kubeconfig({ token: 'abc' }, { 'certificate-authority-data': undefined, 'certificate-authority': path.join(dir, 'ca.crt'), 'tls-server-name': 'kubernetes' })
  const { ours, theirs } = await both(file)
  assert.equal(ours, theirs)
  assert.is(ours.authorization, 'Bearer abc')
})

same('insecure-skip-tls-verify, basic auth', async () => {
  const { ours, theirs } = await both(kubeconfig({ username: 'admin', password: 's3cret' }, { 'certificate-authority-data': undefined, 'insecure-skip-tls-verify': true }))
  assert.equal(ours, theirs)
  assert.is(ours.rejectUnauthorized, false)
})

same('a token file (an absolute path; the kit also resolves a relative one against the kubeconfig, as kubectl does)', async () => {
  const { ours, theirs } = await both(kubeconfig({ tokenFile: path.join(dir, 'token') }))
  assert.equal({ ...ours, authorization: ours.authorization }, { ...theirs, authorization: 'Bearer file-token' })
  const relative = await loadKubeconfig({ KUBECONFIG: kubeconfig({ tokenFile: 'token' }) }).connection('home').options()
  assert.is(relative.headers.Authorization, 'Bearer file-token')
})

same.run()

// ---
const handed = suite('kubeconfig: credentials only client-node knows how to get are handed to it')

handed('exec plugins, auth-providers, impersonation and proxies', () => {
  const cases: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubelogin' } }, {}],
    [{ 'auth-provider': { name: 'oidc', config: {} } }, {}],
    [{ token: 'abc', as: 'someone' }, {}],
    [{ token: 'abc' }, { 'proxy-url': 'socks5://127.0.0.1:1080' }],
  ]
  for (const [user, cluster] of cases) {
    assert.ok(loadKubeconfig({ KUBECONFIG: kubeconfig(user, cluster) }).connection('home').viaClientNode, JSON.stringify({ user, cluster }))
  }
  assert.not.ok(loadKubeconfig({ KUBECONFIG: kubeconfig({ token: 'abc' }) }).connection('home').viaClientNode)
})

handed('a context naming a user that is not there is an error, not an anonymous connection', () => {
  const file = path.join(dir, 'dangling')
  fs.writeFileSync(file, YAML.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://x:6443' } }], contexts: [{ name: 'home', context: { cluster: 'c', user: 'gone' } }] }))
  assert.throws(() => loadKubeconfig({ KUBECONFIG: file }).connection('home'), /names user "gone"/)
})

handed.run()
