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
  if (config.routesApi === 'gateway') withGatewayProvider(values)
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

/**
 * Gateway mode: Traefik's Gateway provider on (the same keys in every chart major the kit knows, 33 to 41),
 * without the chart's own GatewayClass and Gateway: the kit makes its own (gatewayManifests).
 */
function withGatewayProvider(values: Record<string, any>): void {
  values.providers = { ...values.providers, kubernetesGateway: { enabled: true } }
  values.gateway = { enabled: false }
  values.gatewayClass = { enabled: false }
}

/** The container port of each entrypoint (manifests/02-traefik-values.yaml): Traefik matches a Gateway listener to the entrypoint of the same port. */
export const ENTRYPOINT_PORTS = { web: 8000, websecure: 8443, intweb: 8001, intwebsec: 8444 } as const

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
export const GATEWAY_API_VERSION = `${GATEWAY_GROUP}/v1`
/** The controller name Traefik's Gateway provider answers to. */
export const TRAEFIK_GATEWAY_CONTROLLER = 'traefik.io/gateway-controller'

/** Names of the Gateway API objects: fixed for the default configuration, prefixed by INSTANCE when set. */
export function gatewayNames(config: Pick<Config, 'instance'>) {
  const base = config.instance ? `homelab-ingress-${config.instance}` : 'homelab-ingress'
  return { gatewayClass: base, internal: `${base}-internal`, public: `${base}-public` }
}

/** The namespaces the admin UIs live in (INTERNAL_ROUTES), sorted, each once. */
export function adminNamespaces(config: Pick<Config, 'internalRoutes'>): string[] {
  return [...new Set(config.internalRoutes.map((r) => r.namespace))].sort()
}

/** Whether a certificate name (a host, or a `*.` wildcard covering one label) covers `host`. */
function nameCovers(name: string, host: string): boolean {
  if (!name.startsWith('*.')) return name === host
  const suffix = name.slice(1)
  return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.') && host.length > suffix.length
}

type Listener = Record<string, unknown>

function httpListener(name: keyof typeof ENTRYPOINT_PORTS, allowedRoutes: Record<string, unknown>): Listener {
  return { name, port: ENTRYPOINT_PORTS[name], protocol: 'HTTP', allowedRoutes }
}

function httpsListener(name: keyof typeof ENTRYPOINT_PORTS, secrets: string[], namespace: string, allowedRoutes: Record<string, unknown>): Listener {
  return {
    name,
    port: ENTRYPOINT_PORTS[name],
    protocol: 'HTTPS',
    tls: { mode: 'Terminate', certificateRefs: secrets.map((name) => ({ group: '', kind: 'Secret', name, namespace })) },
    allowedRoutes,
  }
}

/**
 * Gateway mode: one GatewayClass for Traefik and two Gateways in TRAEFIK_NAMESPACE. The internal one listens
 * on the admin entrypoints' ports (intweb, and intwebsec when a certificate covers the admin hosts: DNS-01's
 * wildcard; with HTTP-01 the LAN-only admin hosts get none) and takes HTTPRoutes only from the admin UIs'
 * namespaces; the public one listens on web (and websecure when PUBLIC_PROBE_HOST has a certificate) and
 * takes HTTPRoutes from every namespace. An HTTPRoute's parentRefs decide its side.
 */
export function gatewayManifests(config: Config): Manifest[] {
  const names = gatewayNames(config)
  const namespace = config.traefikNamespace
  const cert = certManagerNames(config)
  const plan = certificatePlan(config).certificates
  const admins = adminNamespaces(config)
  const internalRoutes = {
    namespaces:
      admins.length > 0
        ? { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: admins }] } }
        : { from: 'Same' },
    kinds: [{ group: GATEWAY_GROUP, kind: 'HTTPRoute' }],
  }
  const publicRoutes = { namespaces: { from: 'All' } }
  const adminSecrets = plan.filter((c) => c.secretName === cert.adminSecret).map((c) => c.secretName)
  const host = config.publicProbeHost
  const publicSecrets = host ? plan.filter((c) => c.dnsNames.some((n) => nameCovers(n, host))).map((c) => c.secretName) : []
  const internalListeners = [httpListener('intweb', internalRoutes)]
  if (adminSecrets.length > 0) internalListeners.push(httpsListener('intwebsec', adminSecrets, namespace, internalRoutes))
  const publicListeners = [httpListener('web', publicRoutes)]
  if (publicSecrets.length > 0) publicListeners.push(httpsListener('websecure', publicSecrets, namespace, publicRoutes))
  return withOwnership(config, [
    {
      apiVersion: GATEWAY_API_VERSION,
      kind: 'GatewayClass',
      metadata: { name: names.gatewayClass },
      spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER, description: 'Traefik, set up by homelab-ingress' },
    },
    {
      apiVersion: GATEWAY_API_VERSION,
      kind: 'Gateway',
      metadata: { name: names.internal, namespace },
      spec: { gatewayClassName: names.gatewayClass, listeners: internalListeners },
    },
    {
      apiVersion: GATEWAY_API_VERSION,
      kind: 'Gateway',
      metadata: { name: names.public, namespace },
      spec: { gatewayClassName: names.gatewayClass, listeners: publicListeners },
    },
  ])
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

/** Gateway mode: one HTTPRoute per admin UI, in its Service's namespace, attached to the internal Gateway only. */
export function adminHttpRouteManifests(config: Config): Manifest[] {
  const names = gatewayNames(config)
  return withOwnership(config, config.internalRoutes.map(
    (route): Manifest => ({
      apiVersion: GATEWAY_API_VERSION,
      kind: 'HTTPRoute',
      metadata: {
        name: `${route.name}-internal`,
        namespace: route.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'homelab-ingress', 'homelab-ingress/route': route.name },
      },
      spec: {
        parentRefs: [{ group: GATEWAY_GROUP, kind: 'Gateway', name: names.internal, namespace: config.traefikNamespace }],
        hostnames: [adminHost(config, route.name)],
        rules: [{ backendRefs: [{ group: '', kind: 'Service', name: route.service, port: route.port }] }],
      },
    }),
  ))
}

/** The admin routes step 03 applies: IngressRoutes, or HTTPRoutes in gateway mode. */
export function adminRouteManifests(config: Config): Manifest[] {
  return config.routesApi === 'gateway' ? adminHttpRouteManifests(config) : internalRouteManifests(config)
}

export function hostsFileLine(config: Config): string {
  return dnsRecords('hosts', config.internalIp, adminHosts(config)).trimEnd()
}

/** Renders every file in memory first, so a failure writes nothing (cert-manager mode adds 02-cert-manager.yaml, gateway mode 02-gateway.yaml and HTTPRoutes in 03). */
export function renderAll(config: Config, shape: ChartShape, version?: string): Record<string, string> {
  return {
    '01-metallb.yaml': toYamlDocuments(metallbManifests(config)),
    '02-traefik-values.yaml': YAML.stringify(traefikValues(config, shape, version), { lineWidth: 0 }),
    ...(config.certificates === 'cert-manager' ? { '02-cert-manager.yaml': toYamlDocuments(certManagerManifests(config)) } : {}),
    ...(config.routesApi === 'gateway' ? { '02-gateway.yaml': toYamlDocuments(gatewayManifests(config)) } : {}),
    // what 03 applies: the routes, then the admission guard (none with ADMISSION_GUARD=off)
    '03-internal-routes.yaml': toYamlDocuments([...adminRouteManifests(config), ...admissionGuardManifests(config)]),
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
