/**
 * cert-manager as the kit finds it: installed (its CRDs served) or not, and the namespace it keeps a
 * ClusterIssuer's Secrets in. The kit never installs, upgrades or adopts cert-manager itself.
 */
import type { Config } from '../config/config.ts'
import { type Change, refOf } from './apply.ts'
import { type Cluster, retryTransient } from './cluster.ts'
import { isOurs, MANAGED_SELECTOR, ownerOf } from './ownership.ts'
import { apiPath, rawDelete, rawGet, rawList } from './raw.ts'

export const CERTIFICATE_CRD = 'certificates.cert-manager.io'
/** Where cert-manager's chart installs it; its "cluster resource namespace" unless told otherwise. */
export const DEFAULT_CERT_MANAGER_NAMESPACE = 'cert-manager'

export type CertManagerFound = {
  installed: boolean
  /**
   * Where cert-manager reads a ClusterIssuer's Secrets: the namespace of its webhook's Service as
   * its webhook registration names it, else the chart's default.
   */
  namespace: string
}

export async function findCertManager(cluster: Cluster): Promise<CertManagerFound> {
  const [crd, hooks] = await Promise.all([
    retryTransient(() => rawGet(cluster, apiPath('apiextensions.k8s.io/v1', 'customresourcedefinitions', { name: CERTIFICATE_CRD }))),
    retryTransient(() => rawList(cluster, apiPath('admissionregistration.k8s.io/v1', 'validatingwebhookconfigurations'))),
  ])
  const served = (crd?.spec?.versions ?? []).some((v: { name: string; served: boolean }) => v.name === 'v1' && v.served)
  const hook = (hooks?.items ?? []).flatMap((c: any) => c.webhooks ?? []).find((w: any) => w.name === 'webhook.cert-manager.io')
  return { installed: crd !== undefined && served, namespace: hook?.clientConfig?.service?.namespace ?? DEFAULT_CERT_MANAGER_NAMESPACE }
}

const GROUP = 'cert-manager.io/v1'
const KINDS = [
  { kind: 'ClusterIssuer', plural: 'clusterissuers' },
  { kind: 'Certificate', plural: 'certificates' },
] as const
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'
type Owned = Pick<Config, 'instance' | 'traefikNamespace' | 'domain'>

/**
 * Deletes this configuration's ClusterIssuers and Certificates not in `keep` (refs as refOf writes
 * them), and the Secrets cert-manager wrote for this configuration's Certificates (labelled through
 * secretTemplate) not in `keepSecrets` (namespace/name): those of the Certificates deleted now, and
 * those left by one deleted earlier. Nothing of another configuration or of the user's is touched.
 * Does nothing when cert-manager's CRDs are not served.
 */
export async function pruneCertManagerObjects(cluster: Cluster, config: Owned, options: { keep: string[]; keepSecrets: string[]; dryRun: boolean }): Promise<Change[]> {
  const lists = await Promise.all(
    KINDS.map(({ plural }) => retryTransient(() => rawList(cluster, apiPath(GROUP, plural, { query: { labelSelector: MANAGED_SELECTOR } })))),
  )
  const keep = new Set(options.keep)
  const changes: Change[] = []
  const namespaces = new Set([config.traefikNamespace])
  for (const [i, list] of lists.entries()) {
    const { kind } = KINDS[i]
    for (const object of (list?.items ?? []) as any[]) {
      const ref = refOf({ kind, metadata: object.metadata })
      if (!isOurs(ownerOf(object.metadata?.labels, config)) || keep.has(ref)) continue
      if (!options.dryRun) await rawDelete(cluster, { apiVersion: GROUP, kind, name: object.metadata.name, namespace: object.metadata.namespace })
      changes.push({ ref, action: 'deleted' })
      if (object.metadata.namespace) namespaces.add(object.metadata.namespace)
    }
  }
  const keepSecrets = new Set(options.keepSecrets)
  for (const namespace of namespaces) {
    const secrets = await retryTransient(() =>
      // metadata only: the kit never reads a Secret's data
      cluster.transport.request('GET', apiPath('v1', 'secrets', { namespace, query: { labelSelector: MANAGED_SELECTOR } }), { accept: METADATA_ONLY }),
    )
    for (const secret of (secrets?.items ?? []) as any[]) {
      const name = secret.metadata?.name
      if (keepSecrets.has(`${namespace}/${name}`) || !isOurs(ownerOf(secret.metadata?.labels, config))) continue
      if (!secret.metadata?.annotations?.['cert-manager.io/certificate-name']) continue // not a certificate's
      if (!options.dryRun) await rawDelete(cluster, { apiVersion: 'v1', kind: 'Secret', name, namespace })
      changes.push({ ref: `Secret ${namespace}/${name}`, action: 'deleted' })
    }
  }
  return changes
}
