/**
 * Bounded waiting with visible progress. `watchUntil` follows API watches (no sleeping between
 * lists); `waitUntil` retries an action that has no state to watch (an admission webhook).
 */
import { Watch } from '@kubernetes/client-node'
import type { Cluster } from './cluster.ts'
import type { Logger } from '../base/log.ts'

export type Verdict = { done: boolean; status: string }

const HEARTBEAT_SECONDS = 15

function progressReporter(log: Logger, what: string, timeoutSeconds: number) {
  const started = Date.now()
  let lastStatus = ''
  let lastPrinted = 0
  return {
    elapsed: () => (Date.now() - started) / 1000,
    report(status: string) {
      const now = Date.now()
      if (status !== lastStatus || now - lastPrinted >= HEARTBEAT_SECONDS * 1000) {
        const seconds = Math.round((now - started) / 1000)
        log.progress(`${what}: ${status} (${seconds}s of ${timeoutSeconds}s)`)
        lastStatus = status
        lastPrinted = now
      }
    },
  }
}

export async function waitUntil(options: {
  what: string
  timeoutSeconds: number
  pollSeconds: number
  log: Logger
  check: () => Promise<Verdict>
}): Promise<boolean> {
  const progress = progressReporter(options.log, options.what, options.timeoutSeconds)
  for (;;) {
    const verdict = await options.check()
    if (verdict.done) return true
    progress.report(verdict.status)
    if (progress.elapsed() + options.pollSeconds > options.timeoutSeconds) return false
    await new Promise((resolve) => setTimeout(resolve, options.pollSeconds * 1000))
  }
}

export type WatchSource = {
  path: string
  query?: Record<string, string>
  /** The same collection as a list: read first, so the first verdict sees everything (list, then watch). */
  list: () => Promise<{ items: any[]; metadata?: { resourceVersion?: string } }>
}
/** Live objects of each source, keyed by namespace/name. */
export type WatchState = Map<string, any>[]

/**
 * Watches every source and calls `evaluate` on each event (and every few seconds, for rules that
 * depend on elapsed time) until it says done or the timeout passes. Returns the last verdict.
 */
export async function watchUntil(
  cluster: Cluster,
  options: {
    what: string
    sources: WatchSource[]
    timeoutSeconds: number
    log: Logger
    evaluate: (state: WatchState, elapsedSeconds: number) => Verdict
    /** Gets a function that evaluates again now: for what `evaluate` reads besides the watches, once it arrives. */
    wake?: (evaluateNow: () => void) => void
  },
): Promise<Verdict> {
  const progress = progressReporter(options.log, options.what, options.timeoutSeconds)
  const state: WatchState = options.sources.map(() => new Map())
  const controllers: AbortController[] = []
  let settled = false
  return await new Promise<Verdict>((resolve, reject) => {
    let verdict: Verdict = { done: false, status: 'starting' }
    const finish = (error?: unknown) => {
      if (settled) return
      settled = true
      clearInterval(ticker)
      clearTimeout(deadline)
      for (const c of controllers) c.abort()
      if (error) reject(error)
      else resolve(verdict)
    }
    let listed = false
    const evaluate = () => {
      if (settled || !listed) return
      verdict = options.evaluate(state, progress.elapsed())
      if (verdict.done) return finish()
      progress.report(verdict.status)
    }
    const ticker = setInterval(evaluate, 5000)
    options.wake?.(evaluate)
    const deadline = setTimeout(() => finish(), options.timeoutSeconds * 1000)
    const watch = new Watch(cluster.kc)
    const keyOf = (obj: any) => `${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name ?? ''}`
    const start = async (index: number) => {
      const source = options.sources[index]
      const listed = await source.list()
      state[index].clear()
      for (const item of listed.items) state[index].set(keyOf(item), item)
      const controller = await watch.watch(
        source.path,
        { ...source.query, resourceVersion: listed.metadata?.resourceVersion, allowWatchBookmarks: false },
        (phase, obj) => {
          if (phase === 'DELETED') state[index].delete(keyOf(obj))
          else if (phase === 'ADDED' || phase === 'MODIFIED') state[index].set(keyOf(obj), obj)
          evaluate()
        },
        (err) => {
          if (settled) return
          if (err && (err as Error).name !== 'AbortError') return finish(err)
          start(index).catch(finish) // the server closes watches after a while: list and watch again
        },
      )
      if (settled) controller.abort()
      else controllers.push(controller)
    }
    Promise.all(options.sources.map((_, i) => start(i))).then(() => {
      listed = true
      evaluate()
    }, finish)
  })
}
