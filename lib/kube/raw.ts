/**
 * API objects exactly as the server sends them (plain JSON). The typed clients of
 * @kubernetes/client-node rename some fields (`x-kubernetes-validations` becomes
 * `xKubernetesValidations`) and drop fields their models do not know, so comparing what a chart
 * sets with what the cluster holds needs the raw form.
 */
import https from 'node:https'
import type { Cluster } from './cluster.ts'

type Resource = { name: string; namespaced: boolean; kind: string }

const discovery = new WeakMap<Cluster, Map<string, Promise<Resource[]>>>()

/** GET `path` on the API server; undefined on 404, an error carrying `code` on any other failure. */
export function rawGet(cluster: Cluster, path: string, signal?: AbortSignal): Promise<any | undefined> {
  return rawRequest(cluster, 'GET', path, undefined, signal)
}

/** One request with a JSON answer; undefined on 404, an error carrying `code` on any other failure. */
export async function rawRequest(
  cluster: Cluster,
  method: string,
  path: string,
  body?: { text: string; contentType: string },
  signal?: AbortSignal,
): Promise<any | undefined> {
  const options: https.RequestOptions = {}
  await cluster.kc.applyToHTTPSOptions(options)
  const url = new URL(path, cluster.server)
  const headers = { ...options.headers, Accept: 'application/json', ...(body ? { 'Content-Type': body.contentType } : {}) }
  return new Promise((resolve, reject) => {
    const request = https.request(url, { ...options, method, headers, signal }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () => {
        if (response.statusCode === 404) return resolve(undefined)
        if (response.statusCode === undefined || response.statusCode < 200 || response.statusCode > 299) {
          return reject(Object.assign(new Error(`${method} ${path}: HTTP-Code: ${response.statusCode}: ${text.slice(0, 300)}`), { code: response.statusCode, body: text }))
        }
        // Parsed here, inside the promise: a throw from this handler would escape it and end the process.
        try {
          resolve(JSON.parse(text))
        } catch {
          reject(Object.assign(new Error(`${method} ${path}: HTTP-Code: ${response.statusCode}: the answer is not JSON: ${text.slice(0, 120)}`), { code: response.statusCode, body: text }))
        }
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body?.text)
  })
}

async function resources(cluster: Cluster, apiVersion: string): Promise<Resource[]> {
  let cache = discovery.get(cluster)
  if (!cache) discovery.set(cluster, (cache = new Map()))
  let list = cache.get(apiVersion)
  if (!list) {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
    list = rawGet(cluster, path).then((r) => (r?.resources ?? []) as Resource[])
    cache.set(apiVersion, list)
  }
  return list
}

/** The object's URL path, from API discovery (its plural and whether it is namespaced). */
export async function objectPath(cluster: Cluster, o: { apiVersion: string; kind: string; name: string; namespace?: string }): Promise<string> {
  const resource = (await resources(cluster, o.apiVersion)).find((r) => r.kind === o.kind && !r.name.includes('/'))
  if (!resource) throw new Error(`the API server does not serve ${o.kind} in ${o.apiVersion}`)
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`
  const scope = resource.namespaced ? `/namespaces/${encodeURIComponent(o.namespace ?? 'default')}` : ''
  return `${base}${scope}/${resource.name}/${encodeURIComponent(o.name)}`
}

/** One object as raw JSON, or undefined when it does not exist. */
export async function rawRead(
  cluster: Cluster,
  o: { apiVersion: string; kind: string; name: string; namespace?: string },
  signal?: AbortSignal,
): Promise<any | undefined> {
  return rawGet(cluster, await objectPath(cluster, o), signal)
}
