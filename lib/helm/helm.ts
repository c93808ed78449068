/**
 * Running helm: install/upgrade, template, rollback, the chart's CRDs. Works with helm 3 and helm 4:
 * only flags both majors share are used (no --atomic/--rollback-on-failure, no --force/--force-replace).
 * Whether to run it at all is decided in lib/helm/decide.ts, from the record in lib/helm/release.ts.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import parseSemver from 'semver/functions/parse.js'
import YAML from 'yaml'
import { type Cluster, timeCommands } from '../kube/cluster.ts'
import { unifiedDiff } from '../base/diff.ts'
import { timingsEnabled } from '../base/timings.ts'
import { normalize, recoveryFor } from './decide.ts'
import type { DeployedRelease } from './release.ts'
import { commandFailed, EXIT, PreconditionError, UserError } from '../base/errors.ts'
import type { ChartSource, Config } from '../config/config.ts'
import type { Manifest } from '../base/objects.ts'

/**
 * helm must be on PATH: checked without running it (a no-op run of 02 needs no helm process). Its
 * version is asked only before helm is used.
 */
export function requireHelmOnPath(): void {
  const found = (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', 'helm'), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
  if (!found) {
    throw new PreconditionError('helm is not installed or not on PATH', [
      'install helm 3 or 4 (https://helm.sh/docs/intro/install/) and make sure `helm version` works',
    ])
  }
}

/** zx, loaded when a process runs: a no-op run starts none. */
async function zx(): Promise<typeof import('zx').$> {
  const { $ } = await import('zx')
  if (timingsEnabled()) timeCommands($)
  return $
}

let helmMajor: Promise<number> | undefined

/** helm's major version (3 or 4); asked once per process. */
export function helmMajorVersion(): Promise<number> {
  return (helmMajor ??= askHelmMajorVersion())
}

async function askHelmMajorVersion(): Promise<number> {
  const $ = await zx()
  const out = await $({ nothrow: true, quiet: true })`helm version --template {{.Version}}`
  if (out.exitCode !== 0) {
    throw new PreconditionError('helm is not installed or does not run', [
      'install helm 3 or 4 (https://helm.sh/docs/intro/install/) and make sure `helm version` works',
    ])
  }
  const major = parseSemver(out.stdout.trim())?.major ?? 0
  if (major !== 3 && major !== 4) {
    throw new PreconditionError(`helm ${out.stdout.trim()} is not supported`, ['install helm 3 or helm 4'])
  }
  return major
}

/** The chart argument(s) of helm upgrade for the configured source. */
export function chartArgs(config: Pick<Config, 'traefikChart' | 'traefikChartVersion'>): string[] {
  const source = config.traefikChart
  if (source.kind === 'local') return [source.ref]
  return [source.ref, '--version', config.traefikChartVersion]
}

export async function checkChartSource(source: ChartSource): Promise<void> {
  if (source.kind !== 'repo') return
  if (repositoriesFileNames().includes(source.repo)) return
  const $ = await zx()
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
 * The repository names in helm's repositories.yaml, read without running helm (HELM_REPOSITORY_CONFIG,
 * else helm's default place on Linux). Anything unreadable gives [], and `helm repo list` decides.
 */
function repositoriesFileNames(): string[] {
  const file =
    process.env.HELM_REPOSITORY_CONFIG ?? path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'helm', 'repositories.yaml')
  try {
    const parsed = YAML.parse(fs.readFileSync(file, 'utf8')) as { repositories?: { name?: string }[] }
    return (parsed?.repositories ?? []).map((r) => String(r.name))
  } catch {
    return []
  }
}

/**
 * An interrupted helm run leaves its revision in pending-*; helm then refuses every upgrade. The
 * interrupted run may also have changed some objects already: recoveryFor (decide.ts) says how it
 * is undone. An uninstall keeps the acme.json volume (helm.sh/resource-policy: keep) and the next
 * install adopts it. `onStart` gets helm's process id as soon as it runs.
 */
export async function recoverStuckRelease(
  cluster: Cluster,
  namespace: string,
  name: string,
  release: DeployedRelease,
  onStart: (pid: number) => void = () => {},
): Promise<string> {
  const recovery = recoveryFor(release)
  if (recovery.action === 'rollback') {
    const out = await cluster.helm(['rollback', name, String(recovery.to), '--namespace', namespace], undefined, onStart)
    if (out.exitCode !== 0) throw commandFailed(`helm rollback ${name} ${recovery.to}`, out)
    return `rolled back to revision ${recovery.to}, undoing what the interrupted run had changed`
  }
  const out = await cluster.helm(['uninstall', name, '--namespace', namespace], undefined, onStart)
  if (out.exitCode !== 0) throw commandFailed(`helm uninstall ${name}`, out)
  return 'uninstalled the half-installed release (the acme.json volume is kept); installing it again'
}

export async function upgradeRelease(
  cluster: Cluster,
  config: Pick<Config, 'traefikChart' | 'traefikChartVersion' | 'traefikNamespace'>,
  name: string,
  values: Record<string, unknown>,
  labels: Record<string, string> = {},
  onStart: (pid: number) => void = () => {},
): Promise<void> {
  await withValuesFile(values, async (file) => {
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
      // Release metadata labels (helm >= 3.13 and 4): who made the release, read back by readRelease.
      ...(Object.keys(labels).length ? ['--labels', Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
    ], undefined, onStart)
    if (out.exitCode !== 0) {
      throw new UserError(
        `helm upgrade --install ${name} failed (exit ${out.exitCode}): ${out.stderr.trim() || out.stdout.trim()}\n` +
          '  Nothing is lost: rerun this step to retry; a release left pending is repaired on the next run.',
        EXIT.failed,
      )
    }
  })
}

/**
 * Puts the values through the chart itself (`helm template`): the chart's schema, a missing chart or
 * an unknown version fail here, before anything is changed. Returns the objects the release would
 * contain.
 */
export async function templateRelease(
  cluster: Cluster,
  config: Pick<Config, 'traefikChart' | 'traefikChartVersion' | 'traefikNamespace'>,
  name: string,
  chartRef: string,
  values: Record<string, unknown>,
): Promise<Manifest[]> {
  return withValuesFile(values, async (file) => {
    const out = await cluster.helm(['template', name, ...chartArgs(config), '--namespace', config.traefikNamespace, '--values', file])
    if (out.exitCode !== 0) {
      const text = (out.stderr.trim() || out.stdout.trim()).replace(/^Error: /, '')
      throw new UserError(
        `the Traefik chart ${chartRef} does not accept the values the kit rendered for it (helm template exit ${out.exitCode}); nothing was changed`,
        EXIT.config,
        [
          ...text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 12),
          'check TRAEFIK_CHART and TRAEFIK_CHART_VERSION (npx zx scripts/render.ts --out out/rendered shows the values); a chart the kit does not know needs TRAEFIK_CHART_SHAPE',
        ],
      )
    }
    return YAML.parseAllDocuments(out.stdout)
      .map((d) => d.toJS() as Manifest | null)
      .filter((o): o is Manifest => o !== null && typeof o === 'object' && typeof o.kind === 'string')
  })
}

/** The chart's own CustomResourceDefinitions (its crds/ directory), as helm would install them. */
export async function chartCrds(config: Pick<Config, 'traefikChart' | 'traefikChartVersion'>): Promise<Manifest[]> {
  const source = config.traefikChart
  let text: string
  if (source.kind === 'local' && fs.statSync(source.ref).isDirectory()) {
    const dir = path.join(source.ref, 'crds')
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : []
    text = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n---\n')
  } else {
    const $ = await zx()
    const out = await $({ nothrow: true, quiet: true })`helm show crds ${chartArgs(config)}`
    if (out.exitCode !== 0) throw commandFailed(`helm show crds ${chartArgs(config).join(' ')}`, out)
    text = out.stdout
  }
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o?.kind === 'CustomResourceDefinition')
}

async function withValuesFile<T>(values: Record<string, unknown>, action: (file: string) => Promise<T>): Promise<T> {
  // Values go through a private temp file: helm 3 and 4 both read -f FILE, and nothing lands in argv.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homelab-ingress-'))
  const file = path.join(dir, 'values.yaml')
  try {
    fs.writeFileSync(file, YAML.stringify(values), { mode: 0o600 })
    return await action(file)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Unified diff of deployed and desired values, for --dry-run. */
export async function valuesDiff(current: Record<string, unknown>, desired: Record<string, unknown>): Promise<string> {
  // Keys sorted on both sides (helm stores values with sorted keys), so the diff pairs like with like.
  const text = (values: unknown) => YAML.stringify(normalize(values), { sortMapEntries: true })
  return unifiedDiff('deployed-values.yaml', 'desired-values.yaml', text(current), text(desired))
}
