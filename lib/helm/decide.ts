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
