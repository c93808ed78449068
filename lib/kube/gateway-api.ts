/**
 * The Gateway API as the kit finds it (its standard-channel CRDs installed or not), and pruning of the
 * kit's own GatewayClass, Gateways and HTTPRoutes. The kit never installs the Gateway API CRDs itself.
 */
import type { Config } from '../config/config.ts'
import { type Change, refOf } from './apply.ts'
import { type Cluster, retryTransient } from './cluster.ts'
import { isOurs, MANAGED_SELECTOR, ownerOf } from './ownership.ts'
import { apiPath, rawDelete, rawGet, rawList } from './raw.ts'

export const GATEWAY_API = 'gateway.networking.k8s.io/v1'
/** The standard channel's CRDs gateway mode needs (GatewayClass, Gateway, HTTPRoute, and the two Traefik reads with them). */
export const GATEWAY_CRDS = [
  'gatewayclasses.gateway.networking.k8s.io',
  'gateways.gateway.networking.k8s.io',
  'httproutes.gateway.networking.k8s.io',
  'grpcroutes.gateway.networking.k8s.io',
  'referencegrants.gateway.networking.k8s.io',
] as const
/** The Gateway API release Traefik v3.6 is built against (its go.mod: sigs.k8s.io/gateway-api v1.4.0). */
export const GATEWAY_API_RELEASE_FOR_TRAEFIK = 'v1.4.0'
const BUNDLE_VERSION = 'gateway.networking.k8s.io/bundle-version'
const CHANNEL = 'gateway.networking.k8s.io/channel'

export type GatewayApiFound = {
  /** CRDs of GATEWAY_CRDS not installed, or not serving v1 (v1beta1 for ReferenceGrant). */
  missing: string[]
  /** The release the installed CRDs say they come from (their bundle-version annotation), when they say. */
  bundleVersion?: string
  channel?: string
}

export async function findGatewayApi(cluster: Cluster): Promise<GatewayApiFound> {
  const crds = await Promise.all(
    GATEWAY_CRDS.map((name) => retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name })))),
  )
  const missing = GATEWAY_CRDS.filter((name, i) => {
    const served = (crds[i]?.spec?.versions ?? []).filter((v: { served: boolean }) => v.served).map((v: { name: string }) => v.name)
    return !(served.includes('v1') || (name.startsWith('referencegrants.') && served.includes('v1beta1')))
  })
  const gateways = crds[1]
  return { missing, bundleVersion: gateways?.metadata?.annotations?.[BUNDLE_VERSION], channel: gateways?.metadata?.annotations?.[CHANNEL] }
}

type Owned = Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>
export const GATEWAY_KINDS = { GatewayClass: 'gatewayclasses', Gateway: 'gateways', HTTPRoute: 'httproutes' } as const
export type GatewayKind = keyof typeof GATEWAY_KINDS

/**
 * Deletes this configuration's objects of `kinds` not in `keep` (refs as refOf writes them). Nothing of
 * another configuration or of the user's is touched. Does nothing for a kind whose CRD is not served.
 */
export async function pruneGatewayObjects(cluster: Cluster, config: Owned, kinds: GatewayKind[], options: { keep: string[]; dryRun: boolean }): Promise<Change[]> {
  const lists = await Promise.all(
    kinds.map((kind) => retryTransient(() => rawList(cluster, apiPath(GATEWAY_API, GATEWAY_KINDS[kind], { query: { labelSelector: MANAGED_SELECTOR } })))),
  )
  const keep = new Set(options.keep)
  const changes: Change[] = []
  for (const [i, list] of lists.entries()) {
    const kind = kinds[i]
    for (const object of (list?.items ?? []) as any[]) {
      const ref = refOf({ kind, metadata: object.metadata })
      if (!isOurs(ownerOf(object.metadata?.labels, config)) || keep.has(ref)) continue
      if (!options.dryRun) await rawDelete(cluster, { apiVersion: GATEWAY_API, kind, name: object.metadata.name, namespace: object.metadata.namespace })
      changes.push({ ref, action: 'deleted' })
    }
  }
  return changes
}
