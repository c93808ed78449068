/** Comparing what the kit wants with what the API server holds. */

/**
 * True when every field `want` sets is in `have` with the same value. The API server adds defaults
 * and status, so equality is too strict; arrays must match item by item (order matters to Kubernetes
 * for args and ports), with each item compared the same way.
 */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === null || want === undefined) return true
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((item, i) => isSubset(item, have[i]))
  }
  if (typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return false
    return Object.entries(want as Record<string, unknown>).every(([k, v]) => isSubset(v, (have as Record<string, unknown>)[k]))
  }
  // Quantities and ports may come back as numbers or strings ("128Mi" stays, 80 vs "80" does not).
  return want === have || String(want) === String(have)
}
