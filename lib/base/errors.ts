/** Errors the user can act on. Each carries the exit code the one handler in cli.ts uses. */
import type { ProcessOutput } from 'zx'
import { isIpAddress } from './net.ts'

export const EXIT = {
  ok: 0,
  /** A step ran and something did not hold (verify failed, the cluster refused a change). */
  failed: 1,
  /** Bad configuration or usage, or a cluster the configuration does not allow. Nothing was touched. */
  config: 2,
  /** Something the step needs is missing from the cluster or the machine. Nothing was touched. */
  precondition: 3,
} as const

export class UserError extends Error {
  exitCode: number
  /** Lines printed under the message, e.g. one per configuration problem. */
  details: string[]
  constructor(message: string, exitCode: number = EXIT.failed, details: string[] = []) {
    super(message)
    this.name = 'UserError'
    this.exitCode = exitCode
    this.details = details
  }
}

export class ConfigError extends UserError {
  constructor(problems: string[]) {
    super(
      `configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:`,
      EXIT.config,
      problems,
    )
    this.name = 'ConfigError'
  }
}

export class PreconditionError extends UserError {
  constructor(message: string, details: string[] = []) {
    super(message, EXIT.precondition, details)
    this.name = 'PreconditionError'
  }
}

// --- What an error says about where it happened, the one place that reads it. Pure functions over
// the shapes the kit meets: its API client's errors (an HTTP status and the server's Status: the
// API server answered; Node's connection error: it did not), and helm's stderr carried in a failed
// command's message.

/** The text of an error: its message, the API Status message, and helm's stderr. */
export function errorText(err: unknown): string {
  if (err === null || err === undefined) return String(err)
  const e = err as { message?: string; body?: unknown; stderr?: string }
  const parts = [e.message ?? String(err)]
  // the API client hands the server's Status over as the JSON text it received
  let body = e.body
  if (typeof e.body === 'string') {
    try {
      body = JSON.parse(e.body)
    } catch {
      parts.push(e.body)
    }
  }
  const said = body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : undefined
  // The API client's message already quotes the server's; each part on a line of its own.
  if (said && !parts[0].includes(said)) parts.push(said)
  if (e.stderr) parts.push(e.stderr)
  return parts.join('\n')
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0]
}

type Endpoint = { host: string; port?: string }

/** host and port of `https://host:port/...`, `host:port` or `[v6]:port`; no port when none is given. */
function endpointOf(target: string): Endpoint | undefined {
  const text = target.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const url = new URL(text)
      const port = url.port || ({ 'https:': '443', 'http:': '80' } as Record<string, string>)[url.protocol]
      return { host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port }
    } catch {
      return undefined
    }
  }
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:\s\[\]]+)(?::(\d+))?$/.exec(text)
  return m ? { host: m[1].toLowerCase(), port: m[2] } : undefined
}

function sameEndpoint(target: Endpoint, server: Endpoint): boolean {
  return target.host === server.host && (target.port === undefined || target.port === server.port)
}

/** Node's codes for a connection that failed or broke: refused, reset, timed out, name not resolved, TLS. */
const CONNECTION_CODE =
  /^(ECONN(REFUSED|RESET|ABORTED)|EPIPE|ETIMEDOUT|EHOST(UNREACH|DOWN)|ENET(UNREACH|DOWN)|ENOTFOUND|EADDRNOTAVAIL|EAI_\w+|ERR_STREAM_PREMATURE_CLOSE|ERR_SOCKET_\w+|ERR_TLS_\w+|ERR_SSL_\w+|CERT_\w+|\w*SELF_SIGNED\w*|UNABLE_TO_\w+)$/

/** A line the server wrote (so the server answered), even when it quotes a failed connection of its own. */
const SERVER_ANSWER = /Error from server|failed calling webhook|admission webhook "|Internal error occurred/

/** In a line of helm's stderr, the first place it names where it tried to connect, and the connection error. */
function connectionFailureIn(line: string): { target?: Endpoint; at: number } | undefined {
  const patterns: [RegExp, (m: RegExpExecArray) => { target?: Endpoint }][] = [
    // Go's url.Error: `Get "URL": reason` (quotes escaped \" inside klog's structured lines)
    [/\b(?:Get|Post|Put|Patch|Delete|Head|GET|POST|PUT|PATCH|DELETE|HEAD) \\?"([^"\\]+)\\?": /, (m) => ({ target: endpointOf(m[1]) })],
    [/\bdial tcp (\[[^\]]+\]:\d+|[^\s\[\]]+:\d+): /, (m) => ({ target: endpointOf(m[1]) })],
    [/\bdial tcp: lookup (\S+?)(?: on \S+)?: /, (m) => ({ target: endpointOf(m[1]) })],
  ]
  let first: { index: number; found: { target?: Endpoint } } | undefined
  for (const [pattern, read] of patterns) {
    const m = pattern.exec(line)
    if (m && (!first || m.index < first.index)) first = { index: m.index, found: read(m) }
  }
  return first && { ...first.found, at: first.index }
}

/**
 * Why the API server at `server` (the kubeconfig context's URL) could not be reached, taken from the
 * error itself; undefined when the server answered, whatever its answer says (e.g. that it could not
 * call an admission webhook), and when the failed connection went somewhere else.
 */
export function apiServerUnreachable(err: unknown, server: string): string | undefined {
  const apiServer = endpointOf(server)
  if (!apiServer || err === null || typeof err !== 'object') return undefined
  // the API client's errors: an HTTP status is an answer
  if (typeof (err as { code?: unknown }).code === 'number') return undefined
  // its connections (Node's system errors, here or as the cause of another): it talks to nothing but
  // the API server; when the error names its target, that must be the server.
  for (let cause: any = err, depth = 0; cause && typeof cause === 'object' && depth < 5; cause = cause.cause, depth++) {
    const code = typeof cause.code === 'string' ? cause.code : typeof cause.errno === 'string' ? cause.errno : undefined
    if (code && CONNECTION_CODE.test(code)) {
      const message = String(cause.message ?? code)
      const target = typeof cause.address === 'string' ? { host: cause.address, port: cause.port === undefined ? undefined : String(cause.port) } : undefined
      // a resolved address cannot be told from the server's name without resolving it: then the port decides
      const comparable = !target || isIpAddress(target.host) === isIpAddress(apiServer.host)
      if (target && !sameEndpoint(comparable ? target : { ...target, host: apiServer.host }, apiServer)) return undefined
      return firstLine(message)
    }
  }
  // helm: its stderr, line by line (server answers excluded)
  const text = [(err as { message?: unknown }).message, (err as { stderr?: unknown }).stderr].filter((t) => typeof t === 'string').join('\n')
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim()
    if (!line || SERVER_ANSWER.test(line)) continue
    const failure = connectionFailureIn(line)
    if (!failure) continue
    if (failure.target && sameEndpoint(failure.target, apiServer)) {
      // from where the client names the connection (no "kubectl ... failed", no klog wrapping)
      return line.slice(failure.at).replace(/\\"/g, '"').replace(/"$/, '')
    }
  }
  return undefined
}

export type WebhookFailure = {
  /** The webhook's name as registered, e.g. ipaddresspoolvalidationwebhook.metallb.io. */
  webhook: string
  /** true: the webhook answered and said no; false: the API server could not get an answer from it. */
  denied: boolean
  /** Where the API server called it, without the query (absent when the message does not say). */
  url?: string
  /** Why the call failed, or why the webhook said no. */
  reason: string
}

/**
 * An admission webhook the API server called for a request: it could not get an answer (the API
 * server answers 500 "failed calling webhook") or the webhook denied the request.
 */
export function admissionWebhookFailure(err: unknown): WebhookFailure | undefined {
  const text = errorText(err)
  const denied = /admission webhook "([^"]+)" denied the request: ([^\n]*)/.exec(text)
  if (denied) return { webhook: denied[1], denied: true, reason: denied[2].trim() }
  const failed = /failed calling webhook "([^"]+)": (?:failed to call webhook: )?(?:(?:Post|POST) "?([^"\s]+?)"?: )?([^\n]*)/.exec(text)
  if (!failed) return undefined
  const reason = failed[3].trim()
  return { webhook: failed[1], denied: false, url: failed[2]?.replace(/\?.*$/, ''), reason: reason || 'no answer' }
}

/**
 * The API server's own answer carried by an error of the API client: the HTTP status and the Status
 * object's reason and message. Undefined for errors that carry no answer.
 */
export function apiStatusOf(err: unknown): { code: number; reason?: string; message: string } | undefined {
  const e = err as { code?: unknown; body?: unknown } | null
  if (!e || typeof e.code !== 'number') return undefined
  let body = e.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      return { code: e.code, message: firstLine(body as string) }
    }
  }
  const status = (body ?? {}) as { reason?: unknown; message?: unknown }
  return {
    code: e.code,
    reason: typeof status.reason === 'string' ? status.reason : undefined,
    message: typeof status.message === 'string' ? status.message : firstLine(errorText(err)),
  }
}

// A server that answers but is not ready, in the words kubectl and helm print for it.
const NOT_READY = /storage is \(re\)initializing|the server is currently unable/i

/**
 * The API server answered that it cannot serve the request yet (starting up, a CRD whose storage
 * is still initializing): 429 or 503 in its answer, or those words in kubectl's or helm's stderr.
 * Undefined otherwise, and for an admission webhook's failure the server passes on.
 */
export function apiServerNotReady(err: unknown): string | undefined {
  if (admissionWebhookFailure(err)) return undefined
  const status = apiStatusOf(err)
  if (status && (status.code === 429 || status.code === 503)) return status.message
  const text = errorText(err)
  return NOT_READY.test(text) ? firstLine(text) : undefined
}

/** helm's answer for a release it has no record of (`helm history`, `helm get`). */
export function helmReleaseNotFound(output: Pick<ProcessOutput, 'stderr'>): boolean {
  return /\brelease: not found\b/.test(output.stderr)
}

/** A failed kubectl/helm call, as one message naming the command. */
export function commandFailed(what: string, output: ProcessOutput): UserError {
  if (output.exitCode === 127) {
    const tool = what.split(' ')[0]
    return new UserError(`${tool} is not installed or not on PATH (needed for ${what})`, EXIT.precondition, [
      tool === 'helm' ? 'install helm 3 or 4: https://helm.sh/docs/intro/install/' : 'install kubectl: https://kubernetes.io/docs/tasks/tools/',
    ])
  }
  const stderr = output.stderr.trim() || output.stdout.trim()
  return new UserError(`${what} failed (exit ${output.exitCode}): ${stderr}`, EXIT.failed)
}
