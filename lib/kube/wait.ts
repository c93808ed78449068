/**
 * Bounded waiting with visible progress. `watchUntil` follows API watches (no sleeping between
 * lists); `waitUntil` retries an action that has no state to watch (an admission webhook).
 */
import type { Cluster } from './cluster.ts'
import { type List, rawList, rawWatch } from './raw.ts'
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
  /** The collection's URL path, with its selectors (lib/kube/raw.ts apiPath): listed first, so the first verdict sees everything, then watched. */
  path: string
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
  const controllers: { abort(): void }[] = []
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
    const keyOf = (obj: any) => `${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name ?? ''}`
    const list = async (index: number): Promise<List> => {
      const listed: List = (await rawList(cluster, options.sources[index].path)) ?? { items: [] }
      state[index].clear()
      for (const item of listed.items) state[index].set(keyOf(item), item)
      return listed
    }
    const watch = async (index: number, listed: List) => {
      const source = options.sources[index]
      const controller = await rawWatch(
        cluster,
        source.path,
        listed.metadata?.resourceVersion,
        ({ type, object }) => {
          if (type === 'DELETED') state[index].delete(keyOf(object))
          else if (type === 'ADDED' || type === 'MODIFIED') state[index].set(keyOf(object), object)
          evaluate()
        },
        (err) => {
          if (settled) return
          if (err) return finish(err)
          // the server closes watches after a while (or the list is too old): list and watch again
          list(index).then((again) => watch(index, again)).catch(finish)
        },
      )
      if (settled) controller.abort()
      else controllers.push(controller)
    }
    // Everything listed first: when that already settles it (a converged cluster), no watch is opened.
    Promise.all(options.sources.map((_, i) => list(i))).then(async (lists) => {
      listed = true
      evaluate()
      if (!settled) await Promise.all(lists.map((l, i) => watch(i, l)))
    }).catch(finish)
  })
}
