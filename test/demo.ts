/**
 * make demo's core (test/demo.sh brings the test cluster up, then runs this): the kit's steps on the
 * test cluster, then the real Traefik (the binary test/cluster/cluster.sh built) run with the
 * arguments the chart put into the Deployment, behind the two loopback LoadBalancer addresses
 * (test/integration/real-traefik.ts: a forwarder stands in for kube-proxy, Pebble for the ACME
 * server), and 04-verify asking every admin host on both addresses: the reachability matrix. Then a
 * rogue public route to ArgoCD, 04 failing on it, the route removed, 04 green again.
 *
 * Every process it starts (Traefik, the forwarder, Pebble) is stopped when it ends, also on a
 * failure or Ctrl-C; the test cluster keeps running.
 *
 * Where the reachability matrix cannot be shown (the ports 80/443 on loopback need root, or the
 * Traefik and Pebble binaries are not built), it says why and runs 01 -> 04 with --no-probe instead.
 */
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { chromiumPath, openPage } from './integration/browser.ts'
import { applyYaml, ENV_FILE, kubectlMaybe, ROOT, testCluster } from './integration/harness.ts'
import { lowPortsAllowed } from './integration/lb-forwarder.ts'
import { EXTERNAL_IP, INTERNAL_IP, NAMESPACE, type RealTraefik, realTraefikUnavailable, request, startRealTraefik, TRAEFIK_VERSION } from './integration/real-traefik.ts'

const ENV_ARG = path.relative(ROOT, ENV_FILE)
const DOMAIN = 'home.example'
const started = Date.now()
const say = (text: string) => console.log(`\n==> [demo ${Math.round((Date.now() - started) / 1000)}s] ${text}`)

/** The rogue route: ArgoCD's host on the public entrypoints, to ArgoCD's own Service. */
const ROGUE = { name: 'argocd-public', namespace: 'argocd', host: `argocd.${DOMAIN}` }
const ROGUE_YAML = `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: ${ROGUE.name}
  namespace: ${ROGUE.namespace}
  labels: {app.kubernetes.io/part-of: homelab-ingress-demo}
spec:
  entryPoints: [web, websecure]
  routes:
  - kind: Rule
    match: Host(\`${ROGUE.host}\`)
    services: [{name: argocd-server, port: 80}]
`
let rogueApplied = false
const removeRogue = () => kubectlMaybe('delete', 'ingressroutes.traefik.io', ROGUE.name, '-n', ROGUE.namespace, '--ignore-not-found', '--wait=true')
// Stopped by Ctrl-C, the process exits through real-traefik.ts's signal handlers: its exit hook
// kills Traefik, the forwarder and Pebble; this one takes the rogue route away.
process.on('exit', () => {
  if (rogueApplied) removeRogue()
})

/** One of scripts/*.ts, as make runs it (plain node), its output straight to the user. */
// The admission guard as a user gets it (deny, the default); test.env turns it off for the tests.
let guard = 'deny'
function step(script: string, args: string[] = []): Promise<number> {
  const env = { ...testCluster()!.env, ADMISSION_GUARD: guard }
  const child = spawn(process.execPath, [path.join('scripts', `${script}.ts`), '--env-file', ENV_ARG, ...args], { cwd: ROOT, env, stdio: 'inherit' })
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))))
}

/** kubectl apply of a YAML text, its exit code and what it printed (the API server's refusal or warning). */
function kubectlApply(yaml: string): { code: number; output: string } {
  const r = spawnSync('kubectl', ['--context=homelab-test', 'apply', '-f', '-'], { input: yaml, env: testCluster()!.env, encoding: 'utf8' })
  return { code: r.status ?? 1, output: `${r.stdout}${r.stderr}` }
}

/** Waits until the API server applies the guard's binding as 03 just wrote it (usually under a second). */
async function guardEnforced(action: 'Warn' | 'Deny'): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const dry = spawnSync('kubectl', ['--context=homelab-test', 'apply', '--dry-run=server', '-f', '-'], { input: ROGUE_YAML, env: testCluster()!.env, encoding: 'utf8' })
    if (action === 'Warn' ? dry.status === 0 : dry.status !== 0) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`the API server did not apply ADMISSION_GUARD=${action.toLowerCase()} within 20 s`)
}

async function must(script: string, args: string[] = []): Promise<void> {
  const code = await step(script, args)
  if (code !== 0) throw new Error(`${script} exited ${code} (its output is above)`)
}

/** Asks until `ok` holds (Traefik follows a route change within about a second); the last status. */
async function statusWhen(ip: string, port: number, host: string, ok: (status: number) => boolean, seconds = 20): Promise<number | string> {
  const deadline = Date.now() + seconds * 1000
  let last: number | string = 'no answer'
  while (Date.now() < deadline) {
    last = await request(ip, port, host, '/').then((a) => a.status, (err: Error) => err.message)
    if (typeof last === 'number' && ok(last)) return last
    await new Promise((r) => setTimeout(r, 250))
  }
  return last
}

function fakeApps(): void {
  say('pretending ArgoCD and Longhorn are installed (a namespace and a Service each; kwok runs no pods behind them)')
  applyYaml(`apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Service
metadata: {name: argocd-server, namespace: argocd}
spec: {selector: {app: argocd-server}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: longhorn-system}
---
apiVersion: v1
kind: Service
metadata: {name: longhorn-frontend, namespace: longhorn-system}
spec: {selector: {app: longhorn-ui}, ports: [{name: http, port: 80}]}
`)
}

/** Why the matrix cannot be shown on this machine, or undefined when it can. */
async function noMatrix(): Promise<string | undefined> {
  const missing = realTraefikUnavailable()
  if (missing) return missing
  if (!(await lowPortsAllowed())) {
    return (
      `04-verify asks ports 80 and 443 of ${INTERNAL_IP} and ${EXTERNAL_IP}, as a LAN client does, and listening on ports below 1024 ` +
      `needs root (or CAP_NET_BIND_SERVICE) here; the kit has no setting to probe other ports. Run \`sudo make demo\` to see the matrix`
    )
  }
  return undefined
}

/** Where the demo saves what Chromium showed (out/ is the kit's output directory, ignored by git). */
const SCREENSHOT_DIR = path.join(ROOT, 'out', 'demo')

/** The Traefik dashboard as a browser on the LAN opens it, through each address, saved as PNG. */
function screenshots(): void {
  const host = `traefik.${DOMAIN}`
  if (!chromiumPath()) {
    say('no screenshot of the dashboard: chromium is not installed (Debian package chromium; make test installs it when run as root)')
    return
  }
  say(`opening http://${host}/dashboard/ in a headless Chromium, the name mapped to each address by its host resolver rules (no DNS)`)
  for (const [name, ip] of [['internal', INTERNAL_IP], ['external', EXTERNAL_IP]] as const) {
    const file = path.join(SCREENSHOT_DIR, `dashboard-${name}.png`)
    try {
      const page = openPage(`http://${host}/dashboard/`, host, ip, { screenshot: file })
      const text = page.dom.replace(/<head>[\s\S]*?<\/head>/g, '').replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()
      console.log(`    through ${name.toUpperCase()}_IP ${ip}: "${text.slice(0, 120)}${text.length > 120 ? '...' : ''}"; screenshot: ${path.relative(process.cwd(), file)}`)
    } catch (err) {
      console.log(`    through ${name.toUpperCase()}_IP ${ip}: no screenshot (${(err as Error).message.split('\n')[0]})`)
    }
  }
}

async function main(): Promise<number> {
  if (!testCluster()) throw new Error('the test cluster is not built: run make demo (it builds it first)')
  fakeApps()
  const why = await noMatrix()
  if (why) {
    say(`NOT showing the reachability matrix: ${why}.`)
    say(`01 -> 04 against the test cluster without probes: scripts/run-all.ts --env-file ${ENV_ARG} --no-probe`)
    return step('run-all', ['--no-probe'])
  }

  say(`01 -> 03 against the test cluster (scripts/0N-*.ts --env-file ${ENV_ARG}): MetalLB pools for ${INTERNAL_IP} and ${EXTERNAL_IP}, Traefik's chart, the admin routes`)
  await must('01-metallb')
  await must('02-traefik')
  await must('03-internal-routes')

  say(
    `starting the real Traefik: the ${TRAEFIK_VERSION} binary the test cluster built (kwok runs no containers, so the image the Deployment names is not pulled), ` +
      `with the arguments the chart put into Deployment ${NAMESPACE}/traefik: ` +
      `its entrypoints on a loopback address of their own, a forwarder in kube-proxy's place on ${INTERNAL_IP} and ${EXTERNAL_IP} ports 80 and 443 ` +
      `as the two LoadBalancer Services say, Pebble as the ACME server`,
  )
  let rt: RealTraefik | undefined
  try {
    rt = await startRealTraefik({ pebble: true })
    console.log(`    Traefik on ${rt.traefikIp} answered /ping after ${rt.timings.ping} ms and its routes after ${rt.timings.routes} ms (files in ${rt.dir})`)
    for (const r of rt.plan.routes) console.log(`    forwarder: ${r.listen.ip}:${r.listen.port} -> ${r.target.ip}:${r.target.port}`)

    say(`04-verify with its probes: each admin host asked on ${INTERNAL_IP} (internal) and ${EXTERNAL_IP} (external), ports 80 and 443`)
    const first = await step('04-verify')
    if (first !== 0) throw new Error(`04-verify exited ${first} with nothing rogue in the cluster (its output is above)`)

    screenshots()

    say(`someone adds a public route to ArgoCD: IngressRoute ${ROGUE.namespace}/${ROGUE.name} on entrypoints web and websecure, Host(\`${ROGUE.host}\`) -> Service argocd-server`)
    console.log(ROGUE_YAML.replace(/^/gm, '    ').trimEnd())
    const refused = kubectlApply(ROGUE_YAML)
    if (refused.code === 0) throw new Error(`the admission guard (ADMISSION_GUARD=deny) let the route in:\n${refused.output}`)
    console.log(`    kubectl apply exited ${refused.code}: the admission guard refused it:\n${refused.output.trim().replace(/^/gm, '      ')}`)

    say('without the guard (ADMISSION_GUARD=warn, or a cluster older than Kubernetes 1.30) the route gets in, with a warning: 03 sets the guard to warn')
    guard = 'warn'
    await must('03-internal-routes')
    await guardEnforced('Warn')
    rogueApplied = true
    const admitted = kubectlApply(ROGUE_YAML)
    if (admitted.code !== 0) throw new Error(`kubectl apply with ADMISSION_GUARD=warn failed:\n${admitted.output}`)
    console.log(admitted.output.trim().replace(/^/gm, '    '))
    const exposed = await statusWhen(EXTERNAL_IP, 80, ROGUE.host, (s) => s !== 404)
    console.log(`    asked directly: ${ROGUE.host} on EXTERNAL_IP ${EXTERNAL_IP}:80 now answers ${exposed}${exposed === 503 ? ' (routed to argocd-server, which has no pods here)' : ''}`)
    say('04-verify again: it must fail and name the route')
    const caught = await step('04-verify')
    if (caught === 0) throw new Error('04-verify passed with a public route to ArgoCD in the cluster')
    console.log(`\n    04-verify exited ${caught}: the rogue route is caught.`)

    say(`removing IngressRoute ${ROGUE.namespace}/${ROGUE.name}`)
    removeRogue()
    rogueApplied = false
    const closed = await statusWhen(EXTERNAL_IP, 80, ROGUE.host, (s) => s === 404)
    console.log(`    asked directly: ${ROGUE.host} on EXTERNAL_IP ${EXTERNAL_IP}:80 answers ${closed} again`)
    say('03 puts the guard back to deny (the default), then 04-verify once more: green again')
    guard = 'deny'
    await must('03-internal-routes')
    const green = await step('04-verify')
    if (green !== 0) throw new Error(`04-verify exited ${green} after the rogue route was removed (its output is above)`)
    return 0
  } finally {
    if (rogueApplied) {
      removeRogue()
      rogueApplied = false
    }
    if (rt) {
      await rt.stop()
      say('stopped the real Traefik, the forwarder and Pebble (the test cluster keeps running)')
    }
  }
}

try {
  const code = await main()
  say(code === 0 ? `done in ${Math.round((Date.now() - started) / 1000)} s` : `failed (exit ${code})`)
  process.exitCode = code
} catch (err) {
  console.error(`\nERROR: ${(err as Error).message}`)
  process.exitCode = 1
}
