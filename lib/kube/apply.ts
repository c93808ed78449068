/**
 * Server-side apply under one field manager, through the API. For each object, at once: the live
 * object and a server-side dry run of the apply (the same merge, through the same admission
 * webhooks). Equal, the object is unchanged and nothing is sent; otherwise the apply itself follows,
 * and the resourceVersion before and after says what happened. A converged object costs two
 * requests in one round trip; a changed one three.
 */
import { isDeepStrictEqual } from 'node:util'
import { type Cluster, retryTransient } from './cluster.ts'
import { objectPath, rawRead, rawRequest, type ObjectRef } from './raw.ts'
import { FIELD_MANAGER, type Manifest } from '../base/objects.ts'
import { unifiedDiff } from '../base/diff.ts'
import { allInOrder } from '../base/parallel.ts'

export type Action = 'created' | 'changed' | 'unchanged' | 'deleted'
export type Change = { ref: string; action: Action }
export type ApplyResult = { changes: Change[]; diff: string }

/** What applying one object would do: the object, what the cluster holds, and what it would hold after. */
export type PlannedApply = { object: Manifest; live: any | undefined; merged: any; changes: boolean }

export function refOf(o: Pick<Manifest, 'kind' | 'metadata'>): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`
}

const refTo = (o: Manifest): ObjectRef => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace })

const applyPath = async (cluster: Cluster, o: Manifest, fieldManager: string, dryRun: boolean) =>
  `${await objectPath(cluster, refTo(o))}?fieldManager=${encodeURIComponent(fieldManager)}&force=true${dryRun ? '&dryRun=All' : ''}`

/** One server-side apply (or its dry run) of one object; the object as the server holds it (or would). */
export async function serverSideApply(cluster: Cluster, o: Manifest, options: { fieldManager?: string; dryRun?: boolean; signal?: AbortSignal } = {}): Promise<any> {
  const path = await applyPath(cluster, o, options.fieldManager ?? FIELD_MANAGER, options.dryRun === true)
  const applied = await retryTransient(() => rawRequest(cluster, 'PATCH', path, { text: JSON.stringify(o), contentType: 'application/apply-patch+yaml' }, options.signal))
  // 404: no such resource at all (a CRD not installed), or the object's namespace is missing.
  if (applied === undefined) throw new Error(`cannot apply ${refOf(o)}: the API server has no ${o.kind} in ${o.apiVersion}${o.metadata.namespace ? ` in namespace ${o.metadata.namespace}` : ''} (is its CRD installed, does the namespace exist?)`)
  return applied
}

/**
 * What a server-side apply of each object would change, asked through the API alone (a read and
 * a dry run per object, all at once). A failure is reported for the first object that failed, in
 * manifest order, so the same problem always reads the same (the pools' webhook before the
 * advertisement's).
 */
export async function planApply(cluster: Cluster, objects: Manifest[], signal?: AbortSignal, read?: (o: Manifest) => any | undefined): Promise<PlannedApply[]> {
  return allInOrder(
    objects.map(async (object): Promise<PlannedApply> => {
      // A dry run of an object that does not exist yet is a create, through the same admission path.
      // The live object is read with it, unless the caller has just read it (`read`).
      const [live, merged] = await Promise.all([
        read ? read(object) : retryTransient(() => rawRead(cluster, refTo(object), signal)),
        serverSideApply(cluster, object, { dryRun: true, signal }),
      ])
      return { object, live, merged, changes: live === undefined || !isDeepStrictEqual(withoutBookkeeping(merged), withoutBookkeeping(live)) }
    }),
  )
}

/**
 * Who wrote which field, and when, is not content; nor is the status, which controllers write
 * (MetalLB's pool counters) between the read and the dry run.
 */
function withoutBookkeeping(o: any): any {
  const { managedFields, resourceVersion, ...metadata } = o?.metadata ?? {}
  const { status, ...rest } = o ?? {}
  return { ...rest, metadata }
}

/**
 * Makes the cluster match `objects` (a plan made just before may be passed in). With dryRun, only
 * reports what would change. Returns one Change per object, and for a dry run the pending changes
 * as a unified diff of each object as the cluster holds it and as it would hold it.
 */
export async function applyManifests(cluster: Cluster, objects: Manifest[], dryRun: boolean, planned?: PlannedApply[]): Promise<ApplyResult> {
  const plan = planned ?? (await planApply(cluster, objects))
  const pending = plan.filter((p) => p.changes)
  if (dryRun) {
    const changes = plan.map((p): Change => ({ ref: refOf(p.object), action: !p.changes ? 'unchanged' : p.live ? 'changed' : 'created' }))
    return { changes, diff: await pendingDiff(pending) }
  }
  const applied = new Map<PlannedApply, any>()
  // In manifest order: an object may need the one before it (a namespace, the pools of an advertisement).
  for (const p of pending) applied.set(p, await serverSideApply(cluster, p.object))
  const changes = plan.map((p): Change => {
    if (!p.changes) return { ref: refOf(p.object), action: 'unchanged' }
    if (!p.live) return { ref: refOf(p.object), action: 'created' }
    const after = applied.get(p)?.metadata?.resourceVersion
    return { ref: refOf(p.object), action: after === p.live.metadata?.resourceVersion ? 'unchanged' : 'changed' }
  })
  return { changes, diff: '' }
}

/** Each changing object as the cluster holds it and as the apply would leave it, as kubectl diff shows it. */
async function pendingDiff(pending: PlannedApply[]): Promise<string> {
  if (pending.length === 0) return ''
  const YAML = (await import('yaml')).default
  const text = (o: any) => (o === undefined ? '' : YAML.stringify(withoutBookkeeping(o), { lineWidth: 0 }))
  const parts = await Promise.all(
    pending.map((p) => {
      const [group, version] = p.object.apiVersion.includes('/') ? p.object.apiVersion.split('/') : ['', p.object.apiVersion]
      const name = [group, version, p.object.kind, p.object.metadata.namespace, p.object.metadata.name].filter(Boolean).join('.')
      return unifiedDiff(`LIVE/${name}`, `MERGED/${name}`, text(p.live), text(p.merged))
    }),
  )
  return parts.join('')
}

export function summarize(changes: Change[], dryRun = false): string {
  const order: Action[] = ['created', 'changed', 'deleted', 'unchanged']
  const counts = order
    .map((action) => [action, changes.filter((c) => c.action === action).length] as const)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => `${n} ${dryRun && action !== 'unchanged' ? `would be ${action}` : action}`)
  return counts.length ? counts.join(', ') : 'nothing to do'
}
