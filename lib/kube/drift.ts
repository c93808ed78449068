/**
 * Drift of a helm release: the objects its last revision applied, compared with what the cluster
 * holds now, by identity and by the fields the chart set. Someone's `kubectl delete svc` or
 * `kubectl edit deployment` shows up here; helm's own "changed?" (chart and values) never sees it.
 * Fields the chart does not set (defaults, status, what controllers add) do not count.
 */
import YAML from 'yaml'
import { type Cluster, retryTransient } from './cluster.ts'
import { type Manifest, subsetDifference } from '../base/objects.ts'
import { rawRead } from './raw.ts'

export type Drift = { ref: string; what: string }

function manifestObjects(manifest: string): Manifest[] {
  return YAML.parseAllDocuments(manifest)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null && typeof o === 'object' && typeof o.kind === 'string' && typeof o.metadata?.name === 'string')
}

/** What the chart set on an object: everything but server-owned metadata. */
function setByChart(o: Manifest): Record<string, unknown> {
  const { metadata, ...rest } = o
  return { ...rest, metadata: { labels: metadata.labels, annotations: metadata.annotations } }
}

export async function releaseDrift(cluster: Cluster, manifest: string, namespace: string): Promise<Drift[]> {
  const objects = manifestObjects(manifest)
  const drifts = await Promise.all(
    objects.map(async (o): Promise<Drift | undefined> => {
      const ref = `${o.kind} ${o.metadata.namespace ?? namespace}/${o.metadata.name}`
      const live = await retryTransient(() =>
        rawRead(cluster, { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace ?? namespace }),
      )
      if (live === undefined) return { ref, what: 'missing' }
      const where = subsetDifference(setByChart(o), live)
      return where ? { ref, what: `changed at ${where}` } : undefined
    }),
  )
  return drifts.filter((d): d is Drift => d !== undefined)
}
