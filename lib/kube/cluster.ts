/**
 * Reaching the cluster: the configured context only, pinned explicitly on every API request and
 * helm call, so a `kubectl config use-context` in another terminal cannot redirect a run half-way.
 * Two ways in, and no more: the API (lib/kube/transport.ts, lib/kube/raw.ts) for every read and
 * write, helm for what only helm does (its releases).
 */
import type { ProcessOutput } from 'zx'
import type { Config } from '../config/config.ts'
import { admissionWebhookFailure, apiServerNotReady, apiServerUnreachable, apiStatusOf, EXIT, UserError } from '../base/errors.ts'
import { recordSpan, timingsEnabled } from '../base/timings.ts'
import { loadKubeconfig } from './kubeconfig.ts'
import { makeTransport, type Transport } from './transport.ts'

export type Cluster = {
  context: string
  server: string
  /** The API server, as the kubeconfig's context reaches it. */
  transport: Transport
  /**
   * helm with --kube-context; never throws, the caller reads exitCode. `onStart` gets helm's process
   * id as soon as it runs.
   */
  helm(args: string[], input?: string, onStart?: (pid: number) => void): Promise<ProcessOutput>
}

/**
 * Refuses any context but KUBE_CONTEXT. The current context must be KUBE_CONTEXT, unless
 * `--context KUBE_CONTEXT` says explicitly to use it anyway.
 */
function chooseContext(
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
  let kubeconfig: ReturnType<typeof loadKubeconfig>
  let connection: ReturnType<ReturnType<typeof loadKubeconfig>['connection']> | undefined
  try {
    kubeconfig = loadKubeconfig()
  } catch (err) {
    throw new UserError(`cannot read your kubeconfig: ${(err as Error).message}`, EXIT.config)
  }
  const context = chooseContext(config, kubeconfig.contexts, kubeconfig.currentContext, contextFlag)
  try {
    connection = kubeconfig.connection(context)
  } catch (err) {
    throw new UserError(`cannot use context ${context} of your kubeconfig: ${(err as Error).message}`, EXIT.config)
  }
  return {
    context,
    server: connection.server,
    transport: makeTransport(connection),
    helm: async (args, input, onStart) => {
      // zx loads only when helm runs: a no-op run starts no process.
      const { $ } = await import('zx')
      if (timingsEnabled()) timeCommands($)
      const running = $({ input, nothrow: true, quiet: true })`helm --kube-context=${context} ${args}`
      if (onStart && running.pid !== undefined) onStart(running.pid)
      return running
    },
  }
}

let commandsTimed = false

/**
 * With --timings, every process zx spawns (helm, here or in helm.ts) becomes a span: zx reports
 * each command's start and end through `$.log`, which otherwise only prints verbose output.
 */
export function timeCommands($: typeof import('zx').$): void {
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
  // the user of the context may not do this (the API's answer; helm's says it itself), unless it is
  // an admission webhook saying no (MetalLB's answers 403 too)
  const status = apiStatusOf(err)
  if (status && (status.code === 401 || status.code === 403) && !webhook) {
    return new UserError(
      `the API server of context ${cluster.context} refused the request (${status.code}${status.reason ? ` ${status.reason}` : ''}): ${status.message}. ` +
        `Rerun with a kubeconfig user that may do this in context ${cluster.context}.`,
      EXIT.failed,
    )
  }
  const notReady = apiServerNotReady(err)
  if (notReady !== undefined) {
    return new UserError(
      `the API server of context ${cluster.context} (${cluster.server}) is not ready: ${notReady}. Wait a moment, then rerun this step.`,
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
