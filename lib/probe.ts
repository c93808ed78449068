/** Asking Traefik for the admin hosts on both addresses, and judging the answers. */
import http from 'node:http'
import type { Check } from './checks.ts'
import type { Config } from './config.ts'

export type ProbeResult = { reachable: boolean; status?: number; error?: string }

/** Judges one admin host asked on both addresses. A 404 is Traefik saying "no route here". */
export function probeCheck(host: string, internal: ProbeResult, external: ProbeResult, config: Pick<Config, 'internalIp' | 'externalIp'>): Check[] {
  const checks: Check[] = []
  const onInternal = `${host} answers on INTERNAL_IP ${config.internalIp}`
  if (!internal.reachable) {
    checks.push({ name: onInternal, status: 'skip', detail: `cannot reach ${config.internalIp}:80 from here (${internal.error}); run 04-verify on a machine in the LAN to probe` })
  } else if (internal.status === 404) {
    checks.push({ name: onInternal, status: 'fail', detail: 'Traefik answered 404: no route for this host on the internal entrypoints' })
  } else {
    checks.push({ name: onInternal, status: 'pass', detail: `HTTP ${internal.status}` })
  }
  const onExternal = `${host} does not answer on EXTERNAL_IP ${config.externalIp}`
  if (!external.reachable) {
    checks.push({ name: onExternal, status: 'skip', detail: `cannot reach ${config.externalIp}:80 from here (${external.error})` })
  } else if (external.status === 404) {
    checks.push({ name: onExternal, status: 'pass', detail: 'HTTP 404 (no route)' })
  } else {
    checks.push({ name: onExternal, status: 'fail', detail: `HTTP ${external.status}: the admin UI is reachable through the public address` })
  }
  return checks
}

export function probeHttp(ip: string, host: string, path: string, timeoutMs = 3000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const request = http.request({ host: ip, port: 80, path, method: 'GET', headers: { Host: host }, timeout: timeoutMs }, (response) => {
      response.resume()
      resolve({ reachable: true, status: response.statusCode })
    })
    request.on('timeout', () => request.destroy(new Error('timed out')))
    request.on('error', (err: NodeJS.ErrnoException) => resolve({ reachable: false, error: err.code ?? err.message }))
    request.end()
  })
}
