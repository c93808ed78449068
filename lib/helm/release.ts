/**
 * A helm release as helm itself stored it. helm keeps its records where HELM_DRIVER says, and so
 * does the kit read them: Secrets (the default) or ConfigMaps through the API, one request and no
 * helm process; any other driver (sql, memory) through helm itself.
 */
import zlib from 'node:zlib'
import { type Cluster, retryTransient } from '../kube/cluster.ts'
import { rawGet } from '../kube/raw.ts'
import { commandFailed, helmReleaseNotFound } from '../base/errors.ts'

export type DeployedRelease = {
  revision: number
  /** deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, superseded */
  status: string
  /** `<name>-<version>`, as helm list prints it. */
  chart: string
  values: Record<string, unknown>
  appVersion?: string
  /** The objects helm applied for this revision, as YAML documents. */
  manifest?: string
  lastDeployed?: string
  /** When `helm uninstall` started (status uninstalling). */
  deleted?: string
  /**
   * helm's release metadata labels (`helm upgrade --labels`), as stored on the release record;
   * undefined where helm does not show them (drivers other than secret and configmap).
   */
  labels?: Record<string, string>
}

/** Where helm keeps release records, as helm reads HELM_DRIVER: `secret` unless told otherwise. */
export function helmDriver(env: NodeJS.ProcessEnv = process.env): 'secret' | 'configmap' | 'helm' {
  const driver = env.HELM_DRIVER ?? ''
  if (driver === '' || driver === 'secret' || driver === 'secrets') return 'secret'
  if (driver === 'configmap' || driver === 'configmaps') return 'configmap'
  return 'helm'
}

/** The release's newest revision, or undefined when there is none (or it was uninstalled). */
export async function readRelease(cluster: Cluster, namespace: string, name: string): Promise<DeployedRelease | undefined> {
  const driver = helmDriver()
  if (driver === 'helm') return readReleaseWithHelm(cluster, namespace, name)
  const newest = (await readReleaseRecords(cluster, namespace, name, driver)).at(-1)
  // `helm uninstall --keep-history` leaves records behind; helm itself then installs afresh.
  if (!newest || newest.info?.status === 'uninstalled') return undefined
  const meta = newest.chart?.metadata ?? {}
  return {
    revision: newest.version,
    status: newest.info?.status ?? 'unknown',
    chart: `${meta.name}-${meta.version}`,
    values: newest.config ?? {},
    appVersion: meta.appVersion,
    manifest: newest.manifest ?? '',
    lastDeployed: newest.info?.last_deployed,
    deleted: newest.info?.deleted,
    labels: newest.labels ?? {},
  }
}

type ReleaseRecord = {
  name: string
  version: number
  namespace: string
  info?: { status?: string; last_deployed?: string; deleted?: string; description?: string }
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } }
  config?: Record<string, unknown>
  manifest?: string
  /** The storage object's labels: helm's own (name, owner, status, version) and `--labels` ones. */
  labels?: Record<string, string>
}

/**
 * Every stored revision of a release, oldest first: the objects (Secrets of type
 * helm.sh/release.v1, or ConfigMaps) labelled owner=helm and name=<release>, whose `release` field
 * is helm's base64 of gzipped JSON (a Secret's data is base64 once more, as the API returns it).
 */
async function readReleaseRecords(cluster: Cluster, namespace: string, name: string, driver: 'secret' | 'configmap'): Promise<ReleaseRecord[]> {
  const selector = encodeURIComponent(`owner=helm,name=${name}`)
  const kind = driver === 'secret' ? 'secrets' : 'configmaps'
  const list = await retryTransient(() => rawGet(cluster, `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind}?labelSelector=${selector}`))
  const items: { type?: string; data?: Record<string, string>; metadata?: { labels?: Record<string, string> } }[] = list?.items ?? []
  return items
    .filter((o) => (driver === 'configmap' || o.type === 'helm.sh/release.v1') && o.data?.release)
    .map((o) => ({
      ...decodeReleaseRecord(driver === 'secret' ? Buffer.from(o.data!.release, 'base64').toString('utf8') : o.data!.release),
      labels: o.metadata?.labels ?? {},
    }))
    .filter((r) => r.name === name)
    .sort((a, b) => a.version - b.version)
}

/** helm's stored `release` field: base64 of gzipped JSON (plain JSON for records from before helm compressed them). */
export function decodeReleaseRecord(field: string): ReleaseRecord {
  const inner = Buffer.from(field, 'base64')
  const json = inner[0] === 0x1f && inner[1] === 0x8b ? zlib.gunzipSync(inner) : inner
  return JSON.parse(json.toString('utf8')) as ReleaseRecord
}

/**
 * The newest revision as helm shows it, for drivers whose records the API does not hold: its
 * history (revision, status, chart, time), then that revision's values and manifest. helm shows no
 * release labels for these drivers (`helm list --selector` works only for secret and configmap),
 * so the labels stay unknown.
 */
export async function readReleaseWithHelm(cluster: Cluster, namespace: string, name: string): Promise<DeployedRelease | undefined> {
  const history = await cluster.helm(['history', name, '--namespace', namespace, '--output', 'json', '--max', '1'])
  if (history.exitCode !== 0) {
    if (helmReleaseNotFound(history)) return undefined
    throw commandFailed(`helm history ${name}`, history)
  }
  const newest = (JSON.parse(history.stdout || '[]') as { revision: number; updated?: string; status: string; chart: string; app_version?: string }[]).at(-1)
  if (!newest || newest.status === 'uninstalled') return undefined
  const revision = ['--revision', String(newest.revision), '--namespace', namespace]
  const [values, manifest] = await Promise.all([
    cluster.helm(['get', 'values', name, ...revision, '--output', 'json']),
    cluster.helm(['get', 'manifest', name, ...revision]),
  ])
  if (values.exitCode !== 0) throw commandFailed(`helm get values ${name}`, values)
  if (manifest.exitCode !== 0) throw commandFailed(`helm get manifest ${name}`, manifest)
  return {
    revision: newest.revision,
    status: newest.status,
    chart: newest.chart,
    values: (JSON.parse(values.stdout || 'null') as Record<string, unknown> | null) ?? {},
    appVersion: newest.app_version,
    manifest: manifest.stdout,
    lastDeployed: newest.updated,
    labels: undefined,
  }
}
