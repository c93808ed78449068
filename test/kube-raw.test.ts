/**
 * The API requests of lib/kube/raw.ts (through lib/kube/transport.ts) against a loopback HTTPS
 * server that answers as the test says: what the caller gets for an answer it cannot use.
 */
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { makeCertificates } from './certificates.ts'
import { rawGet, rawRequest, rawWatch } from '../lib/kube/raw.ts'
import type { Cluster } from '../lib/kube/cluster.ts'
import { makeTransport } from '../lib/kube/transport.ts'

const certificates = makeCertificates(['kube.test'])

/** A server answering every request with `status` and `body`; the cluster the kit would build for it. */
async function answering(status: number, body: string): Promise<{ cluster: Cluster; close: () => void }> {
  if (typeof certificates === 'string') throw new Error(certificates)
  const server = https.createServer(certificates.hosts['kube.test'], (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `https://127.0.0.1:${port}`
  const transport = makeTransport({ server: url, viaClientNode: false, options: async () => ({ ca: certificates.ca, servername: 'kube.test', headers: {} }) })
  const cluster: Cluster = { context: 'test', server: url, transport, helm: () => Promise.reject(new Error('no helm here')) }
  return { cluster, close: () => (server.closeAllConnections(), server.close()) }
}

// ---
const answers = suite('raw API requests: answers the kit cannot use')

answers('a 200 whose body is not JSON rejects the request (it does not crash the process)', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const { cluster, close } = await answering(200, '<html>a proxy login page</html>')
  const uncaught: unknown[] = []
  const record = (err: unknown) => uncaught.push(err)
  process.on('uncaughtException', record)
  try {
    const outcome = await Promise.race([
      rawGet(cluster, '/api/v1/namespaces/default').then(
        () => 'resolved',
        (err: Error) => `rejected: ${err.message}`,
      ),
      new Promise((resolve) => setTimeout(() => resolve('no answer within 3 s'), 3000)),
    ])
    assert.equal(uncaught, [], `thrown outside the request's promise: ${uncaught}`)
    assert.match(String(outcome), /^rejected: .*not JSON/)
  } finally {
    process.off('uncaughtException', record)
    close()
  }
})

answers('a 404 is undefined; another status rejects with its code', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const missing = await answering(404, '{"kind":"Status","code":404}')
  try {
    assert.is(await rawGet(missing.cluster, '/api/v1/namespaces/nope'), undefined)
  } finally {
    missing.close()
  }
  const refused = await answering(403, '{"kind":"Status","code":403,"message":"forbidden"}')
  try {
    const err = await rawGet(refused.cluster, '/api/v1/namespaces').then(() => undefined, (e) => e)
    assert.is(err?.code, 403)
  } finally {
    refused.close()
  }
})

answers('a 404 of a write is undefined too (nothing there to delete)', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const gone = await answering(404, '{"kind":"Status","code":404}')
  try {
    assert.is(await rawRequest(gone.cluster, 'DELETE', '/api/v1/namespaces/x/pods/y'), undefined)
  } finally {
    gone.close()
  }
})

answers('a read on a kept-alive connection the server has just closed is asked again on a new one; a write is not', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const served = new WeakSet<object>()
  let answered = 0
  const server = https.createServer(certificates.hosts['kube.test'], (req, res) => {
    // The second request on a connection finds it closed, as when the server's idle timeout strikes.
    if (served.has(req.socket)) return req.socket.destroy()
    served.add(req.socket)
    answered++
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end('{"kind":"Namespace"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const transport = makeTransport({ server: url, viaClientNode: false, options: async () => ({ ca: certificates.ca, servername: 'kube.test', headers: {} }) })
  const cluster: Cluster = { context: 'test', server: url, transport, helm: () => Promise.reject(new Error('no helm here')) }
  try {
    assert.equal(await rawGet(cluster, '/api/v1/namespaces/a'), { kind: 'Namespace' })
    assert.equal(await rawGet(cluster, '/api/v1/namespaces/b'), { kind: 'Namespace' })
    assert.is(answered, 2)
    const write = await rawRequest(cluster, 'POST', '/api/v1/namespaces', { text: '{}', contentType: 'application/json' }).then(() => undefined, (e) => e)
    assert.is(write?.code, 'ECONNRESET')
  } finally {
    server.closeAllConnections()
    server.close()
  }
})

answers.run()

// ---
const watches = suite('watches: events as they come, the end when the server ends it')

/** A server that streams `chunks` (watch events, split anywhere) and then ends or holds the stream open. */
async function streaming(chunks: string[], end: boolean): Promise<{ cluster: Cluster; close: () => void }> {
  if (typeof certificates === 'string') throw new Error(certificates)
  const server = https.createServer(certificates.hosts['kube.test'], (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    for (const chunk of chunks) res.write(chunk)
    if (end) res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `https://127.0.0.1:${port}`
  const transport = makeTransport({ server: url, viaClientNode: false, options: async () => ({ ca: certificates.ca, servername: 'kube.test', headers: {} }) })
  return { cluster: { context: 'test', server: url, transport, helm: () => Promise.reject(new Error('no helm here')) }, close: () => (server.closeAllConnections(), server.close()) }
}

const event = (type: string, name: string) => JSON.stringify({ type, object: { metadata: { name } } }) + '\n'

watches('events split across chunks arrive whole and in order; the server ending the watch ends it once', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const text = event('ADDED', 'a') + event('MODIFIED', 'a') + event('DELETED', 'b')
  const { cluster, close } = await streaming([text.slice(0, 10), text.slice(10, 70), text.slice(70)], true)
  try {
    const seen: string[] = []
    const ended = await new Promise<unknown>((resolve) => {
      void rawWatch(cluster, '/api/v1/pods', '42', ({ type, object }) => seen.push(`${type} ${object.metadata.name}`), resolve)
    })
    assert.equal(seen, ['ADDED a', 'MODIFIED a', 'DELETED b'])
    assert.is(ended, undefined)
  } finally {
    close()
  }
})

watches('an ERROR event (410 Gone) ends the watch without an error: the caller lists again', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const gone = JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }) + '\n'
  const { cluster, close } = await streaming([event('ADDED', 'a'), gone, event('ADDED', 'never')], false)
  try {
    const seen: string[] = []
    const ended = await new Promise<unknown>((resolve) => {
      void rawWatch(cluster, '/api/v1/pods', undefined, ({ object }) => seen.push(object.metadata.name), resolve)
    })
    assert.equal(seen, ['a'])
    assert.is(ended, undefined)
  } finally {
    close()
  }
})

watches('abort() stops it: no more events and no end reported', async () => {
  if (typeof certificates === 'string') return console.log(`  skipped: ${certificates}`)
  const { cluster, close } = await streaming([event('ADDED', 'a')], false)
  try {
    let ends = 0
    const seen: string[] = []
    let abort: (() => void) | undefined
    await new Promise<void>((resolve) => {
      void rawWatch(cluster, '/api/v1/pods', undefined, ({ object }) => (seen.push(object.metadata.name), resolve()), () => ends++).then((w) => (abort = w.abort))
    })
    abort!()
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(seen, ['a'])
    assert.is(ends, 0)
  } finally {
    close()
  }
})

watches.run()
