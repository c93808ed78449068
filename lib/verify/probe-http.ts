/**
 * The sockets behind the reachability matrix (probe.ts judges what they see). Every request goes to
 * an IP address with the host in the Host header and, over HTTPS, in SNI: no name is ever resolved,
 * so the probe asks exactly the address it reports on, whatever DNS says.
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import {
  type Addresses,
  type Asked,
  type Certificate,
  COLUMNS,
  type Exchange,
  type Hop,
  type Outcome,
  outcomeOfError,
  type ProbeTarget,
  redirectDecision,
  type Scheme,
  urlOf,
  type Where,
} from './probe.ts'

export type ProbeOptions = {
  /** Socket ports for http and https; the Services' 80 and 443 unless a test moves them. */
  ports?: Record<Scheme, number>
  /** Bound on each request, connection included. A timeout is "cannot reach from here". */
  timeoutMs?: number
  /** Roots to verify certificates against instead of Node's (tests). */
  ca?: string
}

export const DEFAULT_PORTS: Record<Scheme, number> = { http: 80, https: 443 }
export const DEFAULT_TIMEOUT_MS = 3000

/** Asks every target in every column, all at once (each cell is a few requests at most). */
export async function askMatrix(targets: ProbeTarget[], addresses: Addresses, options: ProbeOptions = {}): Promise<Asked[]> {
  return Promise.all(
    targets.map(async (target) => {
      const exchanges = await Promise.all(COLUMNS.map((c) => askCell(target, c.scheme, addresses[c.address], addresses, options)))
      return { target, exchanges: Object.fromEntries(COLUMNS.map((c, i) => [c.key, exchanges[i]])) as Asked['exchanges'] }
    }),
  )
}

/** One cell: starts with `scheme` on `ip`, follows the redirects redirectDecision allows. */
export async function askCell(target: ProbeTarget, scheme: Scheme, ip: string, addresses: Addresses, options: ProbeOptions = {}): Promise<Exchange> {
  if (net.isIP(ip) === 0) throw new Error(`the probe connects to addresses only, not ${JSON.stringify(ip)}`)
  const ports = options.ports ?? DEFAULT_PORTS
  const hops: Hop[] = []
  const asked: string[] = []
  let where: Where = { scheme, path: target.path }
  for (;;) {
    asked.push(urlOf(target.host, where))
    const answer = await requestOnce(ip, ports[where.scheme], target.host, where, options)
    if ('kind' in answer) return { hops, outcome: answer }
    hops.push({ url: urlOf(target.host, where), ...answer })
    const decision = redirectDecision(target.host, addresses, where, answer.status, answer.location, asked)
    if (decision.kind === 'final') return { hops, outcome: { kind: 'answered', status: answer.status } }
    if (decision.kind === 'stop') return { hops, outcome: decision.outcome }
    where = decision.to
  }
}

type Answer = Omit<Hop, 'url'>

function requestOnce(ip: string, port: number, host: string, where: Where, options: ProbeOptions): Promise<Answer | Outcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise((resolve) => {
    const common = { host: ip, port, path: where.path, method: 'GET', headers: { Host: host }, agent: false }
    // Certificates are reported, not enforced: Traefik's default certificate is normal before ACME
    // has issued one, and admin hosts on HTTP-01 never get another.
    const request =
      where.scheme === 'https'
        ? https.request({ ...common, servername: host, rejectUnauthorized: false, ...(options.ca ? { ca: options.ca } : {}) })
        : http.request(common)
    let settled = false
    const finish = (result: Answer | Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
      request.destroy()
    }
    const timer = setTimeout(() => finish({ kind: 'unreachable', reason: `no answer within ${timeoutMs} ms` }), timeoutMs)
    request.on('response', (response) => {
      const location = response.headers.location
      const certificate = where.scheme === 'https' ? certificateOf(response.socket as TLSSocket) : undefined
      finish({ status: response.statusCode ?? 0, ...(location ? { location } : {}), ...(certificate ? { certificate } : {}) })
    })
    request.on('error', (err: NodeJS.ErrnoException) => finish(outcomeOfError(err.code, err.message)))
    request.end()
  })
}

function certificateOf(socket: TLSSocket): Certificate | undefined {
  const peer = socket.getPeerCertificate()
  if (!peer || Object.keys(peer).length === 0) return undefined
  return {
    subject: distinguishedName(peer.subject),
    issuer: distinguishedName(peer.issuer),
    validFrom: isoDate(peer.valid_from),
    validTo: isoDate(peer.valid_to),
    altNames: peer.subjectaltname ?? '',
    trusted: socket.authorized,
    ...(socket.authorized ? {} : { verifyError: String(socket.authorizationError) }),
  }
}

function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return ''
  return (['CN', 'O'] as const)
    .flatMap((k) => {
      const value = name[k]
      return value === undefined ? [] : [`${k}=${([] as string[]).concat(value).join('+')}`]
    })
    .join(', ')
}

function isoDate(text: string): string {
  const t = Date.parse(text)
  return Number.isNaN(t) ? text : new Date(t).toISOString().slice(0, 10)
}

/**
 * Traefik's runtime configuration from its API (`/api/rawdata`), asked over HTTPS on the internal
 * address under the dashboard host, as the kit's dashboard route serves it (certificate not
 * enforced, as above). Undefined with the reason when it does not answer with JSON.
 */
export function askTraefikRawData(ip: string, host: string, options: ProbeOptions = {}): Promise<{ data: unknown } | { unreachable: string }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const port = (options.ports ?? DEFAULT_PORTS).https
  return new Promise((resolve) => {
    const request = https.request({ host: ip, port, path: '/api/rawdata', method: 'GET', headers: { Host: host, Accept: 'application/json' }, agent: false, servername: host, rejectUnauthorized: false, ...(options.ca ? { ca: options.ca } : {}) })
    let settled = false
    const finish = (result: { data: unknown } | { unreachable: string }) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
      request.destroy()
    }
    const timer = setTimeout(() => finish({ unreachable: `no answer within ${timeoutMs} ms` }), timeoutMs)
    request.on('response', (response) => {
      if (response.statusCode !== 200) return finish({ unreachable: `https://${host}/api/rawdata on ${ip} answered ${response.statusCode}` })
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > 64 * 1024 * 1024) return finish({ unreachable: 'the answer is larger than 64 MB' })
        chunks.push(chunk)
      })
      response.on('end', () => {
        try {
          finish({ data: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        } catch {
          finish({ unreachable: `https://${host}/api/rawdata on ${ip} did not answer with JSON` })
        }
      })
      response.on('error', (err) => finish({ unreachable: err.message }))
    })
    request.on('error', (err: NodeJS.ErrnoException) => finish({ unreachable: `${err.code ?? ''} ${err.message}`.trim() }))
    request.end()
  })
}
