/**
 * The one way the kit talks to the API server: HTTPS requests with the kubeconfig's credentials
 * (lib/kube/kubeconfig.ts), JSON in and out, on keep-alive connections. Objects come back exactly
 * as the server sends them (no typed models renaming or dropping fields), and a failure carries
 * what lib/base/errors.ts reads: the HTTP status and the server's Status object, or Node's own
 * connection error (code, address, port).
 */
import http from 'node:http'
import https from 'node:https'
import { recordSpan, timingsEnabled } from '../base/timings.ts'
import type { Connection } from './kubeconfig.ts'

export type RequestOptions = {
  body?: { text: string; contentType: string }
  /** Accept header; JSON by default. */
  accept?: string
  /** The answer as text, not JSON (a container's log); a 404 is then an error like any other. */
  text?: boolean
  signal?: AbortSignal
}

export type WatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: any }

export type Transport = {
  /** One request with a JSON answer: the parsed body, undefined on 404 (nothing there), an error carrying `code` on any other failure. */
  request(method: string, path: string, options?: RequestOptions): Promise<any | undefined>
  /**
   * A watch: `onEvent` for each event, `onEnd` once when the server closes it, an ERROR event ends
   * it (e.g. 410 Gone: list again), or it fails; never after `abort()`.
   */
  watch(path: string, onEvent: (event: WatchEvent) => void, onEnd: (err?: unknown) => void): Promise<{ abort(): void }>
}

/** How long one request may wait for its answer (watches are not bounded here). */
const REQUEST_TIMEOUT_MS = 60_000

export function makeTransport(connection: Connection): Transport {
  const url = (path: string) => new URL(path, connection.server)
  const secure = connection.server.startsWith('https:')
  // One pool of kept-alive connections; Node keys them by the TLS options, so rotated client
  // certificates get connections of their own.
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })

  async function open(method: string, path: string, options: RequestOptions, timeoutMs: number | undefined, onResponse: (response: http.IncomingMessage) => void, onError: (err: Error) => void) {
    const { headers, agent: ownAgent, ...tls } = await connection.options()
    const request = (secure ? https : http).request(url(path), {
      ...tls,
      agent: ownAgent ?? agent,
      method,
      signal: options.signal,
      timeout: timeoutMs,
      headers: {
        ...headers,
        Accept: options.accept ?? 'application/json',
        'User-Agent': 'homelab-ingress',
        ...(options.body ? { 'Content-Type': options.body.contentType } : {}),
      },
    })
    request.on('response', onResponse)
    // Whether the connection was a kept-alive one goes with the error (a read may then be asked again).
    request.on('error', (err) => onError(request.reusedSocket ? Object.assign(err, { reusedSocket: true }) : err))
    request.on('timeout', () => request.destroy(Object.assign(new Error(`${method} ${url(path)}: no answer within ${timeoutMs! / 1000}s`), { code: 'ETIMEDOUT' })))
    request.end(options.body?.text)
    return request
  }

  function request(method: string, path: string, options: RequestOptions = {}): Promise<any | undefined> {
    const start = timingsEnabled() ? performance.now() : 0
    const done = once(method, path, options).catch((err) => {
      // A kept-alive connection the server closed just as the request went out: a read is asked
      // again on a new one (Node's advice for reused sockets); a write is not repeated blindly.
      if (method === 'GET' && err?.code === 'ECONNRESET' && err.reusedSocket) return once(method, path, options)
      throw err
    })
    if (!start) return done
    const label = `API ${method} ${decodeURIComponent(path)}`
    return done.finally(() => recordSpan(label, start))
  }

  function once(method: string, path: string, options: RequestOptions): Promise<any | undefined> {
    return new Promise<any | undefined>((resolve, reject) => {
      open(method, path, options, REQUEST_TIMEOUT_MS, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk) => (text += chunk))
        response.on('error', reject)
        response.on('end', () => {
          const status = response.statusCode ?? 0
          if (status === 404 && !options.text) return resolve(undefined)
          if (status < 200 || status > 299) return reject(apiError(method, path, status, text, response.headers))
          if (options.text) return resolve(text)
          if (text === '') return resolve(undefined)
          // Parsed inside the promise: a throw from this handler would escape it and end the process.
          try {
            resolve(JSON.parse(text))
          } catch {
            reject(Object.assign(new Error(`${method} ${path}: HTTP ${status}, but the answer is not JSON: ${text.slice(0, 120)}`), { code: status, body: text }))
          }
        })
      }, reject).catch(reject)
    })
  }

  async function watch(path: string, onEvent: (event: WatchEvent) => void, onEnd: (err?: unknown) => void) {
    const controller = new AbortController()
    let ended = false
    const end = (err?: unknown) => {
      if (ended || controller.signal.aborted) return
      ended = true
      onEnd(err)
    }
    const req = await open('GET', path, { signal: controller.signal }, undefined, (response) => {
      const status = response.statusCode ?? 0
      if (status < 200 || status > 299) {
        let text = ''
        response.on('data', (chunk) => (text += chunk))
        response.on('end', () => end(apiError('GET', path, status, text, response.headers)))
        return
      }
      let buffered = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        if (ended || controller.signal.aborted) return
        buffered += chunk
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim()
          buffered = buffered.slice(newline + 1)
          if (!line) continue
          let event: WatchEvent
          try {
            event = JSON.parse(line)
          } catch (err) {
            response.destroy()
            return end(err)
          }
          // The server says the watch cannot go on (410 Gone: too old a resourceVersion): list again.
          if (event.type === 'ERROR') {
            response.destroy()
            return end()
          }
          if (ended || controller.signal.aborted) return
          onEvent(event)
        }
      })
      response.on('error', (err) => end(err))
      response.on('end', () => end())
    }, (err) => end(err))
    void req
    return { abort: () => controller.abort() }
  }

  return { request, watch }
}

/** An answer that is not a success: the status code, the server's Status (`body`), and its headers (Retry-After). */
function apiError(method: string, path: string, status: number, text: string, headers: http.IncomingHttpHeaders): Error {
  let said = text.slice(0, 300)
  try {
    const parsed = JSON.parse(text) as { message?: unknown; reason?: unknown }
    if (typeof parsed.message === 'string') said = `${typeof parsed.reason === 'string' ? `${parsed.reason}: ` : ''}${parsed.message}`
  } catch {
    // not a Status object: the text itself
  }
  return Object.assign(new Error(`${method} ${path}: HTTP ${status}: ${said}`), { code: status, body: text, headers })
}
