/**
 * The "changed?" decision for a helm release, as a pure function of what is deployed and what the
 * configuration renders: install or upgrade only when the chart or the values differ, so a rerun
 * creates no new revision.
 */
import { isDeepStrictEqual } from 'node:util'
import type { DeployedRelease } from './release.ts'

export type DesiredRelease = { chart: string; values: Record<string, unknown> }

export type HelmDecision =
  | { action: 'install'; reasons: string[] }
  | { action: 'upgrade'; reasons: string[] }
  | { action: 'unchanged'; reasons: string[] }
  | { action: 'recover'; reasons: string[] }

const PENDING = new Set(['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling'])

/** The "changed?" decision, from what helm reports and what the configuration renders. */
export function decideHelmAction(current: DeployedRelease | undefined, desired: DesiredRelease): HelmDecision {
  if (current === undefined) return { action: 'install', reasons: ['no release yet'] }
  if (PENDING.has(current.status)) {
    return {
      action: 'recover',
      reasons: [`revision ${current.revision} is stuck in ${current.status} (an interrupted helm run)`],
    }
  }
  const reasons: string[] = []
  if (current.status !== 'deployed') reasons.push(`last revision ${current.revision} is ${current.status}`)
  if (current.chart !== desired.chart) reasons.push(`chart ${current.chart} -> ${desired.chart}`)
  const changedKeys = differingPaths(normalize(current.values), normalize(desired.values))
  if (changedKeys.length > 0) reasons.push(`values differ at ${changedKeys.slice(0, 8).join(', ')}${changedKeys.length > 8 ? ', ...' : ''}`)
  return reasons.length === 0 ? { action: 'unchanged', reasons: [] } : { action: 'upgrade', reasons }
}

/** Values as helm stores them: a JSON round trip, so numbers and key order compare equal. */
export function normalize(values: unknown): unknown {
  return JSON.parse(JSON.stringify(values ?? {}))
}

export function differingPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isDeepStrictEqual(a, b)) return []
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort()
    return keys.flatMap((k) =>
      differingPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k),
    )
  }
  return [prefix || '(root)']
}

// --- A release left pending: whose it is, and whether to repair it now.

/** How long a pending revision nobody accounts for is left alone before it is taken for an interrupted run. */
export const PENDING_GRACE_SECONDS = 600

/**
 * What the kit's own run notes on its lease (lib/kube/lease.ts) before it runs helm: the revision
 * helm is about to write and the status it has while helm works. A run killed half-way leaves the
 * note behind, and the next run knows the pending revision is the kit's own.
 */
export type HelmOperation = {
  release: string
  namespace: string
  revision: number
  /** pending-install, pending-upgrade, pending-rollback or uninstalling */
  status: string
  /** The lease holder that ran it: `<what> pid <N> on <host>`. */
  holder: string
  /** When the kit started helm (ISO time, this machine's clock, as helm's own record). */
  started: string
  /** helm's own process, once started. */
  helmPid?: number
}

export const HELM_OPERATION_NOTE = 'homelab-ingress/helm-operation'

export function parseHelmOperation(text: string | undefined): HelmOperation | undefined {
  if (!text) return undefined
  try {
    const op = JSON.parse(text) as Partial<HelmOperation>
    const ok = typeof op.release === 'string' && typeof op.namespace === 'string' && Number.isInteger(op.revision) && typeof op.status === 'string'
    return ok && typeof op.holder === 'string' && typeof op.started === 'string' ? (op as HelmOperation) : undefined
  } catch {
    return undefined
  }
}

/**
 * How a pending release is repaired, and the revision that writes. A rollback to the previous
 * revision diffs from the stuck revision's manifest, so it undoes what the interrupted run had
 * half-applied (deleting the stuck record would not: helm's three-way merge would never remove what
 * it had added). With no previous revision (pending-install) the release is uninstalled.
 */
export function recoveryFor(release: Pick<DeployedRelease, 'revision' | 'status'>): {
  action: 'rollback' | 'uninstall'
  to?: number
  writes: { revision: number; status: string }
} {
  if (release.revision > 1 && release.status !== 'uninstalling') {
    return { action: 'rollback', to: release.revision - 1, writes: { revision: release.revision + 1, status: 'pending-rollback' } }
  }
  return { action: 'uninstall', writes: { revision: release.revision, status: 'uninstalling' } }
}

/** helm writes its pending record within seconds of starting; a record outside this window is someone else's. */
const WRITE_WINDOW_MS = { before: 5_000, after: 300_000 }

/**
 * Whether `operation` wrote the release's pending revision: the same release, revision and status,
 * written (helm's own time of it) just after the kit started helm.
 */
export function operationWrote(operation: HelmOperation | undefined, release: DeployedRelease, namespace: string, name: string): boolean {
  if (!operation || operation.release !== name || operation.namespace !== namespace) return false
  if (operation.revision !== release.revision || operation.status !== release.status) return false
  const written = Date.parse((release.status === 'uninstalling' ? release.deleted : undefined) ?? release.lastDeployed ?? '')
  const started = Date.parse(operation.started)
  return Number.isFinite(written) && Number.isFinite(started) && written >= started - WRITE_WINDOW_MS.before && written <= started + WRITE_WINDOW_MS.after
}

export type PendingVerdict = { repair: true; reason: string } | { repair: false; message: string; hints: string[] }

/**
 * A pending revision is repaired at once when the kit's own run wrote it and that run is gone
 * (`writer`: its process is no longer running on this machine, or its lease expired). One the kit
 * cannot account for may be someone's helm run still at work (`helm upgrade --wait` waits up to 5
 * minutes by default): it is left alone for PENDING_GRACE_SECONDS, unless --force.
 */
export function judgePendingRelease(
  release: DeployedRelease,
  where: { namespace: string; name: string },
  facts: { now: Date; force: boolean; operation?: HelmOperation; writer?: { gone: boolean; why: string } },
): PendingVerdict {
  const { name } = where
  const what = `release ${name} revision ${release.revision} (${release.status})`
  if (facts.force) return { repair: true, reason: `repairing ${what} (--force)` }
  const since = Date.parse((release.status === 'uninstalling' ? release.deleted : undefined) ?? release.lastDeployed ?? '')
  const age = Number.isFinite(since) ? Math.max(0, Math.round((facts.now.getTime() - since) / 1000)) : undefined
  if (operationWrote(facts.operation, release, where.namespace, name)) {
    const op = facts.operation!
    if (facts.writer?.gone) return { repair: true, reason: `${what} was left by ${op.holder}, which is gone (${facts.writer.why}): repairing it now` }
    return {
      repair: false,
      message: `${what} is being written by ${op.holder}, which is not gone: ${facts.writer?.why ?? 'unknown'}; nothing was changed`,
      hints: ['let that run finish (or stop it), then rerun', 'if you know it is dead, rerun with --force to repair the release now'],
    }
  }
  if (age === undefined || age >= PENDING_GRACE_SECONDS) {
    return { repair: true, reason: `${what} is ${age === undefined ? 'of unknown age' : `${formatAge(age)} old`}: taken for an interrupted run` }
  }
  return {
    repair: false,
    message: `release ${name} revision ${release.revision} has been ${release.status} for ${formatAge(age)} only: another helm operation may still be running on it (no homelab-ingress run wrote it); nothing was changed`,
    hints: [
      `wait for it to finish and rerun; after ${formatAge(PENDING_GRACE_SECONDS)} 02 takes it for an interrupted run and repairs it`,
      'if you know it was interrupted (Ctrl-C, a lost connection), rerun with --force to repair it now',
    ],
  }
}

export function formatAge(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`
}
