/**
 * The Traefik release: install or upgrade only when the chart version or the values differ from
 * what is deployed, so a rerun creates no new revision. Works with helm 3 and helm 4: only flags
 * both majors share are used (no --atomic/--rollback-on-failure, no --force/--force-replace).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import YAML from 'yaml'
import { $ } from 'zx'
import type { Cluster } from './cluster.ts'
import { commandFailed } from './cluster.ts'
import type { ChartSource, Config } from './config.ts'
import { EXIT, PreconditionError, UserError } from './errors.ts'

export type DeployedRelease = {
  revision: number
  /** deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, superseded */
  status: string
  /** `<name>-<version>`, as helm list prints it. */
  chart: string
  values: Record<string, unknown>
}

export type DesiredRelease = { chart: string; values: Record<string, unknown> }

export type HelmDecision =
  | { action: 'install'; reasons: string[] }
  | { action: 'upgrade'; reasons: string[] }
  | { action: 'unchanged'; reasons: string[] }
  | { action: 'recover'; reasons: string[] }

const PENDING = new Set(['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling'])

/** The "changed?" decision, from what helm reports and what the configuration renders. */
export function decideHelmAction(current: DeployedRelease | undefined, desired: DesiredRelease): HelmDecision {
  if (current === undefined) return { action: 'install', reasons: ['no release yet'] }
  if (PENDING.has(current.status)) {
    return {
      action: 'recover',
      reasons: [`revision ${current.revision} is stuck in ${current.status} (an interrupted helm run)`],
    }
  }
  const reasons: string[] = []
  if (current.status !== 'deployed') reasons.push(`last revision ${current.revision} is ${current.status}`)
  if (current.chart !== desired.chart) reasons.push(`chart ${current.chart} -> ${desired.chart}`)
  const changedKeys = differingPaths(normalize(current.values), normalize(desired.values))
  if (changedKeys.length > 0) reasons.push(`values differ at ${changedKeys.slice(0, 8).join(', ')}${changedKeys.length > 8 ? ', ...' : ''}`)
  return reasons.length === 0 ? { action: 'unchanged', reasons: [] } : { action: 'upgrade', reasons }
}

/** Values as helm stores them: a JSON round trip, so numbers and key order compare equal. */
function normalize(values: unknown): unknown {
  return JSON.parse(JSON.stringify(values ?? {}))
}

export function differingPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isDeepStrictEqual(a, b)) return []
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort()
    return keys.flatMap((k) =>
      differingPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k),
    )
  }
  return [prefix || '(root)']
}

// --- talking to helm

export async function helmMajorVersion(): Promise<number> {
  const out = await $({ nothrow: true, quiet: true })`helm version --template {{.Version}}`
  if (out.exitCode !== 0) {
    throw new PreconditionError('helm is not installed or does not run', [
      'install helm 3 or 4 (https://helm.sh/docs/intro/install/) and make sure `helm version` works',
    ])
  }
  const m = /^v?(\d+)\./.exec(out.stdout.trim())
  const major = m ? Number(m[1]) : 0
  if (major !== 3 && major !== 4) {
    throw new PreconditionError(`helm ${out.stdout.trim()} is not supported`, ['install helm 3 or helm 4'])
  }
  return major
}

export async function readRelease(cluster: Cluster, namespace: string, name: string): Promise<DeployedRelease | undefined> {
  // helm 3 lists only deployed and failed releases unless told otherwise; helm 4 dropped --all
  // (it lists every status by default). The status flags mean the same in both.
  const statuses = ['--deployed', '--failed', '--pending', '--uninstalling', '--superseded']
  const list = await cluster.helm(['list', '--namespace', namespace, ...statuses, '--filter', `^${name}$`, '--output', 'json'])
  if (list.exitCode !== 0) throw commandFailed('helm list', list)
  const releases = JSON.parse(list.stdout || '[]') as { name: string; revision: string; status: string; chart: string }[]
  const release = releases.find((r) => r.name === name)
  if (!release) return undefined
  const values = await cluster.helm(['get', 'values', name, '--namespace', namespace, '--revision', String(release.revision), '--output', 'json'])
  if (values.exitCode !== 0) throw commandFailed('helm get values', values)
  return {
    revision: Number(release.revision),
    status: release.status,
    chart: release.chart,
    values: (JSON.parse(values.stdout || 'null') ?? {}) as Record<string, unknown>,
  }
}

/** `<name>-<version>` of the chart the configuration selects, as helm list would show it. */
export async function desiredChartName(source: ChartSource, version: string): Promise<string> {
  if (source.kind !== 'local') return `${source.ref.split('/').pop()}-${version}`
  let chartYaml: string
  if (fs.statSync(source.ref).isDirectory()) {
    chartYaml = fs.readFileSync(path.join(source.ref, 'Chart.yaml'), 'utf8')
  } else {
    const out = await $({ nothrow: true, quiet: true })`helm show chart ${source.ref}`
    if (out.exitCode !== 0) throw commandFailed(`helm show chart ${source.ref}`, out)
    chartYaml = out.stdout
  }
  const chart = YAML.parse(chartYaml) as { name: string; version: string }
  return `${chart.name}-${chart.version}`
}

/** The chart argument(s) of helm upgrade for the configured source. */
export function chartArgs(config: Pick<Config, 'traefikChart' | 'traefikChartVersion'>): string[] {
  const source = config.traefikChart
  if (source.kind === 'local') return [source.ref]
  return [source.ref, '--version', config.traefikChartVersion]
}

export async function checkChartSource(source: ChartSource): Promise<void> {
  if (source.kind !== 'repo') return
  const out = await $({ nothrow: true, quiet: true })`helm repo list --output json`
  const repos = out.exitCode === 0 ? (JSON.parse(out.stdout || '[]') as { name: string }[]) : []
  if (!repos.some((r) => r.name === source.repo)) {
    throw new PreconditionError(`helm does not know the chart repository "${source.repo}" (TRAEFIK_CHART=${source.ref})`, [
      source.repo === 'traefik'
        ? 'add it: helm repo add traefik https://traefik.github.io/charts && helm repo update'
        : `add it with \`helm repo add ${source.repo} <url>\`, or point TRAEFIK_CHART at an oci:// reference or a local chart`,
    ])
  }
}

/**
 * An interrupted helm run leaves its revision in pending-*; helm then refuses every upgrade. The
 * interrupted run may also have changed some objects already. A rollback to the previous revision
 * diffs from the stuck revision's manifest, so it undoes those half-applied changes too (deleting
 * the stuck record would not: helm's three-way merge would never remove what it had added).
 * With no previous revision (pending-install) the release is uninstalled; the acme.json volume
 * survives it (helm.sh/resource-policy: keep) and the next install adopts it.
 */
export async function recoverStuckRelease(cluster: Cluster, namespace: string, name: string, release: DeployedRelease): Promise<string> {
  if (release.revision > 1 && release.status !== 'uninstalling') {
    const out = await cluster.helm(['rollback', name, String(release.revision - 1), '--namespace', namespace])
    if (out.exitCode !== 0) throw commandFailed(`helm rollback ${name} ${release.revision - 1}`, out)
    return `rolled back to revision ${release.revision - 1}, undoing what the interrupted run had changed`
  }
  const out = await cluster.helm(['uninstall', name, '--namespace', namespace])
  if (out.exitCode !== 0) throw commandFailed(`helm uninstall ${name}`, out)
  return 'uninstalled the half-installed release (the acme.json volume is kept); installing it again'
}

export async function upgradeRelease(
  cluster: Cluster,
  config: Pick<Config, 'traefikChart' | 'traefikChartVersion' | 'traefikNamespace'>,
  name: string,
  values: Record<string, unknown>,
): Promise<void> {
  // Values go through a private temp file: helm 3 and 4 both read -f FILE, and nothing lands in argv.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-'))
  const file = path.join(dir, 'values.yaml')
  try {
    fs.writeFileSync(file, YAML.stringify(values), { mode: 0o600 })
    const out = await cluster.helm([
      'upgrade',
      '--install',
      name,
      ...chartArgs(config),
      '--namespace',
      config.traefikNamespace,
      '--create-namespace',
      '--values',
      file,
      '--history-max',
      '10',
    ])
    if (out.exitCode !== 0) {
      throw new UserError(
        `helm upgrade --install ${name} failed (exit ${out.exitCode}): ${out.stderr.trim() || out.stdout.trim()}\n` +
          '  Nothing is lost: rerun this step to retry; a release left pending is repaired on the next run.',
        EXIT.failed,
      )
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Unified diff of deployed and desired values, for --dry-run. */
export async function valuesDiff(current: Record<string, unknown>, desired: Record<string, unknown>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-'))
  try {
    const a = path.join(dir, 'deployed-values.yaml')
    const b = path.join(dir, 'desired-values.yaml')
    fs.writeFileSync(a, YAML.stringify(normalize(current)))
    fs.writeFileSync(b, YAML.stringify(normalize(desired)))
    const out = await $({ nothrow: true, quiet: true, cwd: dir })`diff -u deployed-values.yaml desired-values.yaml`
    return out.stdout
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
