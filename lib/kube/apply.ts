/**
 * Server-side apply under one field manager. A server-side dry run through the API decides whether
 * anything would change; only then do `kubectl diff --server-side` (the diff shown) and
 * `kubectl apply --server-side` run, so a converged object is not even re-sent. Each object's resourceVersion before and after says what happened to it.
 */
import { isDeepStrictEqual } from 'node:util'
import { type Cluster, isNotFound, retryTransient } from './cluster.ts'
import { commandFailed } from '../base/errors.ts'
import { objectPath, rawRead, rawRequest } from './raw.ts'
import { FIELD_MANAGER, toYamlDocuments, type Manifest } from '../base/objects.ts'

export type Action = 'created' | 'changed' | 'unchanged' | 'deleted'
export type Change = { ref: string; action: Action }
export type ApplyResult = { changes: Change[]; diff: string }

export function refOf(o: Pick<Manifest, 'kind' | 'metadata'>): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`
}

async function resourceVersionOf(cluster: Cluster, o: Manifest): Promise<string | undefined> {
  try {
    const live = await cluster.objects.read({
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
    })
    return live.metadata?.resourceVersion
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/** Pending changes as kubectl shows them; empty when the cluster already matches. */
export async function serverSideDiff(cluster: Cluster, objects: Manifest[]): Promise<string> {
  if (objects.length === 0) return ''
  const out = await cluster.kubectl(
    ['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'],
    toYamlDocuments(objects),
  )
  // kubectl diff: 0 no differences, 1 differences, >1 error.
  if (out.exitCode === 0) return ''
  if (out.exitCode === 1 && out.stderr.trim() === '') return out.stdout
  throw commandFailed('kubectl diff --server-side', out)
}

/**
 * Which objects a server-side apply would change, asked through the API alone: a server-side dry
 * run of each (the same merge `kubectl apply --server-side` does) compared with the live object.
 * A converged run so costs two requests per object and no kubectl process.
 */
export async function objectsThatWouldChange(cluster: Cluster, objects: Manifest[], signal?: AbortSignal): Promise<Manifest[]> {
  // All at once, but a failure is reported for the first object that failed, in manifest order, so
  // the same problem always reads the same (the pools' webhook before the advertisement's).
  const settled = await Promise.allSettled(
    objects.map(async (o) => {
      const ref = { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }
      // A dry run of an object that does not exist yet is a create, through the same admission path.
      const live = await retryTransient(() => rawRead(cluster, ref, signal))
      const path = `${await objectPath(cluster, ref)}?fieldManager=${FIELD_MANAGER}&force=true&dryRun=All`
      const merged = await retryTransient(() =>
        rawRequest(cluster, 'PATCH', path, { text: JSON.stringify(o), contentType: 'application/apply-patch+yaml' }, signal),
      )
      if (live === undefined) return true
      return !isDeepStrictEqual(withoutBookkeeping(merged), withoutBookkeeping(live))
    }),
  )
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  return objects.filter((_, i) => (settled[i] as PromiseFulfilledResult<boolean>).value)
}

/**
 * Who wrote which field, and when, is not content; nor is the status, which controllers write
 * (MetalLB's pool counters) between the read and the dry run.
 */
function withoutBookkeeping(o: any): unknown {
  const { managedFields, resourceVersion, ...metadata } = o?.metadata ?? {}
  const { status, ...rest } = o ?? {}
  return { ...rest, metadata }
}

/**
 * Makes the cluster match `objects`. With dryRun, only reports what would change.
 * Returns one Change per object and the diff that was (or would be) applied.
 */
export async function applyManifests(cluster: Cluster, objects: Manifest[], dryRun: boolean): Promise<ApplyResult> {
  if ((await objectsThatWouldChange(cluster, objects)).length === 0) {
    return { changes: objects.map((o) => ({ ref: refOf(o), action: 'unchanged' })), diff: '' }
  }
  const diff = await serverSideDiff(cluster, objects)
  if (diff === '') {
    return { changes: objects.map((o) => ({ ref: refOf(o), action: 'unchanged' })), diff }
  }
  const before = await Promise.all(objects.map((o) => resourceVersionOf(cluster, o)))
  if (dryRun) {
    const changes = objects.map((o, i): Change => {
      if (before[i] === undefined) return { ref: refOf(o), action: 'created' }
      return { ref: refOf(o), action: diffMentions(diff, o) ? 'changed' : 'unchanged' }
    })
    return { changes, diff }
  }
  const out = await cluster.kubectl(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-o', 'json', '-f', '-'],
    toYamlDocuments(objects),
  )
  if (out.exitCode !== 0) throw commandFailed('kubectl apply --server-side', out)
  const applied = JSON.parse(out.stdout)
  const items: Manifest[] = applied.kind === 'List' ? applied.items : [applied]
  const changes = objects.map((o, i): Change => {
    const after = items.find((a) => a.kind === o.kind && a.metadata.name === o.metadata.name && a.metadata.namespace === o.metadata.namespace)
    const rv = (after?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion
    if (before[i] === undefined) return { ref: refOf(o), action: 'created' }
    return { ref: refOf(o), action: rv === before[i] ? 'unchanged' : 'changed' }
  })
  return { changes, diff }
}

/** kubectl diff names each object's files `<group>.<version>.<Kind>.<namespace>.<name>`. */
function diffMentions(diff: string, o: Manifest): boolean {
  const suffix = `.${o.kind}.${o.metadata.namespace ? `${o.metadata.namespace}.` : ''}${o.metadata.name}`
  return diff.split('\n').some((line) => line.startsWith('diff ') && line.includes(suffix + ' '))
}

export function summarize(changes: Change[], dryRun = false): string {
  const order: Action[] = ['created', 'changed', 'deleted', 'unchanged']
  const counts = order
    .map((action) => [action, changes.filter((c) => c.action === action).length] as const)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => `${n} ${dryRun && action !== 'unchanged' ? `would be ${action}` : action}`)
  return counts.length ? counts.join(', ') : 'nothing to do'
}
