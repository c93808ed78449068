/**
 * The kubeconfig, read as kubectl reads it: the files in KUBECONFIG (merged, the first file that
 * names a cluster, user or context wins, and the first current-context), else ~/.kube/config; file
 * paths inside a file are relative to that file.
 *
 * What a context needs to connect is worked out here for the common kinds of credentials: client
 * certificates (k3s, kubeadm, this kit's test cluster), bearer tokens, token files, basic auth, a
 * CA or insecure-skip-tls-verify, tls-server-name. Anything else (exec plugins, auth-provider,
 * impersonation, proxy-url) is handed to @kubernetes/client-node's own loader, loaded only then,
 * so those kubeconfigs behave exactly as with client-node.
 */
import fs from 'node:fs'
import type https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'

type Named<T> = { name: string; file: string; value: T }
type ClusterEntry = Record<string, unknown> & { server?: string }
type UserEntry = Record<string, unknown>
type ContextEntry = { cluster?: string; user?: string; namespace?: string }

export type Kubeconfig = {
  /** The files read, in order. */
  files: string[]
  contexts: string[]
  currentContext: string
  /** How to connect as `context`; throws when the context names a cluster or user that is not there. */
  connection(context: string): Connection
}

/** TLS settings of the connection, and the headers of each request (credentials that may change, e.g. a token file). */
export type Connection = {
  server: string
  /**
   * Options for node:https (ca, cert, key, rejectUnauthorized, servername) and the Authorization
   * header; asked before each request, so that rotating credentials are read when they change.
   */
  options(): Promise<ConnectionOptions>
  /** Whether the credentials came from @kubernetes/client-node's loader (for --timings and tests). */
  viaClientNode: boolean
}

export type ConnectionOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'> & {
  headers: Record<string, string>
  /** An agent of client-node's own (a proxy), when the kubeconfig asks for one. */
  agent?: https.Agent
}

/** The kubeconfig files kubectl would read: KUBECONFIG's list, else ~/.kube/config. */
function kubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.KUBECONFIG) return env.KUBECONFIG.split(path.delimiter).filter(Boolean)
  return [path.join(env.HOME || os.homedir(), '.kube', 'config')]
}

// The keys of a user and of a cluster that are read here; any other key sends the context to client-node.
const USER_KEYS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'token-file', 'username', 'password'])
const CLUSTER_KEYS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'disable-compression', 'extensions'])
const TOKEN_FILE_SECONDS = 60

export function loadKubeconfig(env: NodeJS.ProcessEnv = process.env): Kubeconfig {
  const files = kubeconfigFiles(env)
  const clusters = new Map<string, Named<ClusterEntry>>()
  const users = new Map<string, Named<UserEntry>>()
  const contexts = new Map<string, Named<ContextEntry>>()
  let currentContext = ''
  for (const file of files) {
    // A file in KUBECONFIG that does not exist is skipped, as kubectl does.
    if (!fs.existsSync(file)) continue
    const doc = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, any>
    if (typeof doc !== 'object') throw new Error(`${file} is not a kubeconfig (no YAML mapping)`)
    const add = <T>(into: Map<string, Named<T>>, list: unknown, key: string) => {
      for (const entry of Array.isArray(list) ? list : []) {
        if (entry && typeof entry.name === 'string' && !into.has(entry.name)) into.set(entry.name, { name: entry.name, file, value: (entry[key] ?? {}) as T })
      }
    }
    add(clusters, doc.clusters, 'cluster')
    add(users, doc.users, 'user')
    add(contexts, doc.contexts, 'context')
    if (!currentContext && typeof doc['current-context'] === 'string') currentContext = doc['current-context']
  }
  return {
    files,
    contexts: [...contexts.keys()],
    currentContext,
    connection(name) {
      const context = contexts.get(name)
      if (!context) throw new Error(`no context ${name} in ${files.join(path.delimiter)}`)
      const cluster = clusters.get(context.value.cluster ?? '')
      if (!cluster?.value.server) throw new Error(`context ${name} names cluster ${JSON.stringify(context.value.cluster)}, which has no server in ${files.join(path.delimiter)}`)
      const user = context.value.user ? users.get(context.value.user) : undefined
      if (context.value.user && !user) throw new Error(`context ${name} names user ${JSON.stringify(context.value.user)}, which is not in ${files.join(path.delimiter)}`)
      const plain = Object.keys(user?.value ?? {}).every((k) => USER_KEYS.has(k)) && Object.keys(cluster.value).every((k) => CLUSTER_KEYS.has(k))
      return plain ? ownConnection(cluster, user) : clientNodeConnection(name, cluster.value.server)
    },
  }
}

/** A path inside a kubeconfig file is relative to the file's directory. */
const resolveIn = (file: string, p: unknown) => path.resolve(path.dirname(file), String(p))

/** `X-data` (base64) or the file `X`: the file wins, as in client-node and kubectl. */
function fileOrData(entry: Named<Record<string, unknown>>, key: string): Buffer | undefined {
  const file = entry.value[key]
  if (typeof file === 'string' && file) return fs.readFileSync(resolveIn(entry.file, file))
  const data = entry.value[`${key}-data`]
  return typeof data === 'string' && data ? Buffer.from(data, 'base64') : undefined
}

function ownConnection(cluster: Named<ClusterEntry>, user: Named<UserEntry> | undefined): Connection {
  const c = cluster.value
  const tls: ConnectionOptions = { headers: {} }
  if (c['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false
  if (typeof c['tls-server-name'] === 'string' && c['tls-server-name']) tls.servername = c['tls-server-name']
  const ca = fileOrData(cluster, 'certificate-authority')
  if (ca) tls.ca = ca
  const u = user?.value ?? {}
  if (user) {
    const cert = fileOrData(user, 'client-certificate')
    const key = fileOrData(user, 'client-key')
    if (cert) tls.cert = cert
    if (key) tls.key = key
  }
  const tokenFile = u.tokenFile ?? u['token-file']
  let token: { value: string; read: number } | undefined
  const authorization = (): string | undefined => {
    if (typeof u.token === 'string' && u.token) return `Bearer ${u.token}`
    if (typeof tokenFile === 'string' && tokenFile && user) {
      // Re-read now and then: a projected token file is rotated underneath a long run.
      if (!token || Date.now() - token.read > TOKEN_FILE_SECONDS * 1000) {
        token = { value: fs.readFileSync(resolveIn(user.file, tokenFile), 'utf8').trim(), read: Date.now() }
      }
      return `Bearer ${token.value}`
    }
    if (typeof u.username === 'string' && u.username) return `Basic ${Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64')}`
    return undefined
  }
  return {
    server: String(c.server),
    viaClientNode: false,
    async options(): Promise<ConnectionOptions> {
      const header = authorization()
      const headers: Record<string, string> = header ? { Authorization: header } : {}
      return { ...tls, headers }
    },
  }
}

/**
 * Credentials only @kubernetes/client-node knows how to get (an exec plugin, an auth-provider,
 * impersonation, a proxy): its KubeConfig, loaded on first use, fills in the same options.
 */
function clientNodeConnection(context: string, server: string): Connection {
  let loaded: Promise<import('@kubernetes/client-node').KubeConfig> | undefined
  const load = async () => {
    const { KubeConfig } = await import('@kubernetes/client-node')
    const kc = new KubeConfig()
    kc.loadFromDefault()
    kc.setCurrentContext(context)
    return kc
  }
  return {
    server,
    viaClientNode: true,
    async options() {
      const kc = await (loaded ??= load())
      const options: https.RequestOptions = {}
      await kc.applyToHTTPSOptions(options)
      const headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k, String(v)]))
      if (options.auth) headers.Authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`
      return {
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.rejectUnauthorized,
        servername: options.servername,
        headers,
        // client-node's own proxy agent (http, https or socks) when the cluster has a proxy-url;
        // otherwise the kit's keep-alive agent carries these options.
        ...(kc.getCurrentCluster()?.proxyUrl ? { agent: options.agent as https.Agent } : {}),
      }
    },
  }
}
