/**
 * cert-manager as the kit finds it: installed (its CRDs served) or not, and the namespace it keeps a
 * ClusterIssuer's Secrets in. The kit never installs, upgrades or adopts cert-manager itself.
 */
import { type Cluster, retryTransient } from './cluster.ts'
import { apiPath, rawGet, rawList } from './raw.ts'

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
