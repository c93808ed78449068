/** Turns a validated Config into exactly what the steps apply. No cluster is contacted here. */
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { valuesForShape } from '../traefik/chart.ts'
import { CERT_MANAGER_DNS_PROVIDERS, type ChartShape, type Config } from '../config/config.ts'
import { INSTANCE_LABEL, instanceOf, ownershipLabels } from '../kube/ownership.ts'
import { type Manifest, toYamlDocuments } from '../base/objects.ts'
import { renderTemplate } from '../base/template.ts'
import { dnsRecords } from './dns.ts'
import { admissionGuardManifests } from './admission.ts'

export { DASHBOARD_HOST_NAME, EXTERNAL_SERVICE, INTERNAL_ENTRYPOINTS, INTERNAL_SERVICE, PUBLIC_ENTRYPOINTS, RELEASE_NAME } from './names.ts'
import { DASHBOARD_HOST_NAME, INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS, RELEASE_NAME } from './names.ts'

function metallbAnnotation(config: Config): string {
  return `${config.metallbAnnotationPrefix}/loadBalancerIPs`
}

/** Names of the MetalLB objects: fixed for the default configuration, prefixed by INSTANCE when set. */
export function poolNames(config: Pick<Config, 'instance'>): { internal: string; external: string; advertisement: string } {
  const base = config.instance ? `homelab-ingress-${config.instance}` : 'homelab-ingress'
  return { internal: `${base}-internal`, external: `${base}-external`, advertisement: base }
}

export function metallbManifests(config: Config): Manifest[] {
  const names = poolNames(config)
  return withOwnership(config, renderTemplate('01-metallb.yaml', {
    METALLB_NAMESPACE: config.metallbNamespace,
    TRAEFIK_NAMESPACE: config.traefikNamespace,
    INTERNAL_IP: config.internalIp,
    EXTERNAL_IP: config.externalIp,
    INTERNAL_POOL: names.internal,
    EXTERNAL_POOL: names.external,
    ADVERTISEMENT: names.advertisement,
  }) as Manifest[])
}

/** Every object the kit creates says which configuration made it. */
function withOwnership(config: Config, objects: Manifest[]): Manifest[] {
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, ...ownershipLabels(config) } } }))
}

/** The Traefik chart's values for the configured intent, in the shape chart `shape` (at `version`) expects. */
export function traefikValues(config: Config, shape: ChartShape, version?: string): Record<string, any> {
  const [values] = renderTemplate('02-traefik-values.yaml', {
    METALLB_ANNOTATION: metallbAnnotation(config),
    EXTERNAL_IP: config.externalIp,
    INTERNAL_IP: config.internalIp,
    STORAGE_CLASS: config.storageClass,
    ACME_EMAIL: config.acmeEmail,
    DOMAIN: config.domain,
  })
  // The acme.json volume outlives the release (helm keeps it): it says itself which configuration
  // made it, so that teardown --purge deletes only its own.
  values.persistence.annotations = { [INSTANCE_LABEL]: instanceOf(config) }
  if (config.certificates === 'cert-manager') {
    withCertManager(values, config)
  } else {
    withTraefikAcme(values, config)
  }
  if (config.traefikPhoneHome) {
    values.global = { checkNewVersion: true, sendAnonymousUsage: true }
  }
  if (config.adminAllowCidrs.length > 0) {
    // LAN only, even if the internal address leaks (a stray port forward): an allow-list on the admin
    // entrypoints themselves, so every route there gets it, the dashboard and other people's routes
    // included. It lives in the release (extraObjects), so helm creates it with the entrypoints that
    // name it. The internal Service keeps the client's address (externalTrafficPolicy: Local), or
    // every request would come from a node's address.
    values.extraObjects = [adminAllowList(config)]
    for (const name of INTERNAL_ENTRYPOINTS) (values.ports[name].http ??= {}).middlewares = [`${config.traefikNamespace}-${ADMIN_ALLOWLIST}@kubernetescrd`]
    values.service.additionalServices.internal.spec.externalTrafficPolicy = 'Local'
  }
  return valuesForShape(values, shape, version)
}

/** Traefik's own ACME resolver `letsencrypt`, its acme.json on the volume (the template's defaults). */
function withTraefikAcme(values: Record<string, any>, config: Config): void {
  const acme = values.certificatesResolvers.letsencrypt.acme
  acme.caServer = config.acmeCaServer
  if (config.acmeChallenge.type === 'dns') {
    // DNS-01 can prove names that resolve only on the LAN, so the admin entrypoint gets real
    // certificates too.
    delete acme.httpChallenge
    acme.dnsChallenge = { provider: config.acmeChallenge.provider }
    values.envFrom = [{ secretRef: { name: config.acmeDnsSecret } }]
    values.ports.intwebsec.http.tls.certResolver = 'letsencrypt'
  }
  // With HTTP-01 the admin hosts (LAN-only names) can never pass the challenge; asking would only
  // burn Let's Encrypt's failed-validation limit, so intwebsec keeps Traefik's default certificate.
}

/**
 * How long an entrypoint keeps accepting requests once told to stop, and then how long it lets those in
 * flight finish. The first outlasts the chart's readiness probe (every 10 s, one failure) plus the
 * endpoint's removal from the Services; both together stay within the pod's 60 s grace period.
 */
export const DRAIN = { requestAcceptGraceTimeout: '15s', graceTimeOut: '10s' } as const

/**
 * cert-manager mode: TRAEFIK_REPLICAS pods spread over the nodes, no volume and no resolver (the
 * certificates are Secrets cert-manager keeps), rolling updates that never go below the wanted
 * count, a PodDisruptionBudget, and entrypoints that drain: on SIGTERM Traefik's ping answers 503
 * (readiness fails, the endpoint leaves the Services) while it keeps accepting requests for
 * requestAcceptGraceTimeout, then lets those in flight finish for graceTimeOut.
 */
function withCertManager(values: Record<string, any>, config: Config): void {
  values.deployment.replicas = config.traefikReplicas
  delete values.deployment.initContainers
  values.persistence = { enabled: false }
  delete values.certificatesResolvers
  delete values.ports.websecure.http.tls.certResolver
  values.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }
  values.podDisruptionBudget = { enabled: true, maxUnavailable: 1 }
  values.topologySpreadConstraints = [
    {
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      // A dead node must not keep its replica from being replaced elsewhere: a preference, and 04
      // says when the replicas share a node.
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: traefikPodLabels(config) },
      // Only the pods of one rollout are spread against each other (Kubernetes 1.27+).
      matchLabelKeys: ['pod-template-hash'],
    },
  ]
  for (const name of [...PUBLIC_ENTRYPOINTS, ...INTERNAL_ENTRYPOINTS]) values.ports[name].transport = { lifeCycle: { ...DRAIN } }
  const defaultSecret = certificatePlan(config).defaultSecret
  if (defaultSecret) values.tlsStore = { default: { defaultCertificate: { secretName: defaultSecret } } }
}

/** The labels the chart gives the Traefik pods of release `traefik` in TRAEFIK_NAMESPACE. */
export function traefikPodLabels(config: Pick<Config, 'traefikNamespace'>): Record<string, string> {
  return { 'app.kubernetes.io/name': 'traefik', 'app.kubernetes.io/instance': `${RELEASE_NAME}-${config.traefikNamespace}` }
}

/** The IngressClass the chart creates for release `traefik` (the HTTP-01 solver's Ingresses use it). */
export const INGRESS_CLASS = RELEASE_NAME

/** Names of the cert-manager objects: fixed for the default configuration, prefixed by INSTANCE when set. */
export function certManagerNames(config: Pick<Config, 'instance'>) {
  const base = config.instance ? `homelab-ingress-${config.instance}` : 'homelab-ingress'
  return {
    issuer: `${base}-acme`,
    account: `${base}-acme-account`,
    admin: `${base}-admin`,
    adminSecret: `${base}-admin-tls`,
    public: `${base}-public`,
    publicSecret: `${base}-public-tls`,
  }
}

type CertificateSpec = { name: string; secretName: string; dnsNames: string[]; why: string }

/**
 * Which Certificates cert-manager mode asks for. The rule of acme mode holds: HTTP-01 can prove only
 * names the internet reaches, so the LAN-only admin hosts get no order (each would fail and count
 * against Let's Encrypt's limits); DNS-01 gets them one wildcard. PUBLIC_PROBE_HOST, when set, gets
 * its own unless the wildcard covers it. The admin wildcard (DNS-01) or else the public host's
 * certificate is Traefik's default certificate.
 */
export function certificatePlan(config: Config): { certificates: CertificateSpec[]; defaultSecret?: string } {
  const names = certManagerNames(config)
  const certificates: CertificateSpec[] = []
  const wildcard = `*.${config.domain}`
  if (config.acmeChallenge.type === 'dns') {
    certificates.push({ name: names.admin, secretName: names.adminSecret, dnsNames: [wildcard], why: 'the admin hosts (DNS-01 wildcard)' })
  }
  const host = config.publicProbeHost
  const coveredByWildcard = config.acmeChallenge.type === 'dns' && host.endsWith(`.${config.domain}`) && !host.slice(0, -config.domain.length - 1).includes('.')
  if (host && !coveredByWildcard) {
    certificates.push({ name: names.public, secretName: names.publicSecret, dnsNames: [host], why: 'PUBLIC_PROBE_HOST' })
  }
  return { certificates, defaultSecret: certificates[0]?.secretName }
}

export const CERT_MANAGER_GROUP = 'cert-manager.io/v1'

/**
 * The ACME ClusterIssuer (ACME_CA, ACME_EMAIL, ACME_CHALLENGE) and the Certificates of
 * certificatePlan, in TRAEFIK_NAMESPACE. HTTP-01 answers through the public entrypoint `web`: the
 * solver's Ingress names it (Ingresses without it land on the default, internal, entrypoints).
 */
export function certManagerManifests(config: Config): Manifest[] {
  const names = certManagerNames(config)
  const solver =
    config.acmeChallenge.type === 'dns'
      ? { dns01: dnsSolver(config.acmeChallenge.provider, config.acmeDnsSecret) }
      : {
          http01: {
            ingress: {
              ingressClassName: INGRESS_CLASS,
              ingressTemplate: { metadata: { annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': PUBLIC_ENTRYPOINTS[0] } } },
            },
          },
        }
  const issuer: Manifest = {
    apiVersion: CERT_MANAGER_GROUP,
    kind: 'ClusterIssuer',
    metadata: { name: names.issuer },
    spec: {
      acme: {
        server: config.acmeCaServer,
        email: config.acmeEmail,
        privateKeySecretRef: { name: names.account },
        solvers: [solver],
      },
    },
  }
  const certificates = certificatePlan(config).certificates.map(
    (c): Manifest => ({
      apiVersion: CERT_MANAGER_GROUP,
      kind: 'Certificate',
      metadata: { name: c.name, namespace: config.traefikNamespace },
      spec: {
        secretName: c.secretName,
        // The Secret says which configuration it belongs to, so going back to acme removes it too.
        secretTemplate: { labels: ownershipLabels(config) },
        dnsNames: c.dnsNames,
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: names.issuer },
      },
    }),
  )
  return withOwnership(config, [issuer, ...certificates])
}

/** cert-manager's solver for the lego provider code, reading the same key of ACME_DNS_SECRET Traefik would. */
function dnsSolver(provider: string, secret: string): Record<string, unknown> {
  const key = CERT_MANAGER_DNS_PROVIDERS[provider as keyof typeof CERT_MANAGER_DNS_PROVIDERS]
  if (provider === 'cloudflare') return { cloudflare: { apiTokenSecretRef: { name: secret, key } } }
  if (provider === 'digitalocean') return { digitalocean: { tokenSecretRef: { name: secret, key } } }
  // validate() refuses the others in cert-manager mode.
  throw new Error(`no cert-manager solver for dns:${provider}`)
}

const ADMIN_ALLOWLIST = 'admin-allowlist'

function adminAllowList(config: Config): Manifest {
  return {
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'Middleware',
    // Only the instance label: helm labels what it manages app.kubernetes.io/managed-by=Helm itself,
    // and the release (labelled with both) is what says who made it.
    metadata: { name: ADMIN_ALLOWLIST, namespace: config.traefikNamespace, labels: { [INSTANCE_LABEL]: instanceOf(config) } },
    spec: { ipAllowList: { sourceRange: config.adminAllowCidrs } },
  }
}

export function adminHost(config: Config, name: string): string {
  return `${name}.${config.domain}`
}

/** Every admin host: the dashboard first, then INTERNAL_ROUTES in order. */
export function adminHosts(config: Config): string[] {
  return [DASHBOARD_HOST_NAME, ...config.internalRoutes.map((r) => r.name)].map((n) => adminHost(config, n))
}

export function internalRouteManifests(config: Config): Manifest[] {
  return withOwnership(config, config.internalRoutes.flatMap(
    (route) =>
      renderTemplate('03-internal-route.yaml', {
        ROUTE_NAME: route.name,
        ROUTE_NAMESPACE: route.namespace,
        ROUTE_HOST: adminHost(config, route.name),
        ROUTE_SERVICE: route.service,
        ROUTE_PORT: route.port,
      }) as Manifest[],
  ))
}

export function hostsFileLine(config: Config): string {
  return dnsRecords('hosts', config.internalIp, adminHosts(config)).trimEnd()
}

/** Renders every file in memory first, so a failure writes nothing (cert-manager mode adds 02-cert-manager.yaml). */
export function renderAll(config: Config, shape: ChartShape, version?: string): Record<string, string> {
  return {
    '01-metallb.yaml': toYamlDocuments(metallbManifests(config)),
    '02-traefik-values.yaml': YAML.stringify(traefikValues(config, shape, version), { lineWidth: 0 }),
    ...(config.certificates === 'cert-manager' ? { '02-cert-manager.yaml': toYamlDocuments(certManagerManifests(config)) } : {}),
    // what 03 applies: the routes, then the admission guard (none with ADMISSION_GUARD=off)
    '03-internal-routes.yaml': toYamlDocuments([...internalRouteManifests(config), ...admissionGuardManifests(config)]),
  }
}

export function writeRendered(config: Config, shape: ChartShape, outDir: string, version?: string): string[] {
  const files = renderAll(config, shape, version)
  fs.mkdirSync(outDir, { recursive: true })
  return Object.entries(files).map(([name, text]) => {
    const file = path.join(outDir, name)
    fs.writeFileSync(file, text)
    return file
  })
}
