/**
 * The one way the kit reaches a cluster: the configured context only, pinned explicitly on every
 * API client, kubectl and helm call, so a `kubectl config use-context` in another terminal cannot
 * redirect a run half-way.
 */
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  StorageV1Api,
} from '@kubernetes/client-node'
import { $, type ProcessPromise } from 'zx'
import type { Config } from '../config/config.ts'
import { admissionWebhookFailure, apiServerUnreachable, apiStatusOf, errorText, EXIT, firstLine, UserError } from '../base/errors.ts'
import { recordSpan, timingsEnabled } from '../base/timings.ts'

export { errorText, firstLine } from '../base/errors.ts'

export type Cluster = {
  context: string
  server: string
  kc: KubeConfig
  core: CoreV1Api
  custom: CustomObjectsApi
  apiext: ApiextensionsV1Api
  storage: StorageV1Api
  networking: NetworkingV1Api
  objects: KubernetesObjectApi
  /** kubectl with --context; never throws, the caller reads exitCode. */
  kubectl(args: string[], input?: string): ProcessPromise
  /** helm with --kube-context; never throws, the caller reads exitCode (and `pid` while it runs). */
  helm(args: string[], input?: string): ProcessPromise
}

/**
 * Refuses any context but KUBE_CONTEXT. The current context must be KUBE_CONTEXT, unless
 * `--context KUBE_CONTEXT` says explicitly to use it anyway.
 */
export function chooseContext(
  config: Pick<Config, 'kubeContext'>,
  available: string[],
  current: string,
  contextFlag: string | undefined,
): string {
  const target = config.kubeContext
  if (contextFlag !== undefined && contextFlag !== target) {
    throw new UserError(
      `refusing --context ${contextFlag}: the configuration allows only KUBE_CONTEXT=${target}. ` +
        `To work on ${contextFlag}, set KUBE_CONTEXT=${contextFlag} in your env file.`,
      EXIT.config,
    )
  }
  if (!available.includes(target)) {
    throw new UserError(
      `KUBE_CONTEXT=${target} is not a context in your kubeconfig` +
        (process.env.KUBECONFIG ? ` (KUBECONFIG=${process.env.KUBECONFIG})` : '') +
        `; contexts there: ${available.length ? available.join(', ') : '(none)'}`,
      EXIT.config,
    )
  }
  if (current !== target && contextFlag === undefined) {
    throw new UserError(
      `refusing to run: the current kubectl context is ${current || '(none)'} but KUBE_CONTEXT is ${target}. ` +
        `Switch with \`kubectl config use-context ${target}\`, or pass --context ${target} to use it without switching.`,
      EXIT.config,
    )
  }
  return target
}

export function connectCluster(config: Pick<Config, 'kubeContext'>, contextFlag?: string): Cluster {
  const kc = new KubeConfig()
  try {
    kc.loadFromDefault()
  } catch (err) {
    throw new UserError(`cannot read your kubeconfig: ${(err as Error).message}`, EXIT.config)
  }
  const context = chooseContext(
    config,
    kc.getContexts().map((c) => c.name),
    kc.getCurrentContext(),
    contextFlag,
  )
  kc.setCurrentContext(context)
  const server = kc.getCurrentCluster()?.server ?? '(unknown server)'
  const run = (bin: string, flag: string) => (args: string[], input?: string) =>
    $({ input, nothrow: true, quiet: true })`${bin} ${flag}=${context} ${args}`
  if (timingsEnabled()) timeCommands()
  return {
    context,
    server,
    kc,
    core: timedApi('core', kc.makeApiClient(CoreV1Api)),
    custom: timedApi('custom', kc.makeApiClient(CustomObjectsApi)),
    apiext: timedApi('apiext', kc.makeApiClient(ApiextensionsV1Api)),
    storage: timedApi('storage', kc.makeApiClient(StorageV1Api)),
    networking: timedApi('networking', kc.makeApiClient(NetworkingV1Api)),
    objects: timedApi('objects', KubernetesObjectApi.makeApiClient(kc)),
    kubectl: run('kubectl', '--context'),
    helm: run('helm', '--kube-context'),
  }
}

/** With --timings, each API call of the client becomes a span named for the method and its object. */
function timedApi<T extends object>(name: string, api: T): T {
  if (!timingsEnabled()) return api
  return new Proxy(api, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const start = performance.now()
        const result = value.apply(target, args)
        const label = `API ${name}.${String(property)}${describeRequest(args)}`
        if (result instanceof Promise) return result.finally(() => recordSpan(label, start))
        return result
      }
    },
  })
}

/** What a request is about: ` kind namespace/name` from its parameters, or its leading string arguments. */
function describeRequest(args: unknown[]): string {
  const params = args[0]
  if (typeof params === 'string') return ` ${args.filter((a) => typeof a === 'string' && a).join(' ')}`
  if (!params || typeof params !== 'object') return ''
  const p = params as { name?: unknown; namespace?: unknown; plural?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }
  const name = p.name ?? p.metadata?.name
  const namespace = p.namespace ?? p.metadata?.namespace
  const what = [p.kind ?? p.plural, [namespace, name].filter(Boolean).join('/')].filter(Boolean).join(' ')
  return what ? ` ${what}` : ''
}

let commandsTimed = false

/**
 * With --timings, every process zx spawns (kubectl, helm, here or in helm.ts) becomes a span: zx
 * reports each command's start and end through `$.log`, which otherwise only prints verbose output.
 */
function timeCommands(): void {
  if (commandsTimed) return
  commandsTimed = true
  const print = $.log
  const commands = new Map<string, string>()
  $.log = (entry) => {
    if (entry.kind === 'cmd') commands.set(entry.id, entry.cmd)
    if (entry.kind === 'end') {
      const cmd = commands.get(entry.id) ?? '?'
      commands.delete(entry.id)
      const end = performance.now()
      recordSpan(`$ ${cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd} (exit ${entry.exitCode})`, end - entry.duration, end)
    }
    print(entry)
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 404
}

// A server that answers but is not ready: starting up, or a CRD whose storage is still initializing.
const NOT_READY = /storage is \(re\)initializing|the server is currently unable|HTTP-Code: (429|503)/i

/**
 * Turns "the API server did not answer" into one actionable message, names an admission webhook
 * the API server could not call, and says when the context's user may not do something; other
 * errors pass through. Whether the API server answered is read
 * from the error itself (lib/base/errors.ts), never from words that its own answer may quote.
 */
export function explainClusterError(err: unknown, cluster: Pick<Cluster, 'context' | 'server'>): unknown {
  if (err instanceof UserError && err.exitCode !== EXIT.failed) return err
  const unreachable = apiServerUnreachable(err, cluster.server)
  if (unreachable !== undefined) {
    return new UserError(
      `cannot reach the API server of context ${cluster.context} (${cluster.server}): ${unreachable}. ` +
        `Is the cluster up? Check with \`kubectl --context ${cluster.context} get --raw /readyz\`, then rerun this step.`,
      EXIT.failed,
    )
  }
  const webhook = admissionWebhookFailure(err)
  if (webhook && !webhook.denied) {
    return new UserError(
      `the API server of context ${cluster.context} could not call the admission webhook "${webhook.webhook}"` +
        `${webhook.url ? ` at ${webhook.url}` : ''}: ${webhook.reason}. The API server answered; the webhook did not: ` +
        'check that the controller serving it is running, then rerun this step.',
      EXIT.failed,
    )
  }
  // the user of the context may not do this (an answer client-node carries; kubectl's says it itself)
  const status = apiStatusOf(err)
  if (status && (status.code === 401 || status.code === 403)) {
    return new UserError(
      `the API server of context ${cluster.context} refused the request (${status.code}${status.reason ? ` ${status.reason}` : ''}): ${status.message}. ` +
        `Rerun with a kubeconfig user that may do this in context ${cluster.context}.`,
      EXIT.failed,
    )
  }
  const text = errorText(err)
  if (NOT_READY.test(text) && !webhook) {
    return new UserError(
      `the API server of context ${cluster.context} (${cluster.server}) is not ready: ${firstLine(text)}. Wait a moment, then rerun this step.`,
      EXIT.failed,
    )
  }
  return err
}

/**
 * Retries an API read that the server refused for now (429 with Retry-After, 503), as kubectl
 * does: right after a CRD is created its storage answers "(re)initializing" for a moment.
 */
export async function retryTransient<T>(action: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action()
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if ((code !== 429 && code !== 503) || attempt >= attempts) throw err
      const headers = (err as { headers?: Record<string, string> }).headers ?? {}
      const seconds = Math.min(Number(headers['retry-after']) || 1, 5)
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    }
  }
}

/** Wraps an action so that every failure reads the same way, wherever it came from. */
export async function withCluster<T>(cluster: Cluster, action: () => Promise<T>): Promise<T> {
  try {
    return await action()
  } catch (err) {
    throw explainClusterError(err, cluster)
  }
}
