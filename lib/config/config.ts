/**
 * The user's contract: every setting, its default, and the rules that reject bad values.
 * Loaded from an env file with dotenv; the process environment overrides the file.
 * Validation reports every problem at once and runs before anything touches a cluster.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { ConfigError } from '../base/errors.ts'

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
}

/** The official chart repository, used only when TRAEFIK_CHART names the `traefik` repo. */
export const OFFICIAL_CHART_REPO = 'https://traefik.github.io/charts'

export type LoadOptions = {
  /** Path given with --env-file; when absent `.env` in the working directory is read if it exists. */
  envFile?: string
  /** Environment that overrides the file (process.env in the scripts, a plain object in tests). */
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** Reads the env file and the environment, validates, and returns the config or throws ConfigError. */
export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd()
  const env = options.env ?? process.env
  const problems: string[] = []
  let fileValues: Record<string, string> = {}
  if (options.envFile !== undefined) {
    const file = path.resolve(cwd, options.envFile)
    if (!fs.existsSync(file)) {
      throw new ConfigError([`--env-file ${options.envFile}: no such file (copy env.example to it and fill it in)`])
    }
    fileValues = parseDotenv(fs.readFileSync(file))
  } else if (fs.existsSync(path.join(cwd, '.env'))) {
    fileValues = parseDotenv(fs.readFileSync(path.join(cwd, '.env')))
  }
  for (const name of Object.keys(fileValues)) {
    if (!(name in SETTINGS)) problems.push(unknownVariable(name))
  }
  const raw: Record<string, string | undefined> = {}
  for (const name of Object.keys(SETTINGS)) {
    const fromEnv = env[name]
    raw[name] = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fileValues[name]
  }
  const config = validate(raw, problems, cwd)
  if (problems.length > 0) throw new ConfigError(problems)
  return config as Config
}

/** Applies the rules to raw strings; pushes one line per problem. */
export function validate(
  raw: Record<string, string | undefined>,
  problems: string[],
  cwd: string = process.cwd(),
): Partial<Config> {
  const get = (name: string): string => {
    const value = raw[name]?.trim()
    if (value === undefined || value === '') {
      const fallback = SETTINGS[name].default
      if (fallback === undefined) {
        problems.push(`${name}: required but not set (${SETTINGS[name].help}; see env.example)`)
        return ''
      }
      return fallback
    }
    return value
  }
  const check = (name: string, value: string, rule: (v: string) => string | undefined) => {
    if (value === '') return
    const wrong = rule(value)
    if (wrong) problems.push(`${name}: ${JSON.stringify(value)} ${wrong}`)
  }

  const kubeContext = get('KUBE_CONTEXT')
  check('KUBE_CONTEXT', kubeContext, (v) =>
    /^[\x21-\x7e]+$/.test(v) ? undefined : 'is not a context name (printable, no spaces; see `kubectl config get-contexts -o name`)',
  )

  const internalIp = get('INTERNAL_IP')
  const externalIp = get('EXTERNAL_IP')
  check('INTERNAL_IP', internalIp, ipv4Problem)
  check('EXTERNAL_IP', externalIp, ipv4Problem)
  if (internalIp !== '' && internalIp === externalIp) {
    problems.push(
      `EXTERNAL_IP: ${JSON.stringify(externalIp)} equals INTERNAL_IP; the admin entrypoints need an address of their own (pick another free LAN address outside the DHCP range)`,
    )
  }

  const domain = get('DOMAIN').replace(/\.$/, '')
  check('DOMAIN', domain, dnsNameProblem)

  const acmeEmail = get('ACME_EMAIL')
  check('ACME_EMAIL', acmeEmail, emailProblem)

  const acmeCa = get('ACME_CA')
  let acmeCaServer = ''
  if (acmeCa in ACME_DIRECTORIES) {
    acmeCaServer = ACME_DIRECTORIES[acmeCa as keyof typeof ACME_DIRECTORIES]
  } else if (/^https?:\/\//.test(acmeCa)) {
    check('ACME_CA', acmeCa, urlProblem)
    acmeCaServer = acmeCa
  } else {
    problems.push(
      `ACME_CA: ${JSON.stringify(acmeCa)} is not production, staging or an http(s):// directory URL${didYouMean(acmeCa, Object.keys(ACME_DIRECTORIES))}`,
    )
  }

  const challengeRaw = get('ACME_CHALLENGE')
  let acmeChallenge: AcmeChallenge = { type: 'http' }
  const dnsMatch = /^dns:(.*)$/.exec(challengeRaw)
  if (challengeRaw === 'http') {
    acmeChallenge = { type: 'http' }
  } else if (dnsMatch) {
    const provider = dnsMatch[1]
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(provider)) {
      problems.push(
        `ACME_CHALLENGE: ${JSON.stringify(challengeRaw)} needs a lego DNS provider code after dns:, e.g. dns:cloudflare`,
      )
    }
    acmeChallenge = { type: 'dns', provider }
  } else {
    problems.push(
      `ACME_CHALLENGE: ${JSON.stringify(challengeRaw)} is not http or dns:<provider> (e.g. dns:cloudflare)${didYouMean(challengeRaw, ['http'])}`,
    )
  }
  const acmeDnsSecret = get('ACME_DNS_SECRET')
  check('ACME_DNS_SECRET', acmeDnsSecret, dnsLabelProblem)
  if (acmeChallenge.type === 'dns' && acmeDnsSecret === '') {
    problems.push(
      'ACME_DNS_SECRET: required when ACME_CHALLENGE is dns:<provider>; name a Secret in TRAEFIK_NAMESPACE holding the provider credentials',
    )
  }

  const traefikNamespace = get('TRAEFIK_NAMESPACE')
  check('TRAEFIK_NAMESPACE', traefikNamespace, dnsLabelProblem)
  const metallbNamespace = get('METALLB_NAMESPACE')
  check('METALLB_NAMESPACE', metallbNamespace, dnsLabelProblem)
  const storageClass = get('STORAGE_CLASS')
  check('STORAGE_CLASS', storageClass, dnsNameProblem)

  const traefikChartVersion = get('TRAEFIK_CHART_VERSION')
  check('TRAEFIK_CHART_VERSION', traefikChartVersion, (v) =>
    /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(v)
      ? undefined
      : 'is not a chart version (semantic version such as 33.2.1)',
  )
  const traefikChart = chartSource(get('TRAEFIK_CHART'), problems, cwd)
  const traefikChartShape = get('TRAEFIK_CHART_SHAPE')
  const shapes: string[] = ['auto', ...CHART_SHAPES]
  if (!shapes.includes(traefikChartShape)) {
    problems.push(
      `TRAEFIK_CHART_SHAPE: ${JSON.stringify(traefikChartShape)} is not one of ${shapes.join(', ')} (auto picks it from the chart version)${didYouMean(traefikChartShape, shapes)}`,
    )
  }

  const prefix = get('METALLB_ANNOTATION_PREFIX')
  const prefixes = ['metallb.io', 'metallb.universe.tf']
  if (!prefixes.includes(prefix)) {
    problems.push(
      `METALLB_ANNOTATION_PREFIX: ${JSON.stringify(prefix)} is not metallb.io or metallb.universe.tf (the latter only for MetalLB older than 0.14.9)${didYouMean(prefix, prefixes)}`,
    )
  }

  const internalRoutes = parseRoutes(get('INTERNAL_ROUTES'), problems)
  const traefikPhoneHome = parseBool('TRAEFIK_PHONE_HOME', get('TRAEFIK_PHONE_HOME'), problems)
  const adminAllowCidrs = parseCidrs(get('ADMIN_ALLOW_CIDRS'), problems)
  const instance = get('INSTANCE')
  check('INSTANCE', instance, (v) =>
    dnsLabelProblem(v) === undefined && v.length <= 40 ? undefined : 'is not a short name (lowercase letters, digits and -, at most 40, e.g. home-lab)',
  )

  const publicProbeHost = get('PUBLIC_PROBE_HOST').replace(/\.$/, '')
  check('PUBLIC_PROBE_HOST', publicProbeHost, dnsNameProblem)
  const adminNames = ['traefik', ...internalRoutes.map((r) => r.name)].map((n) => `${n}.${domain}`)
  if (adminNames.includes(publicProbeHost)) {
    problems.push(
      `PUBLIC_PROBE_HOST: ${JSON.stringify(publicProbeHost)} is an admin host, which must not answer on EXTERNAL_IP; name a host your public entrypoints serve, or leave it empty`,
    )
  }

  return {
    kubeContext,
    internalIp,
    externalIp,
    domain,
    acmeEmail,
    acmeCaServer,
    acmeChallenge,
    acmeDnsSecret,
    traefikNamespace,
    traefikChart,
    traefikChartVersion: traefikChartVersion.replace(/^v/, ''),
    traefikChartShape: traefikChartShape as Config['traefikChartShape'],
    metallbNamespace,
    metallbAnnotationPrefix: prefix as Config['metallbAnnotationPrefix'],
    storageClass,
    internalRoutes,
    traefikPhoneHome,
    instance,
    adminAllowCidrs,
    publicProbeHost,
  }
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
    const m = /^(.+)\/(\d{1,3})$/.exec(entry)
    const address = m?.[1] ?? ''
    const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(address) && address.split('.').every((p) => Number(p) <= 255)
    const ipv6 = address.includes(':') && /^[0-9a-f:]+$/i.test(address)
    if (!m || !(ipv4 || ipv6) || Number(m[2]) > (ipv6 ? 128 : 32)) {
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

// --- rules: each returns what is wrong, or undefined

export function ipv4Problem(value: string): string | undefined {
  const parts = value.split('.')
  const octet = /^(0|[1-9]\d{0,2})$/
  if (parts.length !== 4 || !parts.every((p) => octet.test(p) && Number(p) <= 255)) {
    return 'is not an IPv4 address (four numbers 0-255, no leading zeros, e.g. 192.168.0.200)'
  }
  const first = Number(parts[0])
  if (first === 0 || first >= 224 || value === '255.255.255.255') {
    return 'is not a unicast address a LoadBalancer can use (pick a free LAN address outside the DHCP range)'
  }
  return undefined
}

export function dnsLabelProblem(value: string): string | undefined {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)
    ? undefined
    : 'is not a DNS label (lowercase letters, digits and -, at most 63, starting and ending with a letter or digit)'
}

export function dnsNameProblem(value: string): string | undefined {
  if (value.length > 253 || !value.split('.').every((label) => dnsLabelProblem(label) === undefined)) {
    return 'is not a DNS name (dot-separated lowercase labels of letters, digits and -, e.g. home.example.com)'
  }
  return undefined
}

export function emailProblem(value: string): string | undefined {
  const m = /^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([^@]+)$/.exec(value)
  if (!m || m[1].startsWith('.') || m[1].endsWith('.') || m[1].includes('..')) {
    return 'is not an email address (name@example.com)'
  }
  if (dnsNameProblem(m[2].toLowerCase()) !== undefined || !m[2].includes('.')) {
    return 'is not an email address: the part after @ must be a domain such as example.com'
  }
  return undefined
}

export function portProblem(value: string): string | undefined {
  return /^[1-9]\d{0,4}$/.test(value) && Number(value) <= 65535 ? undefined : 'is not a port (1-65535)'
}

function urlProblem(value: string): string | undefined {
  try {
    const url = new URL(value)
    if (url.username || url.password) return 'must not carry credentials'
    return undefined
  } catch {
    return 'is not a URL'
  }
}

// --- suggestions

function unknownVariable(name: string): string {
  const hint = didYouMean(name, Object.keys(SETTINGS))
  return hint
    ? `${name}: unknown variable${hint}`
    : `${name}: unknown variable (homelab-ingress reads only the variables in env.example)`
}

/** "; did you mean X?" when a known word is a small edit away. */
export function didYouMean(value: string, known: string[]): string {
  let best = ''
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = editDistance(value.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const allowed = Math.max(2, Math.floor(best.length / 3))
  return bestDistance > 0 && bestDistance <= allowed ? `; did you mean ${best}?` : ''
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]
}
