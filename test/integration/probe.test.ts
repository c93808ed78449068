/**
 * 04-verify's HTTP probes over real sockets. kwok's pods run no Traefik, so small HTTP servers
 * stand in for Traefik's entrypoints on the LoadBalancer addresses (loopback: 127.0.0.200:80 and
 * :443 with Traefik's kind of default certificate, 127.0.0.201:80; nothing on 127.0.0.201:443).
 * They answer like Traefik does: the admin hosts on the internal address, 404 for any host
 * without a route.
 */
import http from 'node:http'
import https from 'node:https'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { makeCertificates } from '../certificates.ts'
import { installFakeApp, resetCluster, startScript, testCluster } from './harness.ts'

const cluster = testCluster()
const ADMIN = new Set(['traefik.home.example', 'argocd.home.example', 'longhorn.home.example'])
const certificates = makeCertificates([])

/** Serves `routes` hosts with 200, everything else with Traefik's 404. */
function entrypoint(ip: string, routes: Set<string>, port = 80): Promise<http.Server | undefined> {
  const handler: http.RequestListener = (req, res) => {
    const host = (req.headers.host ?? '').split(':')[0]
    res.writeHead(routes.has(host) ? 200 : 404).end(routes.has(host) ? 'ok' : '404 page not found\n')
  }
  const server = port === 443 && typeof certificates !== 'string' ? https.createServer(certificates.traefikDefault, handler) : http.createServer(handler)
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined))
    server.listen(port, ip, () => resolve(server))
  })
}

const probes = suite('integration: 04-verify asks each admin host on both addresses')
const servers =
  cluster && typeof certificates !== 'string'
    ? await Promise.all([entrypoint('127.0.0.200', ADMIN), entrypoint('127.0.0.201', new Set()), entrypoint('127.0.0.200', ADMIN, 443)])
    : []
const skip = !cluster
  ? 'no test cluster'
  : typeof certificates === 'string'
    ? certificates
    : servers.some((s) => s === undefined)
      ? 'cannot listen on ports 80/443 of 127.0.0.200/201 (needs root)'
      : ''
if (skip) {
  for (const s of servers) s?.close()
  console.log(`\n  probe tests skipped: ${skip}\n`)
}
const it = skip ? probes.skip : probes

probes.before(() => {
  if (skip) return
  resetCluster()
  installFakeApp('argocd', 'argocd-server', 80)
  installFakeApp('longhorn-system', 'longhorn-frontend', 80)
})

probes.after(() => {
  for (const s of servers) s?.close()
})

it('admin hosts answer on INTERNAL_IP and get 404 (or nothing) on EXTERNAL_IP: verify passes with every probe checked', async () => {
  // The servers live in this process: the script runs asynchronously so they can answer.
  const r = await startScript('run-all', ['--json'], () => {})
  assert.is(r.code, 0, r.output)
  const report = JSON.parse(r.stdout)
  const probeChecks = report.checks.filter((c: any) => / answer(s| on)/.test(c.name))
  assert.is(probeChecks.length, 12)
  for (const c of probeChecks) assert.is(c.status, 'pass', `${c.name}: ${c.detail}`)
})

it('an admin host answering on EXTERNAL_IP fails verify and names the host', async () => {
  servers[1]!.close()
  servers[1] = await entrypoint('127.0.0.201', new Set(['argocd.home.example']))
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
