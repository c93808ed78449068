/**
 * What the cluster says around a pod that is not Ready, read only when one is not: the nodes, the
 * StorageClasses, the PersistentVolumes' names and the last lines of a crashing container's log.
 * The judgement is lib/verify/pod-trouble.ts.
 */
import { type Cluster, retryTransient } from './cluster.ts'
import { apiStatusOf, errorText, firstLine } from '../base/errors.ts'

export type ContainerLog = { lines: string[] } | { unavailable: string }

/** Nodes, StorageClasses and PersistentVolume names; a list the user may not read stays undefined. */
export async function readSchedulingFacts(cluster: Cluster): Promise<{ nodes?: any[]; storageClasses?: any[]; persistentVolumes?: string[] }> {
  const allowed = <T>(read: () => Promise<T>) => retryTransient(read).catch((err) => (isForbidden(err) ? undefined : Promise.reject(err)))
  const [nodes, classes, volumes] = await Promise.all([
    allowed(() => cluster.core.listNode()),
    allowed(() => cluster.storage.listStorageClass()),
    allowed(() => cluster.core.listPersistentVolume()),
  ])
  return {
    nodes: nodes?.items as any[] | undefined,
    storageClasses: classes?.items as any[] | undefined,
    persistentVolumes: volumes?.items.map((v) => v.metadata?.name ?? ''),
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
    const text = await retryTransient(() =>
      cluster.core.readNamespacedPodLog({ name: pod, namespace, container, previous: options.previous, tailLines: options.lines }),
    )
    return { lines: String(text ?? '').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1) }
  } catch (err) {
    const status = apiStatusOf(err)
    const why = status ? `${status.code}${status.reason ? ` ${status.reason}` : ''}: ${status.message}` : firstLine(errorText(err))
    return { unavailable: `the API server answered ${why.length > 240 ? `${why.slice(0, 237)}...` : why}` }
  }
}
