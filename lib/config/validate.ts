/** Turns the raw strings of the settings into a Config, one line per problem. */
import fs from 'node:fs'
import path from 'node:path'
import parseSemver from 'semver/functions/parse.js'
import { parseCidr } from '../base/net.ts'
import { type AcmeChallenge, ACME_DIRECTORIES, ADMISSION_GUARD_MODES, type AdmissionGuard, CERT_MANAGER_DNS_PROVIDERS, CERTIFICATE_MODES, type CertificateMode, CHART_SHAPES, type ChartSource, type Config, type InternalRoute, ROUTES_APIS, type RoutesApi, SETTINGS } from './config.ts'
import { didYouMean, dnsLabelProblem, dnsNameProblem, emailProblem, ipv4Problem, portProblem, urlProblem } from './rules.ts'

/** Reads one setting at a time and collects every problem (one line each, naming the variable). */
type Reader = {
  /** The trimmed value, or its default; a required setting that is missing is a problem. */
  get(name: string): string
  /** Applies a value rule (lib/config/rules.ts) unless the value is empty. */
  check(name: string, value: string, rule: (v: string) => string | undefined): void
  problems: string[]
}

function reader(raw: Record<string, string | undefined>, problems: string[]): Reader {
  return {
    problems,
    get(name) {
      const value = raw[name]?.trim()
      if (value !== undefined && value !== '') return value
      const fallback = SETTINGS[name].default
      if (fallback !== undefined) return fallback
      problems.push(`${name}: required but not set (${SETTINGS[name].help}; see env.example)`)
      return ''
    },
    check(name, value, rule) {
      if (value === '') return
      const wrong = rule(value)
      if (wrong) problems.push(`${name}: ${JSON.stringify(value)} ${wrong}`)
    },
  }
}

/** Applies the rules to raw strings; pushes one line per problem. */
export function validate(raw: Record<string, string | undefined>, problems: string[], cwd: string = process.cwd()): Partial<Config> {
  const r = reader(raw, problems)
  // In the order of env.example, so problems are listed as the user reads the file.
  const kubeContext = r.get('KUBE_CONTEXT')
  r.check('KUBE_CONTEXT', kubeContext, (v) =>
    /^[\x21-\x7e]+$/.test(v) ? undefined : 'is not a context name (printable, no spaces; see `kubectl config get-contexts -o name`)',
  )
  const ips = addresses(r)
  const domain = r.get('DOMAIN').replace(/\.$/, '')
  r.check('DOMAIN', domain, dnsNameProblem)
  const acmeSettings = acme(r)
  const certificateSettings = certificates(r, acmeSettings.acmeChallenge)
  const routesApi = routesApiSetting(r, certificateSettings.certificates)
  const places = namespaces(r)
  const chartSettings = chart(r, cwd)
  const metallbAnnotationPrefix = annotationPrefix(r)
  const internalRoutes = parseRoutes(r.get('INTERNAL_ROUTES'), problems)
  const traefikPhoneHome = parseBool('TRAEFIK_PHONE_HOME', r.get('TRAEFIK_PHONE_HOME'), problems)
  const adminAllowCidrs = parseCidrs(r.get('ADMIN_ALLOW_CIDRS'), problems)
  const instance = r.get('INSTANCE')
  r.check('INSTANCE', instance, (v) =>
    dnsLabelProblem(v) === undefined && v.length <= 40 ? undefined : 'is not a short name (lowercase letters, digits and -, at most 40, e.g. home-lab)',
  )
  return {
    kubeContext,
    ...ips,
    domain,
    ...acmeSettings,
    ...certificateSettings,
    routesApi,
    ...places,
    ...chartSettings,
    metallbAnnotationPrefix,
    internalRoutes,
    traefikPhoneHome,
    adminAllowCidrs,
    instance,
    publicProbeHost: publicProbeHost(r, domain, internalRoutes),
    admissionGuard: admissionGuard(r),
  }
}

function admissionGuard(r: Reader): AdmissionGuard {
  const mode = r.get('ADMISSION_GUARD')
  const modes: string[] = [...ADMISSION_GUARD_MODES]
  if (!modes.includes(mode)) {
    r.problems.push(
      `ADMISSION_GUARD: ${JSON.stringify(mode)} is not deny, warn or off (deny refuses a route that puts an admin backend on a public entrypoint, warn admits it with a warning, off installs no policy)${didYouMean(mode, modes)}`,
    )
    return 'deny'
  }
  return mode as AdmissionGuard
}

function addresses(r: Reader): Pick<Config, 'internalIp' | 'externalIp'> {
  const internalIp = r.get('INTERNAL_IP')
  const externalIp = r.get('EXTERNAL_IP')
  r.check('INTERNAL_IP', internalIp, ipv4Problem)
  r.check('EXTERNAL_IP', externalIp, ipv4Problem)
  if (internalIp !== '' && internalIp === externalIp) {
    r.problems.push(
      `EXTERNAL_IP: ${JSON.stringify(externalIp)} equals INTERNAL_IP; the admin entrypoints need an address of their own (pick another free LAN address outside the DHCP range)`,
    )
  }
  return { internalIp, externalIp }
}

function acme(r: Reader): Pick<Config, 'acmeEmail' | 'acmeCaServer' | 'acmeChallenge' | 'acmeDnsSecret'> {
  const acmeEmail = r.get('ACME_EMAIL')
  r.check('ACME_EMAIL', acmeEmail, emailProblem)

  const acmeCa = r.get('ACME_CA')
  let acmeCaServer = ''
  if (acmeCa in ACME_DIRECTORIES) {
    acmeCaServer = ACME_DIRECTORIES[acmeCa as keyof typeof ACME_DIRECTORIES]
  } else if (/^https?:\/\//.test(acmeCa)) {
    r.check('ACME_CA', acmeCa, urlProblem)
    acmeCaServer = acmeCa
  } else {
    r.problems.push(
      `ACME_CA: ${JSON.stringify(acmeCa)} is not production, staging or an http(s):// directory URL${didYouMean(acmeCa, Object.keys(ACME_DIRECTORIES))}`,
    )
  }

  const challengeRaw = r.get('ACME_CHALLENGE')
  let acmeChallenge: AcmeChallenge = { type: 'http' }
  const dnsMatch = /^dns:(.*)$/.exec(challengeRaw)
  if (dnsMatch) {
    const provider = dnsMatch[1]
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(provider)) {
      r.problems.push(`ACME_CHALLENGE: ${JSON.stringify(challengeRaw)} needs a lego DNS provider code after dns:, e.g. dns:cloudflare`)
    }
    acmeChallenge = { type: 'dns', provider }
  } else if (challengeRaw !== 'http') {
    r.problems.push(
      `ACME_CHALLENGE: ${JSON.stringify(challengeRaw)} is not http or dns:<provider> (e.g. dns:cloudflare)${didYouMean(challengeRaw, ['http'])}`,
    )
  }
  const acmeDnsSecret = r.get('ACME_DNS_SECRET')
  r.check('ACME_DNS_SECRET', acmeDnsSecret, dnsLabelProblem)
  if (acmeChallenge.type === 'dns' && acmeDnsSecret === '') {
    r.problems.push(
      'ACME_DNS_SECRET: required when ACME_CHALLENGE is dns:<provider>; name a Secret in TRAEFIK_NAMESPACE holding the provider credentials',
    )
  }
  return { acmeEmail, acmeCaServer, acmeChallenge, acmeDnsSecret }
}

const MAX_REPLICAS = 20

function certificates(r: Reader, challenge: AcmeChallenge): Pick<Config, 'certificates' | 'traefikReplicas'> {
  const mode = r.get('CERTIFICATES')
  const modes: string[] = [...CERTIFICATE_MODES]
  if (!modes.includes(mode)) {
    r.problems.push(
      `CERTIFICATES: ${JSON.stringify(mode)} is not acme or cert-manager (acme: Traefik's own resolver, one replica; cert-manager: several replicas)${didYouMean(mode, modes)}`,
    )
  }
  const certificates = (modes.includes(mode) ? mode : 'acme') as CertificateMode
  if (certificates === 'cert-manager' && challenge.type === 'dns' && !(challenge.provider in CERT_MANAGER_DNS_PROVIDERS)) {
    const known = Object.keys(CERT_MANAGER_DNS_PROVIDERS)
    r.problems.push(
      `ACME_CHALLENGE: dns:${challenge.provider} cannot be configured for cert-manager by the kit (it knows ${known.map((p) => `dns:${p}`).join(', ')}); use one of those, ACME_CHALLENGE=http, or CERTIFICATES=acme`,
    )
  }
  const raw = r.get('TRAEFIK_REPLICAS')
  let traefikReplicas = certificates === 'cert-manager' ? 2 : 1
  if (raw !== '') {
    if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_REPLICAS) {
      r.problems.push(`TRAEFIK_REPLICAS: ${JSON.stringify(raw)} is not a whole number from 1 to ${MAX_REPLICAS}`)
    } else {
      traefikReplicas = Number(raw)
    }
  }
  if (certificates === 'acme' && traefikReplicas > 1) {
    r.problems.push(
      `TRAEFIK_REPLICAS: ${traefikReplicas} needs CERTIFICATES=cert-manager: Traefik's ACME cannot run with more than one replica (one acme.json on a ReadWriteOnce volume, and replicas would each order the same certificates); set TRAEFIK_REPLICAS=1, or CERTIFICATES=cert-manager`,
    )
  }
  return { certificates, traefikReplicas }
}

function routesApiSetting(r: Reader, certificates: CertificateMode): RoutesApi {
  const value = r.get('ROUTES_API')
  const apis: string[] = [...ROUTES_APIS]
  if (!apis.includes(value)) {
    r.problems.push(
      `ROUTES_API: ${JSON.stringify(value)} is not ingressroute or gateway (ingressroute: Traefik IngressRoutes; gateway: Gateway API Gateways and HTTPRoutes)${didYouMean(value, apis)}`,
    )
    return 'ingressroute'
  }
  const routesApi = value as RoutesApi
  if (routesApi === 'gateway' && certificates === 'acme') {
    r.problems.push(
      "ROUTES_API: gateway needs CERTIFICATES=cert-manager: Traefik's ACME resolver cannot serve certificates to Gateway listeners (traefik/traefik#11970), whose HTTPS listeners take their certificates from Secrets; set CERTIFICATES=cert-manager, or ROUTES_API=ingressroute",
    )
  }
  return routesApi
}

function namespaces(r: Reader): Pick<Config, 'traefikNamespace' | 'metallbNamespace' | 'storageClass'> {
  const traefikNamespace = r.get('TRAEFIK_NAMESPACE')
  r.check('TRAEFIK_NAMESPACE', traefikNamespace, dnsLabelProblem)
  const metallbNamespace = r.get('METALLB_NAMESPACE')
  r.check('METALLB_NAMESPACE', metallbNamespace, dnsLabelProblem)
  const storageClass = r.get('STORAGE_CLASS')
  r.check('STORAGE_CLASS', storageClass, dnsNameProblem)
  return { traefikNamespace, metallbNamespace, storageClass }
}

function annotationPrefix(r: Reader): Config['metallbAnnotationPrefix'] {
  const prefix = r.get('METALLB_ANNOTATION_PREFIX')
  const prefixes = ['metallb.io', 'metallb.universe.tf']
  if (!prefixes.includes(prefix)) {
    r.problems.push(
      `METALLB_ANNOTATION_PREFIX: ${JSON.stringify(prefix)} is not metallb.io or metallb.universe.tf (the latter only for MetalLB older than 0.14.9)${didYouMean(prefix, prefixes)}`,
    )
  }
  return prefix as Config['metallbAnnotationPrefix']
}

function chart(r: Reader, cwd: string): Pick<Config, 'traefikChart' | 'traefikChartVersion' | 'traefikChartShape'> {
  const traefikChartVersion = r.get('TRAEFIK_CHART_VERSION')
  r.check('TRAEFIK_CHART_VERSION', traefikChartVersion, (v) =>
    parseSemver(v) ? undefined : 'is not a chart version (semantic version such as 33.2.1)',
  )
  const traefikChart = chartSource(r.get('TRAEFIK_CHART'), r.problems, cwd)
  const traefikChartShape = r.get('TRAEFIK_CHART_SHAPE')
  const shapes: string[] = ['auto', ...CHART_SHAPES]
  if (!shapes.includes(traefikChartShape)) {
    r.problems.push(
      `TRAEFIK_CHART_SHAPE: ${JSON.stringify(traefikChartShape)} is not one of ${shapes.join(', ')} (auto picks it from the chart version)${didYouMean(traefikChartShape, shapes)}`,
    )
  }
  return {
    traefikChart,
    traefikChartVersion: traefikChartVersion.replace(/^v/, ''),
    traefikChartShape: traefikChartShape as Config['traefikChartShape'],
  }
}

function publicProbeHost(r: Reader, domain: string, internalRoutes: InternalRoute[]): string {
  const host = r.get('PUBLIC_PROBE_HOST').replace(/\.$/, '')
  r.check('PUBLIC_PROBE_HOST', host, dnsNameProblem)
  const adminNames = ['traefik', ...internalRoutes.map((route) => route.name)].map((n) => `${n}.${domain}`)
  if (adminNames.includes(host)) {
    r.problems.push(
      `PUBLIC_PROBE_HOST: ${JSON.stringify(host)} is an admin host, which must not answer on EXTERNAL_IP; name a host your public entrypoints serve, or leave it empty`,
    )
  }
  return host
}

function chartSource(value: string, problems: string[], cwd: string): ChartSource {
  if (value.startsWith('oci://')) {
    if (!/^oci:\/\/[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/.test(value)) {
      problems.push(`TRAEFIK_CHART: ${JSON.stringify(value)} is not an oci:// chart reference such as oci://ghcr.io/traefik/helm/traefik`)
    }
    return { kind: 'oci', ref: value }
  }
  const looksLocal = value.startsWith('.') || value.startsWith('/') || value.endsWith('.tgz') || value.includes(path.sep + path.sep)
  if (looksLocal) {
    const resolved = path.resolve(cwd, value)
    const isChartDir = fs.existsSync(path.join(resolved, 'Chart.yaml'))
    const isArchive = value.endsWith('.tgz') && fs.existsSync(resolved)
    if (!isChartDir && !isArchive) {
      problems.push(
        `TRAEFIK_CHART: ${JSON.stringify(value)} is neither a chart directory (with Chart.yaml) nor a .tgz chart archive (resolved to ${resolved})`,
      )
    }
    return { kind: 'local', ref: resolved }
  }
  const repoMatch = /^([a-z0-9][a-z0-9._-]*)\/([a-z0-9][a-z0-9._-]*)$/.exec(value)
  if (!repoMatch) {
    problems.push(
      `TRAEFIK_CHART: ${JSON.stringify(value)} is not repo/chart (traefik/traefik), an oci:// reference, or a local path starting with ./ or /`,
    )
    return { kind: 'repo', ref: value, repo: '' }
  }
  return { kind: 'repo', ref: value, repo: repoMatch[1] }
}

function parseRoutes(value: string, problems: string[]): InternalRoute[] {
  const routes: InternalRoute[] = []
  const seen = new Set<string>()
  if (value === 'none') return routes
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '')
  for (const entry of entries) {
    const m = /^([^=]+)=([^/]+)\/(.+):([^:]*)$/.exec(entry)
    if (!m) {
      problems.push(
        `INTERNAL_ROUTES: entry ${JSON.stringify(entry)} is not name=namespace/service:port (e.g. argocd=argocd/argocd-server:80)`,
      )
      continue
    }
    const [, name, namespace, service, portText] = m.map((s) => s.trim())
    const wrong = [
      [`name ${JSON.stringify(name)}`, dnsLabelProblem(name)],
      [`namespace ${JSON.stringify(namespace)}`, dnsLabelProblem(namespace)],
      [`service ${JSON.stringify(service)}`, dnsLabelProblem(service)],
      [`port ${JSON.stringify(portText)}`, portProblem(portText)],
    ].filter(([, problem]) => problem !== undefined)
    for (const [what, problem] of wrong) {
      problems.push(`INTERNAL_ROUTES: entry ${JSON.stringify(entry)}: ${what} ${problem}`)
    }
    if (name === 'traefik') {
      problems.push(
        `INTERNAL_ROUTES: entry ${JSON.stringify(entry)}: the name traefik is taken by the dashboard (traefik.<DOMAIN>); pick another name`,
      )
    }
    if (seen.has(name)) {
      problems.push(`INTERNAL_ROUTES: name ${JSON.stringify(name)} appears twice; each admin host needs its own name`)
    }
    seen.add(name)
    if (wrong.length === 0) routes.push({ name, namespace, service, port: Number(portText) })
  }
  return routes
}

function parseCidrs(value: string, problems: string[]): string[] {
  if (value === 'off') return []
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean)
  for (const entry of entries) {
    if (!parseCidr(entry)) {
      problems.push(`ADMIN_ALLOW_CIDRS: ${JSON.stringify(entry)} is not an address range in CIDR form (e.g. 192.168.0.0/24 or fd00::/8); or set ADMIN_ALLOW_CIDRS=off`)
    }
  }
  if (entries.length === 0) problems.push('ADMIN_ALLOW_CIDRS: empty; list the ranges your LAN uses (e.g. 192.168.0.0/24), or set it to off')
  return entries
}

function parseBool(name: string, value: string, problems: string[]): boolean {
  if (value === 'true') return true
  if (value === 'false') return false
  problems.push(`${name}: ${JSON.stringify(value)} is not true or false`)
  return false
}
