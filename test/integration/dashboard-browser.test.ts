/**
 * What the user opens, opened: the Traefik dashboard in a real headless Chromium, the host name
 * mapped to each LoadBalancer address by Chromium's host resolver rules (no DNS), through the real
 * Traefik run with the kit's configuration (real-traefik.ts). Through INTERNAL_IP the page renders and
 * the API it reads answers; through EXTERNAL_IP every one of them is Traefik's 404.
 *
 * The test build of Traefik serves a stub page as its dashboard (test/cluster/cluster.sh,
 * traefik_dashboard_stub: the module has no built web UI), so the browser also opens the API
 * endpoints the real dashboard's pages read (/api/version, /api/overview, /api/http/routers).
 */
import fs from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chromiumPath, openPage } from './browser.ts'
import { installFakeApp, runScript, testCluster } from './harness.ts'
import { bindErrorMessage, lowPortsAllowed } from './lb-forwarder.ts'
import { EXTERNAL_IP, INTERNAL_IP, type RealTraefik, realTraefikUnavailable, startRealTraefik, TRAEFIK_VERSION } from './real-traefik.ts'

const cluster = testCluster()
const skip = !cluster
  ? 'no test cluster'
  : (realTraefikUnavailable() ?? (chromiumPath() ? '' : 'chromium is not installed (Debian package chromium: make test installs it as root, test/packages.sh)'))
const lowPorts = skip ? true : await lowPortsAllowed()
const why = skip || (lowPorts ? '' : bindErrorMessage('EACCES', `${INTERNAL_IP}:80`))
if (why) console.log(`\n  dashboard browser tests skipped: ${why}\n`)

const HOST = 'traefik.home.example'
const browser = suite('integration: the Traefik dashboard in a real headless Chromium')
const it = why ? browser.skip : browser

let rt: RealTraefik | undefined
let setupError: Error | undefined
browser.before(async () => {
  if (why) return
  try {
    installFakeApp('argocd', 'argocd-server', 80)
    installFakeApp('longhorn-system', 'longhorn-frontend', 80)
    const r = runScript('run-all', ['--no-probe'])
    if (r.code !== 0) throw new Error(`run-all failed:\n${r.output}`)
    rt = await startRealTraefik()
  } catch (err) {
    setupError = err as Error
  }
})
browser.after(async () => {
  await rt?.stop()
})
const ready = () => {
  if (setupError) throw setupError
}
/** The page's visible text (what --dump-dom gives, without tags). */
const text = (dom: string) => dom.replace(/<head>[\s\S]*?<\/head>/g, '').replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/\s+/g, ' ').trim()

it('through INTERNAL_IP the dashboard renders and the API it reads answers', () => {
  ready()
  const page = openPage(`http://${HOST}/dashboard/`, HOST, INTERNAL_IP)
  assert.match(page.dom, /<title>Traefik Proxy \(test build\)<\/title>/)
  assert.match(text(page.dom), /^Traefik dashboard \(test build/)
  const version = JSON.parse(text(openPage(`http://${HOST}/api/version`, HOST, INTERNAL_IP).dom))
  assert.is(version.Version, TRAEFIK_VERSION)
  const overview = JSON.parse(text(openPage(`http://${HOST}/api/overview`, HOST, INTERNAL_IP).dom))
  assert.ok(overview.http.routers.total > 0, JSON.stringify(overview))
  const routers: { rule: string; entryPoints: string[] }[] = JSON.parse(text(openPage(`http://${HOST}/api/http/routers`, HOST, INTERNAL_IP).dom))
  // the dashboard's routers (Traefik may list one per entrypoint): on the internal entrypoints only
  const dashboard = routers.filter((r) => r.rule.includes(`Host(\`${HOST}\`)`))
  assert.ok(dashboard.length > 0, JSON.stringify(routers.map((r) => r.rule)))
  assert.equal([...new Set(dashboard.flatMap((r) => r.entryPoints))].sort(), ['intweb', 'intwebsec'])
})

it('through EXTERNAL_IP the dashboard and the API are Traefik\'s 404', () => {
  ready()
  for (const where of ['/dashboard/', '/api/version', '/api/overview']) {
    const page = openPage(`http://${HOST}${where}`, HOST, EXTERNAL_IP)
    assert.is(text(page.dom), '404 page not found', `${where} through ${EXTERNAL_IP}`)
  }
})

it('a screenshot of what it rendered through INTERNAL_IP', () => {
  ready()
  const file = `${rt!.dir}/dashboard.png`
  const page = openPage(`http://${HOST}/dashboard/`, HOST, INTERNAL_IP, { screenshot: file })
  assert.is(page.screenshot, file)
  assert.equal([...fs.readFileSync(file).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG')
})

browser.run()
