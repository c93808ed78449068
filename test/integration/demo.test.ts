/**
 * `make demo`'s script, run as the user runs it (bash test/demo.sh): it must end in 04-verify's
 * reachability matrix through the real Traefik, show a rogue public route to ArgoCD caught by 04,
 * be green again once the route is gone, and leave none of its processes behind.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chromiumPath } from './browser.ts'
import { ROOT, skipReason, testCluster } from './harness.ts'
import { bindErrorMessage, lowPortsAllowed } from './lb-forwarder.ts'
import { EXTERNAL_IP, INTERNAL_IP, realTraefikUnavailable } from './real-traefik.ts'

const cluster = testCluster()
const skip = !cluster
  ? skipReason()
  : (realTraefikUnavailable() ?? (!(await lowPortsAllowed()) ? `${bindErrorMessage('EACCES', `${INTERNAL_IP}:80`)}; the demo then shows no matrix` : ''))
if (skip) console.log(`\n  demo test skipped: ${skip}\n`)

const demo = suite('integration: make demo (test/demo.sh)')
const it = skip ? demo.skip : demo

type Run = { code: number | null; output: string; seconds: number }

/** bash test/demo.sh in its own process group (killed whole if it outlives `seconds`). */
function runDemo(seconds = 900): Promise<Run> {
  const begun = Date.now()
  const child = spawn('bash', [path.join(ROOT, 'test', 'demo.sh')], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const timer = setTimeout(() => {
    output += `\n[test] demo still running after ${seconds} s: killing its process group\n`
    process.kill(-child.pid!, 'SIGKILL')
  }, seconds * 1000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output, seconds: (Date.now() - begun) / 1000 })
    }),
  )
}

/** The matrices 04-verify printed, each as host -> its four cells. */
function matrices(output: string): Map<string, string[]>[] {
  const lines = output.split('\n')
  const out: Map<string, string[]>[] = []
  lines.forEach((line, i) => {
    if (!line.startsWith(`Reachability (internal = INTERNAL_IP ${INTERNAL_IP}, external = EXTERNAL_IP ${EXTERNAL_IP};`)) return
    assert.match(lines[i + 1], /^ {2}host +internal:80 +internal:443 +external:80 +external:443$/)
    const rows = new Map<string, string[]>()
    for (const row of lines.slice(i + 2)) {
      const m = /^ {2}(\S+) {2,}(.+)$/.exec(row)
      if (!m) break
      rows.set(m[1], m[2].trim().split(/ {2,}/))
    }
    out.push(rows)
  })
  return out
}

const refused = (ip: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: ip, port }, () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', () => resolve(true))
  })

// Each admin host as the design promises it (README, Reachability matrix): routed on the internal
// address (Traefik's own dashboard 200; an app's Service without pods 503), 404 on the external one.
const PROMISED = new Map([
  ['traefik.home.example', ['200', '200', '404', '404']],
  ['argocd.home.example', ['503', '503', '404', '404']],
  ['longhorn.home.example', ['503', '503', '404', '404']],
])

it('ends in the matrix, catches the rogue route to ArgoCD, is green again, and leaves no process behind', async () => {
  const run = await runDemo()
  console.log(`\n  make demo's script took ${run.seconds.toFixed(1)} s`)
  assert.is(run.code, 0, run.output)

  const [before, rogue, after, ...more] = matrices(run.output)
  assert.is(more.length, 0, `three runs of 04-verify expected:\n${run.output}`)
  for (const [name, table] of [['first', before], ['last', after]] as const) {
    assert.ok(table, `no ${name} matrix:\n${run.output}`)
    assert.equal(Object.fromEntries(table), Object.fromEntries(PROMISED), `${name} matrix`)
  }
  // With the rogue route: ArgoCD answers on the external address (503: routed to argocd-server), marked failing.
  assert.ok(rogue, run.output)
  assert.equal(rogue.get('argocd.home.example')?.slice(0, 2), ['503', '503'])
  for (const cell of rogue.get('argocd.home.example')!.slice(2)) assert.match(cell, /^503 +!$/)
  assert.equal(rogue.get('longhorn.home.example'), PROMISED.get('longhorn.home.example'))

  // 04's finding names the route, between the rogue run and the green one.
  const rogueRun = run.output.slice(run.output.indexOf('04-verify again'), run.output.indexOf('removing IngressRoute argocd/argocd-public'))
  assert.match(rogueRun, /^ {2}\[FAIL\] .*IngressRoute argocd\/argocd-public/m)
  const greenRun = run.output.slice(run.output.indexOf('04-verify once more'))
  assert.not.match(greenRun, /\[FAIL\]/)
  assert.match(greenRun, /done in \d+ s/)

  // The dashboard as Chromium showed it, saved where the demo says.
  if (chromiumPath()) {
    const internal = new RegExp(`through INTERNAL_IP ${INTERNAL_IP.replaceAll('.', '\\.')}: "Traefik dashboard \\(test build[^"]*"; screenshot: (\\S+)`).exec(run.output)
    const external = new RegExp(`through EXTERNAL_IP ${EXTERNAL_IP.replaceAll('.', '\\.')}: "404 page not found"; screenshot: (\\S+)`).exec(run.output)
    for (const [where, m] of [['internal', internal], ['external', external]] as const) {
      assert.ok(m, `no ${where} screenshot line:\n${run.output}`)
      const png = fs.readFileSync(path.resolve(ROOT, m[1]))
      assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${m[1]} is no PNG`)
    }
  } else {
    assert.match(run.output, /no screenshot of the dashboard: chromium is not installed/)
  }

  // Nothing of the demo keeps running: no process with its Traefik's address, nothing on the LoadBalancer
  // addresses or Pebble's.
  const traefikIp = /Traefik on (127\.10\.\d+\.\d+) answered/.exec(run.output)?.[1]
  assert.ok(traefikIp, run.output)
  const left = fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${traefikIp}:`)
      } catch {
        return false
      }
    })
  assert.equal(left, [], `processes left with ${traefikIp} in their arguments`)
  for (const ip of [INTERNAL_IP, EXTERNAL_IP]) for (const port of [80, 443]) assert.ok(await refused(ip, port), `${ip}:${port} still answers`)
  assert.ok(await refused('127.0.0.1', 14000), "Pebble's 127.0.0.1:14000 still answers")
})

demo.run()
