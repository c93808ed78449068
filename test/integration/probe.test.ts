/**
 * 04-verify's HTTP probes over real sockets, against small HTTP servers standing in for Traefik's
 * entrypoints on the LoadBalancer addresses (loopback: 127.0.0.200:80 and :443 with Traefik's kind of
 * default certificate, 127.0.0.201:80; nothing on 127.0.0.201:443). They answer like Traefik does:
 * the admin hosts on the internal address, 404 for any host without a route.
 * (real-traefik.test.ts probes the real Traefik.)
 *
 * The servers are bound in before() and closed in after(), not when the file is imported: uvu
 * imports every test file first, and servers bound then would sit, unanswered, on the addresses
 * while the other files' tests run (their spawnSync calls block this process's event loop).
 */
import http from 'node:http'
import https from 'node:https'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { makeCertificates } from '../certificates.ts'
import { installFakeApp, resetCluster, setProbeTargets, startScript, testCluster } from './harness.ts'
import { bindErrorMessage, lowPortsAllowed } from './lb-forwarder.ts'

const cluster = testCluster()
const certificates = makeCertificates([])
const skip = !cluster
  ? 'no test cluster'
  : typeof certificates === 'string'
    ? certificates
    : !(await lowPortsAllowed())
      ? bindErrorMessage('EACCES', '127.0.0.200:80')
      : ''
if (cluster && skip) console.log(`\n  probe tests skipped: ${skip}\n`)
const ADMIN = new Set(['traefik.home.example', 'argocd.home.example', 'longhorn.home.example'])

/** Serves `routes` hosts with 200, everything else with Traefik's 404; HTTPS on 443. */
function entrypoint(ip: string, routes: Set<string>, port = 80): Promise<http.Server> {
  const handler: http.RequestListener = (req, res) => {
    const host = (req.headers.host ?? '').split(':')[0]
    res.writeHead(routes.has(host) ? 200 : 404).end(routes.has(host) ? 'ok' : '404 page not found\n')
  }
  const server = port === 443 && typeof certificates !== 'string' ? https.createServer(certificates.traefikDefault, handler) : http.createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { message: bindErrorMessage(err.code, `${ip}:${port}`) })))
    server.listen({ port, host: ip, exclusive: true }, () => resolve(server))
  })
}

const probes = suite('integration: 04-verify asks each admin host on both addresses')
const it = skip ? probes.skip : probes
const servers: http.Server[] = []
const close = (s: http.Server) => new Promise((resolve) => s.close(resolve))
// uvu swallows an error thrown by before(): keep it and fail each test with it. An address in use
// fails the tests (something else would answer the probes), it does not skip them.
let setupError: Error | undefined

probes.before(async () => {
  if (skip) return
  try {
    servers.push(await entrypoint('127.0.0.200', ADMIN), await entrypoint('127.0.0.200', ADMIN, 443), await entrypoint('127.0.0.201', new Set()))
    setProbeTargets('probe.test.ts stand-in servers')
    resetCluster()
    installFakeApp('argocd', 'argocd-server', 80)
    installFakeApp('longhorn-system', 'longhorn-frontend', 80)
  } catch (err) {
    setupError = err as Error
  }
})

probes.after(async () => {
  setProbeTargets(undefined)
  await Promise.all(servers.map(close))
})

const ready = () => {
  if (setupError) throw setupError
}

it('admin hosts answer on INTERNAL_IP and get 404 (or nothing) on EXTERNAL_IP: verify passes with every probe checked', async () => {
  ready()
  // The servers live in this process: the script runs asynchronously so they can answer.
  const r = await startScript('run-all', ['--json'], () => {})
  assert.is(r.code, 0, r.output)
  const report = JSON.parse(r.stdout)
  const probeChecks = report.checks.filter((c: any) => / answer(s| on)/.test(c.name))
  assert.is(probeChecks.length, 12)
  for (const c of probeChecks) assert.is(c.status, 'pass', `${c.name}: ${c.detail}`)
})

it('an admin host answering on EXTERNAL_IP fails verify and names the host', async () => {
  ready()
  await close(servers.pop()!)
  servers.push(await entrypoint('127.0.0.201', new Set(['argocd.home.example'])))
  const r = await startScript('04-verify', ['--json'], () => {})
  assert.is(r.code, 1, r.output)
  const failed = JSON.parse(r.stdout).checks.filter((c: any) => c.status === 'fail')
  assert.equal(failed, [
    {
      name: 'argocd.home.example does not answer on EXTERNAL_IP 127.0.0.201:80',
      status: 'fail',
      detail: 'HTTP 200: the admin UI is reachable through the public address',
    },
  ])
})

probes.run()
