/**
 * The reachability matrix: each admin host (and PUBLIC_PROBE_HOST, when set) asked on both addresses,
 * on port 80 and 443, and judged against what the design promises: admin hosts are routed on
 * INTERNAL_IP and get 404 (or nothing) on EXTERNAL_IP; the public host is routed on EXTERNAL_IP.
 *
 * Everything here is a pure function of what the sockets saw; probe-http.ts does the asking.
 */
import type { Check, CheckStatus } from './checks.ts'
import type { Config } from '../config/config.ts'
import {
  adminHost,
  adminHosts,
  DASHBOARD_HOST_NAME,
  EXTERNAL_SERVICE,
  INTERNAL_ENTRYPOINTS,
  INTERNAL_SERVICE,
  PUBLIC_ENTRYPOINTS,
} from '../render/render.ts'

export type Address = 'internal' | 'external'
export type Scheme = 'http' | 'https'
export type Role = 'admin' | 'public'

export type Column = {
  key: 'internal:80' | 'internal:443' | 'external:80' | 'external:443'
  address: Address
  scheme: Scheme
  /** The Service port the column stands for (the socket port can be moved for tests). */
  port: 80 | 443
  entrypoint: string
}

export const COLUMNS: Column[] = [
  { key: 'internal:80', address: 'internal', scheme: 'http', port: 80, entrypoint: INTERNAL_ENTRYPOINTS[0] },
  { key: 'internal:443', address: 'internal', scheme: 'https', port: 443, entrypoint: INTERNAL_ENTRYPOINTS[1] },
  { key: 'external:80', address: 'external', scheme: 'http', port: 80, entrypoint: PUBLIC_ENTRYPOINTS[0] },
  { key: 'external:443', address: 'external', scheme: 'https', port: 443, entrypoint: PUBLIC_ENTRYPOINTS[1] },
]

/** Redirects followed within one cell before it counts as a loop. */
export const MAX_REDIRECTS = 5

export type ProbeTarget = { host: string; path: string; role: Role }
export type Addresses = Record<Address, string>

/** The hosts to ask: the dashboard (at /dashboard/), each INTERNAL_ROUTES host, then PUBLIC_PROBE_HOST. */
export function probeTargets(config: Config): ProbeTarget[] {
  const dashboard = adminHost(config, DASHBOARD_HOST_NAME)
  const targets: ProbeTarget[] = adminHosts(config).map((host) => ({
    host,
    path: host === dashboard ? '/dashboard/' : '/',
    role: 'admin',
  }))
  if (config.publicProbeHost) targets.push({ host: config.publicProbeHost, path: '/', role: 'public' })
  return targets
}

// --- what the sockets saw

export type Certificate = {
  subject: string
  issuer: string
  /** ISO dates. */
  validFrom: string
  validTo: string
  altNames: string
  /** Verified against the trusted roots, for this host name. */
  trusted: boolean
  /** Why not trusted, as Node's TLS names it (e.g. DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED). */
  verifyError?: string
}

export type Hop = { url: string; status: number; location?: string; certificate?: Certificate }

export type Outcome =
  | { kind: 'answered'; status: number }
  | { kind: 'refused' }
  /** Timeout, no route to the address: this machine cannot tell. */
  | { kind: 'unreachable'; reason: string }
  /** Something listens but the exchange failed (reset, TLS handshake). */
  | { kind: 'broken'; reason: string }
  | { kind: 'loop'; location: string }
  | { kind: 'too-many-redirects'; location: string }
  /** A redirect off this host or address; `to` is `internal`, `external`, or the host[:port] it names. */
  | { kind: 'left'; location: string; to: string }

/** One cell's conversation: the responses in order, and how it ended. */
export type Exchange = { hops: Hop[]; outcome: Outcome }

export type Where = { scheme: Scheme; path: string }

export function urlOf(host: string, where: Where): string {
  return `${where.scheme}://${host}${where.path}`
}

const UNREACHABLE_CODES = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'])

/** Sorts a socket error into refused / cannot tell from here / something answered badly. */
export function outcomeOfError(code: string | undefined, message: string): Outcome {
  if (code === 'ECONNREFUSED') return { kind: 'refused' }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return { kind: 'unreachable', reason: code }
  return { kind: 'broken', reason: code ? `${code}${message && !message.includes(code) ? ` (${message})` : ''}` : message }
}

export type RedirectDecision = { kind: 'final' } | { kind: 'follow'; to: Where } | { kind: 'stop'; outcome: Outcome }

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const DEFAULT_PORT: Record<Scheme, string> = { http: '80', https: '443' }

/**
 * Whether to follow a response: only redirects that stay on the same host name, on the standard
 * port of http or https (so on the same address: the probe never resolves a name), at most
 * MAX_REDIRECTS of them, never to a URL already asked.
 */
export function redirectDecision(
  host: string,
  addresses: Addresses,
  from: Where,
  status: number,
  location: string | undefined,
  asked: string[],
): RedirectDecision {
  if (!REDIRECTS.has(status) || !location) return { kind: 'final' }
  let url: URL
  try {
    url = new URL(location, urlOf(host, from))
  } catch {
    return { kind: 'stop', outcome: { kind: 'broken', reason: `HTTP ${status} with an unreadable Location ${JSON.stringify(location)}` } }
  }
  const scheme = url.protocol.replace(/:$/, '')
  const hostname = url.hostname.replace(/\.$/, '').toLowerCase()
  const left = (to: string): RedirectDecision => ({ kind: 'stop', outcome: { kind: 'left', location: url.href, to } })
  if (hostname === addresses.external) return left('external')
  if (hostname === addresses.internal) return left('internal')
  if (scheme !== 'http' && scheme !== 'https') return left(`${scheme}:`)
  if (hostname !== host) return left(url.port ? `${hostname}:${url.port}` : hostname)
  if (url.port && url.port !== DEFAULT_PORT[scheme]) return left(`${hostname}:${url.port}`)
  const to: Where = { scheme, path: `${url.pathname}${url.search}` }
  if (asked.includes(urlOf(host, to))) return { kind: 'stop', outcome: { kind: 'loop', location: url.href } }
  if (asked.length > MAX_REDIRECTS) return { kind: 'stop', outcome: { kind: 'too-many-redirects', location: url.href } }
  return { kind: 'follow', to }
}

// --- judging

export type CellStatus = CheckStatus | 'info'

export type Cell = {
  /** What the table shows: `200`, `301>200`, `404`, `refused`, `not checked`, `LOOP`, `->external`. */
  text: string
  /** `info`: reported, not judged (the public host on the internal address). */
  status: CellStatus
  detail: string
  hops: Hop[]
  outcome: Outcome
  /** The first certificate the cell saw over HTTPS. */
  certificate?: Certificate
}

export type MatrixRow = { host: string; role: Role; path: string; cells: Record<Column['key'], Cell> }
export type ProbeMatrix = { internalIp: string; externalIp: string; columns: Column['key'][]; rows: MatrixRow[] }
export type Asked = { target: ProbeTarget; exchanges: Record<Column['key'], Exchange> }
export type JudgeOptions = { requireProbe: boolean }

/** A response that shows Traefik has a route for the host (503: routed, no backend ready). */
export function isRouted(status: number): boolean {
  return (status >= 200 && status < 400) || status === 401 || status === 403 || status === 503
}

export function cellText(exchange: Exchange): string {
  const { hops, outcome } = exchange
  switch (outcome.kind) {
    case 'answered':
      return hops.length > 1 ? `${hops[0].status}>${outcome.status}` : String(outcome.status)
    case 'refused':
      return 'refused'
    case 'unreachable':
      return 'not checked'
    case 'broken':
      return /TLS|SSL|EPROTO|certificate/i.test(outcome.reason) ? 'TLS error' : 'error'
    case 'loop':
    case 'too-many-redirects':
      return 'LOOP'
    case 'left':
      return `->${outcome.to}`
  }
}

/** `http://a/ 307 -> https://a/ 307`: each URL asked and its status. */
function chain(exchange: Exchange): string {
  return exchange.hops.map((h) => `${h.url} ${h.status}`).join(' -> ')
}

function answered(exchange: Exchange, status: number): string {
  return exchange.hops.length > 1 ? `HTTP ${status} after ${exchange.hops.length - 1} redirect(s): ${chain(exchange)}` : `HTTP ${status}`
}

export function certificateSummary(c: Certificate): string {
  const validity = `valid ${c.validFrom} to ${c.validTo}`
  const trust = c.trusted ? 'trusted' : `not trusted: ${c.verifyError}`
  if (isTraefikDefault(c)) return `Traefik's default certificate (${c.subject}, ${validity}, ${trust})`
  return `${c.subject} issued by ${c.issuer}, ${validity}, ${trust}`
}

export function isTraefikDefault(c: Certificate): boolean {
  return /CN=TRAEFIK DEFAULT CERT/.test(c.subject)
}

/** Judges one cell: what the design expects of this host on this address and port. */
export function judgeCell(target: ProbeTarget, column: Column, exchange: Exchange, addresses: Addresses, options: JudgeOptions): Cell {
  const ip = addresses[column.address]
  // Every hop of a cell goes to the same address with the same SNI: the first certificate stands for all.
  const certificate = exchange.hops.find((h) => h.certificate)?.certificate
  const hops = exchange.hops.map(({ certificate: _, ...hop }) => hop)
  const cell = (status: CellStatus, detail: string): Cell => ({
    text: cellText(exchange),
    status,
    detail,
    hops,
    outcome: exchange.outcome,
    ...(certificate ? { certificate } : {}),
  })
  const { outcome } = exchange
  if (target.role === 'public' && column.address === 'internal') {
    return cell('info', `reported only (public routes are not expected on the internal entrypoints): ${describe(exchange, ip, column)}`)
  }
  if (outcome.kind === 'unreachable') {
    const where = column.address === 'internal' ? '; run 04-verify on a machine in the LAN to check it' : ''
    return cell(
      options.requireProbe ? 'fail' : 'skip',
      `not checked: cannot reach ${ip}:${column.port} from here (${outcome.reason})${where}${options.requireProbe ? ' (--require-probe)' : ''}`,
    )
  }
  if (outcome.kind === 'loop' || outcome.kind === 'too-many-redirects') {
    const what = outcome.kind === 'loop' ? `redirect loop: ${chain(exchange)} -> ${outcome.location} again` : `more than ${MAX_REDIRECTS} redirects: ${chain(exchange)} -> ...`
    return cell(
      'fail',
      `${what}; the app probably redirects to HTTPS although Traefik already ended TLS (Argo CD: set server.insecure: "true" in argocd-cmd-params-cm)`,
    )
  }
  if (outcome.kind === 'left') {
    const where =
      outcome.to === 'external'
        ? 'the external address'
        : outcome.to === 'internal'
          ? 'the internal address'
          : `${outcome.to}, off ${target.host} on ${ip}`
    const why =
      outcome.to === 'external' && column.address === 'internal'
        ? ': it sends LAN users to the public entrypoint'
        : outcome.to === 'internal' && column.address === 'external'
          ? ': the public address tells the internet where the admin entrypoints are'
          : target.role === 'public'
            ? ': set PUBLIC_PROBE_HOST to the host it ends at'
            : ''
    return cell('fail', `redirects to ${where} (${outcome.location})${why}`)
  }
  if (outcome.kind === 'broken') {
    return column.address === 'external' && target.role === 'admin'
      ? cell('fail', `something answers on ${ip}:${column.port}, but not with 404: ${outcome.reason}; expected 404 or a refused connection`)
      : cell('fail', `the exchange with ${ip}:${column.port} failed: ${outcome.reason}`)
  }
  if (target.role === 'admin' && column.address === 'external') {
    if (outcome.kind === 'refused') return cell('pass', 'connection refused (nothing listens)')
    if (outcome.status === 404) return cell('pass', exchange.hops.length > 1 ? `${answered(exchange, 404)} (no route)` : 'HTTP 404 (no route)')
    return cell('fail', `${answered(exchange, outcome.status)}: the admin UI is reachable through the public address`)
  }
  // Expected routed: an admin host on the internal address, the public host on the external one.
  const service = column.address === 'internal' ? INTERNAL_SERVICE : EXTERNAL_SERVICE
  if (outcome.kind === 'refused') {
    return cell('fail', `connection refused: nothing listens on ${ip}:${column.port}; Service ${service} should expose ${column.entrypoint} there (rerun 02-traefik)`)
  }
  if (outcome.status === 404) {
    if (target.role === 'public' && column.scheme === 'http') {
      return cell('warn', `Traefik answered 404: no route for this host on ${column.entrypoint} (fine if the app is served on ${PUBLIC_ENTRYPOINTS[1]} only)`)
    }
    const setting = target.role === 'public' ? 'PUBLIC_PROBE_HOST' : 'this host'
    return cell('fail', `Traefik answered 404: no route for ${setting} on ${column.entrypoint}`)
  }
  if (outcome.status === 503) return cell('pass', `${answered(exchange, 503)}: routed; no backend ready yet (is the app running?)`)
  if (isRouted(outcome.status)) return cell('pass', answered(exchange, outcome.status))
  return cell('warn', `${answered(exchange, outcome.status)}: routed, but the backend does not answer properly`)
}

function expectsRoute(target: Pick<ProbeTarget, 'role'>, column: Column): boolean {
  return (target.role === 'admin') === (column.address === 'internal')
}

function describe(exchange: Exchange, ip: string, column: Column): string {
  const { outcome } = exchange
  switch (outcome.kind) {
    case 'answered':
      return answered(exchange, outcome.status)
    case 'refused':
      return 'connection refused'
    case 'unreachable':
      return `cannot reach ${ip}:${column.port} from here (${outcome.reason})`
    default:
      return cellText(exchange)
  }
}

export function checkName(target: ProbeTarget, column: Column, addresses: Addresses): string {
  const where = `${column.address === 'internal' ? 'INTERNAL_IP' : 'EXTERNAL_IP'} ${addresses[column.address]}:${column.port}`
  if (target.role === 'public') return `${target.host} (PUBLIC_PROBE_HOST) answers on ${where}`
  return column.address === 'internal' ? `${target.host} answers on ${where}` : `${target.host} does not answer on ${where}`
}

/** Judges every cell: the matrix for the report, and one check per judged cell for the summary. */
export function judgeMatrix(asked: Asked[], addresses: Addresses, options: JudgeOptions): { matrix: ProbeMatrix; checks: Check[] } {
  const checks: Check[] = []
  const rows = asked.map(({ target, exchanges }): MatrixRow => {
    const cells = {} as MatrixRow['cells']
    for (const column of COLUMNS) {
      const cell = judgeCell(target, column, exchanges[column.key], addresses, options)
      cells[column.key] = cell
      if (cell.status !== 'info') checks.push({ name: checkName(target, column, addresses), status: cell.status, detail: cell.detail })
    }
    if (target.role === 'public') {
      const certificate = cells['external:443'].certificate
      if (certificate) checks.push(publicCertificateCheck(target.host, addresses.external, certificate))
    }
    return { host: target.host, role: target.role, path: target.path, cells }
  })
  return { matrix: { internalIp: addresses.internal, externalIp: addresses.external, columns: COLUMNS.map((c) => c.key), rows }, checks }
}

/** The names of the checks judgeMatrix made for this matrix (cells and the public certificate). */
export function matrixCheckNames(matrix: ProbeMatrix): Set<string> {
  const addresses = { internal: matrix.internalIp, external: matrix.externalIp }
  return new Set(
    matrix.rows.flatMap((r) => [
      ...COLUMNS.filter((c) => r.cells[c.key].status !== 'info').map((c) => checkName(r, c, addresses)),
      ...(r.role === 'public' && r.cells['external:443'].certificate ? [publicCertificateName(r.host, matrix.externalIp)] : []),
    ]),
  )
}

function publicCertificateName(host: string, externalIp: string): string {
  return `${host} (PUBLIC_PROBE_HOST) certificate on EXTERNAL_IP ${externalIp}:443`
}

/** The public host's certificate: a warning, not a failure, while ACME has not issued it. */
export function publicCertificateCheck(host: string, externalIp: string, certificate: Certificate): Check {
  const name = publicCertificateName(host, externalIp)
  if (certificate.trusted) return { name, status: 'pass', detail: certificateSummary(certificate) }
  const hint = isTraefikDefault(certificate)
    ? "; ACME has not issued one for this host yet (Traefik's log names the ACME error)"
    : ''
  return { name, status: 'warn', detail: `${certificateSummary(certificate)}${hint}` }
}

// --- the table

const CELL_MARK: Record<CellStatus, (text: string) => string> = {
  pass: (t) => t,
  skip: (t) => t,
  warn: (t) => `${t} ~`,
  fail: (t) => `${t} !`,
  info: (t) => `(${t})`,
}

/** The matrix as text: one row per host, one column per address and port. */
export function formatMatrix(matrix: ProbeMatrix): string[] {
  const header = ['host', ...matrix.columns]
  const rows = matrix.rows.map((r) => [
    r.role === 'public' ? `${r.host} (public)` : r.host,
    ...matrix.columns.map((key) => CELL_MARK[r.cells[key].status](r.cells[key].text)),
  ])
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i].length)))
  const line = (row: string[]) => `  ${row.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd()
  return [
    `Reachability (internal = INTERNAL_IP ${matrix.internalIp}, external = EXTERNAL_IP ${matrix.externalIp}; ! fails, ~ warns, (...) reported only):`,
    line(header),
    ...rows.map(line),
  ]
}

/** The certificates of the HTTPS cells where a route is expected (the others show whatever Traefik defaults to). */
export function formatCertificates(matrix: ProbeMatrix): string[] {
  const lines = matrix.rows.flatMap((r) =>
    COLUMNS.filter((c) => c.scheme === 'https' && expectsRoute(r, c)).flatMap((c) => {
      const certificate = r.cells[c.key].certificate
      return certificate ? [`  ${r.host} on ${c.key}: ${certificateSummary(certificate)}`] : []
    }),
  )
  return lines.length ? ['Certificates:', ...lines] : []
}
