/**
 * Recovery and refusal against the real test cluster: each failure gives a clear message, loses
 * nothing, and the next run repairs it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ADMIN_INGRESSES,
  installFakeApp,
  applyYaml,
  CLUSTER_DIR,
  createSquatter,
  CLUSTER_SH,
  helm,
  helmRelease,
  kubectl,
  kubectlMaybe,
  ownedState,
  resetCluster,
  ROGUE_ARGOCD_ROUTE,
  ROOT,
  runScript,
  sh,
  startScript,
  TEST_CHART,
  TEST_CHART_NAME_VERSION,
  testCluster,
} from './harness.ts'
import { holdDeploymentWrites } from './slow-webhook.ts'
import { processRunning } from '../../lib/kube/lease.ts'

const cluster = testCluster()
const waitFor = async (what: string, check: () => boolean, seconds = 60) => {
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function converge(): void {
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
}

// ---
const squatter = suite('integration: the internal address held by another Service')
const sq = cluster ? squatter : squatter.skip

squatter.before(() => {
  if (!cluster) return
  resetCluster()
  const pools = runScript('01-metallb')
  assert.is(pools.code, 0, pools.output)
  createSquatter()
})

sq('04-verify fails naming MetalLB\'s reason and the Service that holds the address', () => {
  const r = runScript('run-all', ['--from', '02', '--timeout', '60', '--no-probe'])
  assert.is(r.code, 1, r.output)
  assert.match(r.stdout, /^04-verify: FAILED/m)
  assert.match(r.stderr, /\[FAIL\] Service traefik-internal EXTERNAL-IP = INTERNAL_IP 127\.0\.0\.200: EXTERNAL-IP is <pending>; MetalLB: AllocationFailed: [^\n]*address also in use by traefik\/squatter; the address is held by Service traefik\/squatter/)
  assert.match(r.stderr, /Step 04-verify failed\. Fix the cause above, then resume with:\n {2}make from STEP=04/)
})

sq('after that Service is removed, a rerun passes', () => {
  kubectl('delete', 'service', 'squatter', '-n', 'traefik', '--wait=true')
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stdout, /^04-verify: OK/m)
})

squatter.run()

// ---
const refusals = suite('integration: refusals that touch nothing')
const rf = cluster ? refusals : refusals.skip

refusals.before(() => {
  if (cluster) converge()
})

rf('a current context other than KUBE_CONTEXT is refused and nothing changes', () => {
  const kubeconfig = path.join(CLUSTER_DIR, 'kubeconfig-other-context')
  fs.copyFileSync(cluster!.env.KUBECONFIG!, kubeconfig)
  try {
    const current = kubectl('config', 'current-context').stdout.trim()
    sh('kubectl', ['--kubeconfig', kubeconfig, 'config', 'set-context', 'elsewhere', `--cluster=${JSON.parse(kubectl('config', 'view', '-o', 'json', '--minify').stdout).clusters[0].name}`])
    sh('kubectl', ['--kubeconfig', kubeconfig, 'config', 'use-context', 'elsewhere'])
    const before = ownedState()
    const r = runScript('run-all', ['--no-probe'], { KUBECONFIG: kubeconfig, TRAEFIK_PHONE_HOME: 'true' })
    assert.is(r.code, 2, r.output)
    assert.match(r.stderr, /refusing to run: the current kubectl context is elsewhere but KUBE_CONTEXT is homelab-test/)
    assert.equal(ownedState(), before)
    assert.is(current, 'homelab-test')
  } finally {
    fs.rmSync(kubeconfig, { force: true })
  }
})

rf('an address outside every pool stops 02-traefik with a fix-it message, before helm runs', () => {
  const before = ownedState()
  const r = runScript('02-traefik', [], { EXTERNAL_IP: '127.0.0.202' })
  assert.is(r.code, 3, r.output)
  assert.match(r.stderr, /EXTERNAL_IP=127\.0\.0\.202 is in no MetalLB pool: homelab-ingress-external holds 127\.0\.0\.201\/32/)
  assert.match(r.stderr, /run 01-metallb first/)
  assert.equal(ownedState(), before)
})

/** Admin UIs present (a namespace and a Service each), with the kit's routes to them. */
function withAdminApps(...apps: [string, string][]): void {
  for (const [namespace, service] of apps) installFakeApp(namespace, service, 80)
  const routes = runScript('03-internal-routes', [])
  assert.is(routes.code, 0, routes.output)
}
const withoutAdminApps = (...namespaces: string[]) => kubectl('delete', 'namespace', ...namespaces, '--wait=true', '--timeout=120s')

rf('an admin IngressRoute someone else put on web makes 04-verify fail and name it', () => {
  withAdminApps(['argocd', 'argocd-server'])
  applyYaml(ROGUE_ARGOCD_ROUTE)
  try {
    const r = runScript('04-verify', ['--json', '--no-probe', '--timeout', '30'])
    assert.is(r.code, 1, r.output)
    const report = JSON.parse(r.stdout)
    const failed = report.checks.filter((c: any) => c.status === 'fail')
    assert.equal(failed.map((c: any) => c.name), [
      'IngressRoute argocd/argocd-shortcut (argocd.home.example) only on internal entrypoints',
      'Routers on public entrypoints reach no admin UI',
    ])
    assert.is(
      failed[0].detail,
      "on public web, it reaches argocd.home.example: Service argocd/argocd-server (argocd.home.example); fix: set its entryPoints to intweb, intwebsec, or point it at a public app's backend",
    )
  } finally {
    withoutAdminApps('argocd')
  }
})

rf('a plain Ingress for an admin host: without entrypoints it lands on the internal defaults; one on web fails 04, named', () => {
  withAdminApps(['argocd', 'argocd-server'], ['longhorn-system', 'longhorn-frontend'])
  applyYaml(ADMIN_INGRESSES)
  try {
    const quiet = runScript('04-verify', ['--json', '--no-probe', '--timeout', '30'])
    assert.is(quiet.code, 0, quiet.output)
    const longhorn = JSON.parse(quiet.stdout).checks.find((c: any) => c.name.startsWith('Ingress longhorn-system/longhorn-ingress'))
    assert.is(longhorn?.status, 'pass', JSON.stringify(longhorn))
    kubectl('annotate', 'ingresses.networking.k8s.io', 'longhorn-ingress', '-n', 'longhorn-system', 'traefik.ingress.kubernetes.io/router.entrypoints=web')
    const r = runScript('04-verify', ['--json', '--no-probe', '--timeout', '30'])
    assert.is(r.code, 1, r.output)
    const failed = JSON.parse(r.stdout).checks.filter((c: any) => c.status === 'fail')
    assert.equal(failed.map((c: any) => c.name), [
      'Ingress longhorn-system/longhorn-ingress (longhorn.home.example) only on internal entrypoints',
      'Routers on public entrypoints reach no admin UI',
    ])
  } finally {
    withoutAdminApps('argocd', 'longhorn-system')
  }
})

rf("the blog's single pool still holding both addresses stops 01-metallb, naming it", () => {
  // as on a cluster set up the blog's way: its pool is there first (next to ours, MetalLB's webhook refuses it)
  kubectl('delete', 'ipaddresspools.metallb.io', 'homelab-ingress-internal', 'homelab-ingress-external', '-n', 'metallb-system')
  applyYaml(`apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses: [127.0.0.200-127.0.0.201]
`)
  try {
    const before = ownedState()
    const r = runScript('01-metallb')
    assert.is(r.code, 3, r.output)
    assert.match(r.stderr, /IPAddressPool metallb-system\/first-pool already holds INTERNAL_IP=127\.0\.0\.200 \(in 127\.0\.0\.200-127\.0\.0\.201\)/)
    assert.match(r.stderr, /IPAddressPool metallb-system\/first-pool already holds EXTERNAL_IP=127\.0\.0\.201/)
    assert.equal(ownedState(), before)
  } finally {
    kubectl('delete', 'ipaddresspools.metallb.io', 'first-pool', '-n', 'metallb-system')
  }
  assert.is(runScript('01-metallb').code, 0)
})

rf("MetalLB's CRDs missing stops 01-metallb with a fix-it message", () => {
  const crds = kubectl('get', 'crd', 'ipaddresspools.metallb.io', 'l2advertisements.metallb.io', '-o', 'json').stdout
  const saved = JSON.parse(crds).items.map((crd: any) => {
    delete crd.metadata.resourceVersion
    delete crd.metadata.uid
    delete crd.metadata.creationTimestamp
    delete crd.metadata.managedFields
    delete crd.status
    return crd
  })
  kubectl('delete', 'crd', 'ipaddresspools.metallb.io', 'l2advertisements.metallb.io', '--wait=true')
  try {
    const r = runScript('01-metallb')
    assert.is(r.code, 3, r.output)
    assert.match(r.stderr, /MetalLB is not installed in context homelab-test:\n {2}- CRD ipaddresspools\.metallb\.io is missing\n {2}- CRD l2advertisements\.metallb\.io is missing\n {2}- install MetalLB first/)
  } finally {
    sh('kubectl', ['--context=homelab-test', 'apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: saved }) })
    kubectl('wait', '--for=condition=Established', 'crd/ipaddresspools.metallb.io', 'crd/l2advertisements.metallb.io', '--timeout=60s')
  }
  const again = runScript('01-metallb')
  assert.is(again.code, 0, again.output)
  assert.match(again.stdout, /^01-metallb: 3 created$/m)
})

refusals.run()

// ---
const interrupted = suite('integration: interrupted runs are repaired by the next one')
const ir = cluster ? interrupted : interrupted.skip

/** Starts helm the way an interrupted run leaves it, and kills it once the release is pending. */
async function killHelmWhilePending(args: string[], pending: string): Promise<void> {
  const c = testCluster()!
  const { spawn } = await import('node:child_process')
  const child = spawn('helm', ['--kube-context=homelab-test', ...args], { cwd: ROOT, env: c.env, stdio: 'ignore' })
  try {
    await waitFor(`release status ${pending}`, () => helmRelease()?.status === pending, 60)
  } finally {
    child.kill('SIGKILL')
  }
}

// A nodeSelector no kwok node has: the pod never schedules, so `helm --wait` keeps the release pending.
const UNSCHEDULABLE = ['--set-string', 'nodeSelector.homelab-ingress/none=true', '--wait', '--timeout', '10m']

ir('pending-upgrade: the next 02-traefik rolls back what the interrupted run changed', async () => {
  converge()
  const before = helmRelease()!
  await killHelmWhilePending(['upgrade', 'traefik', TEST_CHART, '-n', 'traefik', '--reuse-values', ...UNSCHEDULABLE], 'pending-upgrade')
  // Seconds old: that helm may still be at work, so 02 leaves it alone and says so.
  const refused = runScript('02-traefik')
  assert.is(refused.code, 3, refused.output)
  assert.match(refused.stderr, new RegExp(`revision ${Number(before.revision) + 1} has been pending-upgrade for \\d+s only: another helm operation may still be running`))
  assert.match(refused.stderr, /--force/)
  assert.is(helmRelease()!.status, 'pending-upgrade')
  const r = runScript('02-traefik', ['--force'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, new RegExp(`release traefik: revision ${Number(before.revision) + 1} is stuck in pending-upgrade`))
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik repaired \\(revision \\d+, ${TEST_CHART_NAME_VERSION.replaceAll('.', '\\.')}\\)$`, 'm'))
  assert.is(helmRelease()!.status, 'deployed')
  const values = JSON.parse(helm('get', 'values', 'traefik', '-n', 'traefik', '-o', 'json').stdout)
  assert.is(values.nodeSelector, undefined, 'the interrupted run\'s values are gone')
  const deployment = JSON.parse(kubectl('get', 'deployment', 'traefik', '-n', 'traefik', '-o', 'json').stdout)
  assert.is(deployment.spec.template.spec.nodeSelector, undefined, 'and so is what it had applied')
  const again = runScript('02-traefik')
  assert.match(again.stdout, /^02-traefik: release traefik unchanged/m)
  const verify = runScript('04-verify', ['--no-probe'])
  assert.is(verify.code, 0, verify.output)
})

/** The note 02 keeps on the kit's lease while its helm writes a revision. */
function helmNote(): { holder: string; revision: number; status: string; helmPid?: number } | undefined {
  const lease = kubectlMaybe('get', 'lease', 'homelab-ingress', '-n', 'traefik', '-o', 'json')
  const text = lease.code === 0 ? JSON.parse(lease.stdout).metadata.annotations?.['homelab-ingress/helm-operation'] : undefined
  return text ? JSON.parse(text) : undefined
}

/** Every process started under `pid` (children, grandchildren), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = []
  const walk = (p: number) => (parents.get(p) ?? []).forEach((c) => (out.push(c), walk(c)))
  walk(pid)
  return out
}

/** A killed process may stay a zombie until it is reaped: processRunning says it no longer runs. */
const running = processRunning

/**
 * Starts 02-traefik with a changed value (a new revision), holds its helm's Deployment write in the
 * test's webhook, and returns once the release is pending-upgrade: the run's pid, its helm's, and
 * the run's promise. The kill is the caller's.
 */
async function startUpgradeAndHold(hold: { held: () => number }) {
  let pid = 0
  const run = startScript('02-traefik', [], () => {}, { TRAEFIK_PHONE_HOME: 'true' }, (p) => (pid = p))
  await waitFor('the release pending-upgrade with its Deployment write held', () => hold.held() > 0 && helmRelease()?.status === 'pending-upgrade', 90)
  await waitFor("helm's pid noted on the lease", () => helmNote()?.helmPid !== undefined, 10)
  const note = helmNote()!
  return { pid, helmPid: note.helmPid!, note, run }
}

ir("02 killed with its helm mid-upgrade: the next plain run takes the dead run's lease and repairs the release at once", async () => {
  converge()
  const before = Number(helmRelease()!.revision)
  const hold = await holdDeploymentWrites()
  if (typeof hold === 'string') throw new Error(hold)
  let killed: { pid: number; helmPid: number }
  try {
    const { pid, helmPid, note, run } = await startUpgradeAndHold(hold)
    assert.equal(note, { ...note, holder: `02-traefik pid ${pid} on ${os.hostname()}`, revision: before + 1, status: 'pending-upgrade' })
    assert.ok(descendants(pid).includes(helmPid), `helm (pid ${helmPid}) runs under the run's Node process (pid ${pid})`)
    // as a closed laptop or a lost SSH session ends them: no chance to clean up
    for (const p of [pid, ...descendants(pid)]) process.kill(p, 'SIGKILL')
    const ended = await run
    assert.is(ended.code, null, 'killed by the signal')
    killed = { pid, helmPid }
  } finally {
    await hold.close()
  }
  assert.is(helmRelease()!.status, 'pending-upgrade', 'the killed run left its revision pending')
  await waitFor('the killed run and its helm gone', () => !running(killed.pid) && !running(killed.helmPid), 10)
  const holder = `02-traefik pid ${killed.pid} on ${os.hostname()}`
  const leaseNow = JSON.parse(kubectl('get', 'lease', 'homelab-ingress', '-n', 'traefik', '-o', 'json').stdout)
  assert.is(leaseNow.spec.holderIdentity, holder, 'the dead run still holds an unexpired lease')

  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  assert.match(r.stderr, new RegExp(`taking over the lease of ${esc(holder)} at once: its process \\(pid ${killed.pid}\\) no longer runs on this machine`))
  assert.not.match(r.stderr, /waiting for .* to finish/)
  assert.match(
    r.stderr,
    new RegExp(`release traefik revision ${before + 1} \\(pending-upgrade\\) was left by ${esc(holder)}, which is gone \\(its processes \\(pid ${killed.pid}, ${killed.helmPid}\\) no longer run on this machine\\): repairing it now`),
  )
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik repaired \\(revision ${before + 2}, ${TEST_CHART_NAME_VERSION.replaceAll('.', '\\.')}\\)$`, 'm'))
  assert.is(helmRelease()!.status, 'deployed')
  const args: string[] = JSON.parse(kubectl('get', 'deployment', 'traefik', '-n', 'traefik', '-o', 'json').stdout).spec.template.spec.containers[0].args
  assert.not.ok(args.some((a) => /checknewversion=true|sendanonymoususage=true/i.test(a)), 'the interrupted change was rolled back')
  assert.is(helmNote(), undefined, 'the repair cleared its own note')
})

ir('02 killed while its helm runs on: the next run waits for that helm (it names it), and repairs once it is gone', async () => {
  converge()
  const before = Number(helmRelease()!.revision)
  const hold = await holdDeploymentWrites()
  if (typeof hold === 'string') throw new Error(hold)
  let helmPid = 0
  try {
    const started = await startUpgradeAndHold(hold)
    helmPid = started.helmPid
    process.kill(started.pid, 'SIGKILL') // the Node process only: its helm runs on, held by the webhook
    await started.run
    assert.ok(running(helmPid))
    const refused = runScript('02-traefik')
    assert.is(refused.code, 3, refused.output)
    assert.match(refused.stderr, new RegExp(`revision ${before + 1} \\(pending-upgrade\\) is being written by 02-traefik pid ${started.pid} on \\S+, which is not gone: pid ${helmPid} still runs on this machine`))
    assert.is(helmRelease()!.status, 'pending-upgrade', 'nothing was changed')
    process.kill(helmPid, 'SIGKILL')
    await waitFor(`helm (pid ${helmPid}) gone`, () => !running(helmPid), 10)
  } finally {
    if (helmPid && running(helmPid)) process.kill(helmPid, 'SIGKILL')
    await hold.close()
  }
  const r = runScript('02-traefik')
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /which is gone \(its processes \(pid \d+, \d+\) no longer run on this machine\): repairing it now/)
  assert.is(helmRelease()!.status, 'deployed')
})

ir('pending-install: the next run-all repairs it and keeps the acme.json volume', async () => {
  resetCluster()
  const pools = runScript('01-metallb')
  assert.is(pools.code, 0, pools.output)
  const values = path.join(CLUSTER_DIR, 'interrupted-values.yaml')
  fs.writeFileSync(values, JSON.stringify({ persistence: { enabled: true, storageClass: 'longhorn' } }))
  // As the kit's own install labels it (helm upgrade --install --labels): the release is this configuration's.
  const labels = ['--labels', 'app.kubernetes.io/managed-by=homelab-ingress,homelab-ingress/instance=traefik.home.example']
  await killHelmWhilePending(['install', 'traefik', TEST_CHART, '-n', 'traefik', '--create-namespace', '-f', values, ...labels, ...UNSCHEDULABLE], 'pending-install')
  const pvcUid = JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid
  const r = runScript('run-all', ['--no-probe', '--force'])
  assert.is(r.code, 0, r.output)
  assert.match(r.stderr, /revision 1 is stuck in pending-install/)
  // helm's interrupted install had created the chart's CRDs already; 02 stamps them as the chart's.
  assert.match(r.stdout, new RegExp(`^02-traefik: release traefik repaired and installed \\(revision 1, ${TEST_CHART_NAME_VERSION.replaceAll('.', '\\.')}, deployed\\)(; 10 traefik\\.io CRDs updated first)?$`, 'm'))
  assert.is(JSON.parse(kubectl('get', 'pvc', 'traefik', '-n', 'traefik', '-o', 'json').stdout).metadata.uid, pvcUid)
})

ir('the API server stopping mid-run gives a clear error; after a restart a rerun converges', async () => {
  resetCluster()
  let stopped = false
  const run = await startScript('run-all', ['--no-probe', '--timeout', '30'], (line) => {
    if (!stopped && line.startsWith('01-metallb:')) {
      stopped = true
      sh('bash', [CLUSTER_SH, 'stop-apiserver'])
    }
  })
  try {
    assert.ok(stopped, run.output)
    assert.is(run.code, 1, run.output)
    assert.match(run.stderr, /cannot reach the API server of context homelab-test \(https:\/\/127\.0\.0\.1:\d+\)/)
    assert.match(run.stderr, /Step 02-traefik failed\. Fix the cause above, then resume with:\n {2}make from STEP=02/)
    assert.not.match(run.stderr, /\n\s+at /)
  } finally {
    sh('bash', [CLUSTER_SH, 'start-apiserver'])
  }
  const r = runScript('run-all', ['--no-probe'])
  assert.is(r.code, 0, r.output)
  const pending = kubectlMaybe('get', 'pods', '-n', 'traefik', '-o', 'name')
  assert.ok(pending.stdout.trim() !== '', 'Traefik pod exists after the rerun')
})

interrupted.run()
