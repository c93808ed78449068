/** A helm release as helm itself stored it, read through the API (no helm process). */
import zlib from 'node:zlib'
import { type Cluster, retryTransient } from '../kube/cluster.ts'

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
  /** helm's release metadata labels (`helm upgrade --labels`), as stored on the release record. */
  labels?: Record<string, string>
}

/**
 * The release's newest revision, read from helm's own storage (Secrets of type helm.sh/release.v1,
 * labelled owner=helm and name=<release>) through the API: one request, no helm process, and the
 * same record helm 3 and helm 4 read. Each record is base64 of gzipped JSON.
 */
export async function readRelease(cluster: Cluster, namespace: string, name: string): Promise<DeployedRelease | undefined> {
  const records = await readReleaseRecords(cluster, namespace, name)
  const newest = records.at(-1)
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

export type ReleaseRecord = {
  name: string
  version: number
  namespace: string
  info?: { status?: string; last_deployed?: string; deleted?: string; description?: string }
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } }
  config?: Record<string, unknown>
  manifest?: string
  /** The storage Secret's labels: helm's own (name, owner, status, version) and `--labels` ones. */
  labels?: Record<string, string>
}

/** Every stored revision of a release, oldest first. */
export async function readReleaseRecords(cluster: Cluster, namespace: string, name: string): Promise<ReleaseRecord[]> {
  const list = await retryTransient(() => cluster.core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${name}` }))
  return list.items
    .filter((s) => s.type === 'helm.sh/release.v1' && s.data?.release)
    .map((s) => ({ ...decodeReleaseRecord(s.data!.release), labels: s.metadata?.labels ?? {} }))
    .filter((r) => r.name === name)
    .sort((a, b) => a.version - b.version)
}

/** A Secret's `release` field (as the API returns it: base64 of helm's base64 of gzipped JSON). */
export function decodeReleaseRecord(field: string): ReleaseRecord {
  const inner = Buffer.from(Buffer.from(field, 'base64').toString('utf8'), 'base64')
  const json = inner[0] === 0x1f && inner[1] === 0x8b ? zlib.gunzipSync(inner) : inner
  return JSON.parse(json.toString('utf8')) as ReleaseRecord
}
