/** Kubernetes objects as the kit writes them, and comparing what the kit wants with what the API server holds. */
import YAML from 'yaml'

/** The field manager of every server-side apply the kit makes. */
export const FIELD_MANAGER = 'homelab-ingress'

export type Manifest = {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown }
  [k: string]: unknown
}

export function toYamlDocuments(objects: object[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join('---\n')
}

// The API server drops empty and zero values (Go's omitempty): `minReadySeconds: 0` comes back absent.
const isEmpty = (v: unknown) =>
  v === null ||
  v === undefined ||
  v === 0 ||
  v === false ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)

/**
 * The first place where `have` lacks something `want` sets, as a dotted path, or undefined when
 * every field `want` sets is in `have` with the same value. The API server adds defaults and status,
 * so equality is too strict. Arrays must match item by item (order matters to Kubernetes for args
 * and ports); an empty or zero value in `want` matches an absent field (the server drops them).
 */
export function subsetDifference(want: unknown, have: unknown, path = ''): string | undefined {
  if (isEmpty(want) && (have === undefined || isEmpty(have))) return undefined
  if (want === null || want === undefined) return undefined
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || want.length !== have.length) return path || '(root)'
    for (const [i, item] of want.entries()) {
      const d = subsetDifference(item, have[i], `${path}[${i}]`)
      if (d) return d
    }
    return undefined
  }
  if (typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return path || '(root)'
    for (const [k, v] of Object.entries(want as Record<string, unknown>)) {
      const d = subsetDifference(v, (have as Record<string, unknown>)[k], path ? `${path}.${k}` : k)
      if (d) return d
    }
    return undefined
  }
  // Ports and quantities may come back as numbers or strings.
  return want === have || String(want) === String(have) ? undefined : path || '(root)'
}
