/**
 * API objects as plain JSON, exactly as the server sends them, through the one transport of the
 * cluster (lib/kube/transport.ts): read, list, watch, write and delete, by URL path or by object.
 * An object's path comes from a table of the built-in kinds the kit meets, else from API discovery
 * (one request per group version, once per run).
 */
import type { Cluster } from './cluster.ts'
import type { WatchEvent } from './transport.ts'

export type ObjectRef = { apiVersion: string; kind: string; name: string; namespace?: string }
export type List = { items: any[]; metadata?: { resourceVersion?: string } }

/** `/api/v1/...` or `/apis/<group>/<version>/...`, with the namespace, the name and the query, each encoded. */
export function apiPath(apiVersion: string, plural: string, where: { namespace?: string; name?: string; query?: Record<string, string | undefined> } = {}): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
  const scope = where.namespace ? `/namespaces/${encodeURIComponent(where.namespace)}` : ''
  const name = where.name ? `/${encodeURIComponent(where.name)}` : ''
  const query = Object.entries(where.query ?? {}).filter(([, v]) => v !== undefined && v !== '')
  return `${base}${scope}/${plural}${name}${query.length ? `?${new URLSearchParams(query as [string, string][])}` : ''}`
}

/** GET `path` on the API server; undefined on 404, an error carrying `code` on any other failure. */
export function rawGet(cluster: Cluster, path: string, signal?: AbortSignal): Promise<any | undefined> {
  return cluster.transport.request('GET', path, { signal })
}

/** A list; undefined when the server does not serve it (404: a CRD not installed). */
export function rawList(cluster: Cluster, path: string): Promise<List | undefined> {
  return cluster.transport.request('GET', path)
}

/** One request with a JSON answer; undefined on 404, an error carrying `code` on any other failure. */
export function rawRequest(
  cluster: Cluster,
  method: string,
  path: string,
  body?: { text: string; contentType: string },
  signal?: AbortSignal,
): Promise<any | undefined> {
  return cluster.transport.request(method, path, { body, signal })
}

/** Watches `path` from `resourceVersion` (list first): events until the server ends the watch or `abort()`. */
export function rawWatch(
  cluster: Cluster,
  path: string,
  resourceVersion: string | undefined,
  onEvent: (event: WatchEvent) => void,
  onEnd: (err?: unknown) => void,
): Promise<{ abort(): void }> {
  const query = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'false', ...(resourceVersion ? { resourceVersion } : {}) })
  return cluster.transport.watch(`${path}${path.includes('?') ? '&' : '?'}${query}`, onEvent, onEnd)
}

type Resource = { name: string; namespaced: boolean; kind: string }

// Kinds the kit reads, writes or finds in the Traefik chart's manifest: their paths need no discovery.
// The custom ones (MetalLB's, Traefik's) are checked for before any write (01 and 03 read their CRDs;
// a server-side apply that finds no such resource fails, lib/kube/apply.ts).
const KNOWN: Record<string, Record<string, [plural: string, namespaced: boolean]>> = {
  v1: {
    ConfigMap: ['configmaps', true],
    Endpoints: ['endpoints', true],
    Event: ['events', true],
    Namespace: ['namespaces', false],
    PersistentVolumeClaim: ['persistentvolumeclaims', true],
    Pod: ['pods', true],
    Secret: ['secrets', true],
    Service: ['services', true],
    ServiceAccount: ['serviceaccounts', true],
  },
  'apps/v1': { DaemonSet: ['daemonsets', true], Deployment: ['deployments', true], ReplicaSet: ['replicasets', true], StatefulSet: ['statefulsets', true] },
  'rbac.authorization.k8s.io/v1': {
    ClusterRole: ['clusterroles', false],
    ClusterRoleBinding: ['clusterrolebindings', false],
    Role: ['roles', true],
    RoleBinding: ['rolebindings', true],
  },
  'networking.k8s.io/v1': { Ingress: ['ingresses', true], IngressClass: ['ingressclasses', false], NetworkPolicy: ['networkpolicies', true] },
  'policy/v1': { PodDisruptionBudget: ['poddisruptionbudgets', true] },
  'storage.k8s.io/v1': { StorageClass: ['storageclasses', false] },
  'apiextensions.k8s.io/v1': { CustomResourceDefinition: ['customresourcedefinitions', false] },
  'coordination.k8s.io/v1': { Lease: ['leases', true] },
  'admissionregistration.k8s.io/v1': {
    ValidatingAdmissionPolicy: ['validatingadmissionpolicies', false],
    ValidatingAdmissionPolicyBinding: ['validatingadmissionpolicybindings', false],
  },
  'autoscaling/v2': { HorizontalPodAutoscaler: ['horizontalpodautoscalers', true] },
  'metallb.io/v1beta1': { IPAddressPool: ['ipaddresspools', true], L2Advertisement: ['l2advertisements', true] },
  'traefik.io/v1alpha1': {
    IngressRoute: ['ingressroutes', true],
    IngressRouteTCP: ['ingressroutetcps', true],
    IngressRouteUDP: ['ingressrouteudps', true],
    Middleware: ['middlewares', true],
    MiddlewareTCP: ['middlewaretcps', true],
    ServersTransport: ['serverstransports', true],
    ServersTransportTCP: ['serverstransporttcps', true],
    TLSOption: ['tlsoptions', true],
    TLSStore: ['tlsstores', true],
    TraefikService: ['traefikservices', true],
  },
}

const discovery = new WeakMap<Cluster, Map<string, Promise<Resource[]>>>()

async function resources(cluster: Cluster, apiVersion: string): Promise<Resource[]> {
  let cache = discovery.get(cluster)
  if (!cache) discovery.set(cluster, (cache = new Map()))
  let list = cache.get(apiVersion)
  if (!list) {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
    list = rawGet(cluster, path).then((r) => (r?.resources ?? []) as Resource[])
    cache.set(apiVersion, list)
  }
  return list
}

/** The object's URL path: its plural and whether it is namespaced, from the table or from API discovery. */
export async function objectPath(cluster: Cluster, o: ObjectRef): Promise<string> {
  const known = KNOWN[o.apiVersion]?.[o.kind]
  const resource = known
    ? { name: known[0], namespaced: known[1] }
    : (await resources(cluster, o.apiVersion)).find((r) => r.kind === o.kind && !r.name.includes('/'))
  if (!resource) throw new Error(`the API server does not serve ${o.kind} in ${o.apiVersion}`)
  return apiPath(o.apiVersion, resource.name, { namespace: resource.namespaced ? (o.namespace ?? 'default') : undefined, name: o.name })
}

/** One object as raw JSON, or undefined when it does not exist. */
export async function rawRead(cluster: Cluster, o: ObjectRef, signal?: AbortSignal): Promise<any | undefined> {
  return rawGet(cluster, await objectPath(cluster, o), signal)
}

/** Deletes an object; undefined when it was not there. */
export async function rawDelete(cluster: Cluster, o: ObjectRef): Promise<any | undefined> {
  return rawRequest(cluster, 'DELETE', await objectPath(cluster, o))
}
