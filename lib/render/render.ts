/** Turns a validated Config into exactly what the steps apply. No cluster is contacted here. */
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { valuesForShape } from '../traefik/chart.ts'
import type { ChartShape, Config } from '../config/config.ts'
import { INSTANCE_LABEL, instanceOf, ownershipLabels } from '../kube/ownership.ts'
import { type Manifest, toYamlDocuments } from '../base/objects.ts'
import { renderTemplate } from '../base/template.ts'
import { dnsRecords } from './dns.ts'
import { admissionGuardManifests } from './admission.ts'

export { DASHBOARD_HOST_NAME, EXTERNAL_SERVICE, INTERNAL_ENTRYPOINTS, INTERNAL_SERVICE, PUBLIC_ENTRYPOINTS, RELEASE_NAME } from './names.ts'
import { DASHBOARD_HOST_NAME, INTERNAL_ENTRYPOINTS } from './names.ts'

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

const RENDERED_FILES = ['01-metallb.yaml', '02-traefik-values.yaml', '03-internal-routes.yaml'] as const

/** Renders all three files in memory first, so a failure writes nothing. */
export function renderAll(config: Config, shape: ChartShape, version?: string): Record<(typeof RENDERED_FILES)[number], string> {
  return {
    '01-metallb.yaml': toYamlDocuments(metallbManifests(config)),
    '02-traefik-values.yaml': YAML.stringify(traefikValues(config, shape, version), { lineWidth: 0 }),
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
