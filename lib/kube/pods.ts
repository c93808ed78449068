/**
 * What the cluster says around a pod that is not Ready, read only when one is not: the nodes, the
 * StorageClasses, the PersistentVolumes' names and the last lines of a crashing container's log.
 * The judgement is lib/verify/pod-trouble.ts.
 */
import { type Cluster, retryTransient } from './cluster.ts'
import { apiPath, rawList } from './raw.ts'
import { apiStatusOf, errorText, firstLine } from '../base/errors.ts'

export type ContainerLog = { lines: string[] } | { unavailable: string }

/** Nodes, StorageClasses and PersistentVolume names; a list the user may not read stays undefined. */
export async function readSchedulingFacts(cluster: Cluster): Promise<{ nodes?: any[]; storageClasses?: any[]; persistentVolumes?: string[] }> {
  const allowed = <T>(read: () => Promise<T>) => retryTransient(read).catch((err) => (isForbidden(err) ? undefined : Promise.reject(err)))
  // (a list the API does not serve, 404, has nothing in it)
  const list = (path: string) => allowed(() => rawList(cluster, path).then((l) => l ?? { items: [] }))
  const [nodes, classes, volumes] = await Promise.all([
    list(apiPath('v1', 'nodes')),
    list(apiPath('storage.k8s.io/v1', 'storageclasses')),
    list(apiPath('v1', 'persistentvolumes')),
  ])
  return {
    nodes: nodes?.items,
    storageClasses: classes?.items,
    persistentVolumes: volumes?.items.map((v: { metadata?: { name?: string } }) => v.metadata?.name ?? ''),
  }
}

const isForbidden = (err: unknown) => (err as { code?: number })?.code === 403

/**
 * The last `lines` lines of one container's log (`previous`: of the instance before the current
 * one, the one that crashed). The kubelet serves logs; where it cannot (a node with no kubelet,
 * logs rotated away, a container that never started) the answer says why, in the API's words.
 */
export async function readContainerLog(
  cluster: Cluster,
  namespace: string,
  pod: string,
  container: string,
  options: { previous: boolean; lines: number },
): Promise<ContainerLog> {
  try {
    const path = apiPath('v1', 'pods', { namespace, name: pod })
    const query = new URLSearchParams({ container, previous: String(options.previous), tailLines: String(options.lines) })
    const text = await retryTransient(() => cluster.transport.request('GET', `${path}/log?${query}`, { accept: '*/*', text: true }))
    return { lines: String(text ?? '').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1) }
  } catch (err) {
    const status = apiStatusOf(err)
    const why = status ? `${status.code}${status.reason ? ` ${status.reason}` : ''}: ${status.message}` : firstLine(errorText(err))
    return { unavailable: `the API server answered ${why.length > 240 ? `${why.slice(0, 237)}...` : why}` }
  }
}
