/**
 * The cluster's traefik.io CRDs, brought up to the chart's own. Helm installs a chart's crds/ only
 * on first install and never upgrades them, so a release moved to a newer chart would run against
 * old CRDs. The kit applies them server-side under a field manager of their own, only when they
 * differ, stamps each with the chart it came from, and never deletes one.
 */
import { type Cluster, retryTransient } from './cluster.ts'
import { type Manifest, subsetDifference } from '../base/objects.ts'
import { serverSideApply } from './apply.ts'
import { rawRead } from './raw.ts'

const CRD_GROUP = 'traefik.io'
const CRD_FIELD_MANAGER = 'homelab-ingress-crds'
/** On each CRD the kit applied: the chart (`<name>-<version>`) whose CRDs it carries. */
export const CRD_CHART_ANNOTATION = 'homelab-ingress/traefik-chart'
/** The CRD 04-verify reads to tell which chart the cluster's CRDs came from. */
export const PROBE_CRD = `ingressroutes.${CRD_GROUP}`

export type CrdChange = { name: string; reason: string }

/** The chart's traefik.io CRDs, stamped with the chart they belong to. */
export function stampedCrds(chartCrds: Manifest[], chartRef: string): Manifest[] {
  return chartCrds
    .filter((crd) => (crd.spec as { group?: string } | undefined)?.group === CRD_GROUP)
    .map((crd) => ({
      ...crd,
      metadata: { ...crd.metadata, annotations: { ...((crd.metadata.annotations as object) ?? {}), [CRD_CHART_ANNOTATION]: chartRef } },
    }))
}

/** Which of the desired CRDs the cluster lacks, or holds with a different spec (all read at once). */
export async function crdsBehind(cluster: Cluster, desired: Manifest[]): Promise<CrdChange[]> {
  const changes = await Promise.all(
    desired.map(async (crd): Promise<CrdChange | undefined> => {
      const name = crd.metadata.name
      const live: { spec?: unknown; metadata?: { annotations?: Record<string, string> } } | undefined = await retryTransient(() =>
        rawRead(cluster, { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name }),
      )
      if (!live) return { name, reason: 'missing' }
      // The API server adds defaults to a CRD's spec; what the chart sets must all be there as set.
      const where = subsetDifference(crd.spec, live.spec, 'spec')
      if (where) {
        const from = live.metadata?.annotations?.[CRD_CHART_ANNOTATION]
        return { name, reason: `differs from the chart's at ${where}${from ? ` (the cluster's came from ${from})` : ''}` }
      }
      if (live.metadata?.annotations?.[CRD_CHART_ANNOTATION] !== (crd.metadata.annotations as Record<string, string>)[CRD_CHART_ANNOTATION]) {
        return { name, reason: 'same schema, not yet stamped with this chart' }
      }
      return undefined
    }),
  )
  return changes.filter((c): c is CrdChange => c !== undefined)
}

/** Applies the given CRDs server-side (creating or updating them); never deletes one. */
export async function applyCrds(cluster: Cluster, crds: Manifest[]): Promise<void> {
  for (const crd of crds) await serverSideApply(cluster, crd, { fieldManager: CRD_FIELD_MANAGER })
}
