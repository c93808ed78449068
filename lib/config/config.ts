/**
 * The user's contract: every setting, its default and help, and the configuration the steps get.
 * Loading is lib/config/load.ts; the rules that reject bad values are lib/config/validate.ts.
 */

/** The shapes of Traefik chart values the kit writes (which chart major takes which: lib/traefik/chart.ts). */
export const CHART_SHAPES = ['33-35', '36-38', '39', '40-41'] as const
export type ChartShape = (typeof CHART_SHAPES)[number]

export type InternalRoute = {
  /** Admin host is `<name>.<DOMAIN>`. */
  name: string
  namespace: string
  service: string
  port: number
}

/** Who gets the certificates: Traefik's own ACME resolver (one replica), or cert-manager (several). */
export const CERTIFICATE_MODES = ['acme', 'cert-manager'] as const
export type CertificateMode = (typeof CERTIFICATE_MODES)[number]

/**
 * Which routing API the admin routes use: Traefik's IngressRoute CRDs, or the Gateway API (a GatewayClass, an
 * internal and a public Gateway, HTTPRoutes).
 */
export const ROUTES_APIS = ['ingressroute', 'gateway'] as const
export type RoutesApi = (typeof ROUTES_APIS)[number]

/** The DNS-01 providers cert-manager mode can configure from ACME_DNS_SECRET, with the Secret key each reads. */
export const CERT_MANAGER_DNS_PROVIDERS = {
  cloudflare: 'CF_DNS_API_TOKEN',
  digitalocean: 'DO_AUTH_TOKEN',
} as const

/** What the kit's ValidatingAdmissionPolicy does with a route that puts an admin backend on a public entrypoint. */
export const ADMISSION_GUARD_MODES = ['off', 'warn', 'deny'] as const
export type AdmissionGuard = (typeof ADMISSION_GUARD_MODES)[number]

export type AcmeChallenge = { type: 'http' } | { type: 'dns'; provider: string }

export type ChartSource =
  | { kind: 'repo'; ref: string; repo: string }
  | { kind: 'oci'; ref: string }
  | { kind: 'local'; ref: string }

export type Config = {
  kubeContext: string
  internalIp: string
  externalIp: string
  domain: string
  acmeEmail: string
  /** ACME directory URL. */
  acmeCaServer: string
  acmeChallenge: AcmeChallenge
  /** Secret in the Traefik namespace whose keys become the DNS provider's environment. */
  acmeDnsSecret: string
  /** `acme`: Traefik's resolver and acme.json; `cert-manager`: a ClusterIssuer, Certificates, Secrets. */
  certificates: CertificateMode
  /** Traefik pods: 1 with acme (the only value allowed there), 2 by default with cert-manager. */
  traefikReplicas: number
  /** `ingressroute`: admin IngressRoutes; `gateway`: Traefik's Gateway provider, two Gateways, admin HTTPRoutes. */
  routesApi: RoutesApi
  traefikNamespace: string
  traefikChart: ChartSource
  traefikChartVersion: string
  /** `auto` (from the chart version), or the values shape to write for a chart the kit does not know. */
  traefikChartShape: ChartShape | 'auto'
  metallbNamespace: string
  metallbAnnotationPrefix: 'metallb.io' | 'metallb.universe.tf'
  storageClass: string
  internalRoutes: InternalRoute[]
  traefikPhoneHome: boolean
  /** Names this configuration on every object it creates; '' derives it (lib/kube/ownership.ts). */
  instance: string
  /** Source ranges allowed on the admin entrypoints; [] when the allow-list is off. */
  adminAllowCidrs: string[]
  /** A host the public entrypoints serve, for 04-verify to ask on EXTERNAL_IP; '' for none. */
  publicProbeHost: string
  /** deny: refuse at admission; warn: admit with a warning (and an audit event); off: no policy. */
  admissionGuard: AdmissionGuard
}

export const ACME_DIRECTORIES = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const

type Setting = { default?: string; help: string }

/** Every variable the kit reads. env.example documents the same list (a unit test keeps them equal). */
export const SETTINGS: Record<string, Setting> = {
  KUBE_CONTEXT: { help: 'kubeconfig context the scripts may touch' },
  INTERNAL_IP: { help: 'LoadBalancer address for the admin entrypoints (LAN only)' },
  EXTERNAL_IP: { help: 'LoadBalancer address for the public entrypoints' },
  DOMAIN: { help: 'admin hosts are <name>.<DOMAIN>; the dashboard is traefik.<DOMAIN>' },
  ACME_EMAIL: { help: "Let's Encrypt account email" },
  ACME_CA: { default: 'production', help: 'production, staging, or an ACME directory URL' },
  ACME_CHALLENGE: { default: 'http', help: 'http (HTTP-01 on web) or dns:<provider> (DNS-01)' },
  ACME_DNS_SECRET: { default: '', help: 'Secret in TRAEFIK_NAMESPACE holding the DNS provider credentials' },
  CERTIFICATES: {
    default: 'acme',
    help: "acme (Traefik's own ACME resolver, one replica, acme.json on a volume) or cert-manager (an ACME ClusterIssuer and Certificates; Traefik on several nodes)",
  },
  TRAEFIK_REPLICAS: {
    default: '',
    help: 'Traefik pods: 1 with CERTIFICATES=acme (the only value allowed there), default 2 with CERTIFICATES=cert-manager',
  },
  ROUTES_API: {
    default: 'ingressroute',
    help: 'ingressroute (Traefik IngressRoutes) or gateway (Gateway API: an internal and a public Gateway, admin HTTPRoutes; needs CERTIFICATES=cert-manager)',
  },
  TRAEFIK_NAMESPACE: { default: 'traefik', help: 'namespace of the Traefik release' },
  TRAEFIK_CHART: { default: 'traefik/traefik', help: 'repo/chart, oci:// reference, or local chart dir/.tgz' },
  TRAEFIK_CHART_VERSION: { default: '41.3.0', help: 'chart version for repo and oci charts (33.0.0 to 41.x)' },
  TRAEFIK_CHART_SHAPE: {
    default: 'auto',
    help: 'auto, or the values shape (33-35, 36-38, 39, 40-41) to write for a chart version the kit does not know',
  },
  METALLB_NAMESPACE: { default: 'metallb-system', help: 'namespace MetalLB runs in' },
  METALLB_ANNOTATION_PREFIX: {
    default: 'metallb.io',
    help: 'metallb.io, or metallb.universe.tf for MetalLB older than 0.14.9',
  },
  STORAGE_CLASS: { default: 'longhorn', help: 'StorageClass of the acme.json volume' },
  INTERNAL_ROUTES: {
    default: 'argocd=argocd/argocd-server:80,longhorn=longhorn-system/longhorn-frontend:80',
    help: 'admin UIs, comma-separated name=namespace/service:port, or none',
  },
  TRAEFIK_PHONE_HOME: { default: 'false', help: "true turns Traefik's version check and anonymous usage report on" },
  ADMIN_ALLOW_CIDRS: {
    default: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,fc00::/7,fe80::/10',
    help: 'client address ranges allowed on the admin entrypoints (comma-separated CIDRs), or off',
  },
  INSTANCE: {
    default: '',
    help: 'names this configuration on the objects it creates (default: <TRAEFIK_NAMESPACE>.<DOMAIN>); set it to run two configurations in one cluster',
  },
  PUBLIC_PROBE_HOST: { default: '', help: 'a host your public entrypoints serve, for 04-verify to ask on EXTERNAL_IP' },
  ADMISSION_GUARD: {
    default: 'deny',
    help: 'deny, warn or off: what a ValidatingAdmissionPolicy does with a route that puts an admin backend on a public entrypoint',
  },
}
