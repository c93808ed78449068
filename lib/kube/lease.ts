/**
 * One kit run at a time per Traefik namespace: every step that writes holds a Kubernetes Lease
 * (coordination.k8s.io/v1) named `homelab-ingress` for the length of its run, renews it while it
 * runs, and releases it at the end. Another run waits (bounded by --timeout, with progress) or says
 * who holds it; an expired Lease (its holder died) is taken over.
 */
import os from 'node:os'
import { type Cluster, retryTransient } from './cluster.ts'
import { apiPath, rawGet, rawRequest } from './raw.ts'
import { EXIT, UserError } from '../base/errors.ts'
import { MANAGED_BY, MANAGED_BY_LABEL } from './ownership.ts'
import type { Config } from '../config/config.ts'
import type { Logger } from '../base/log.ts'

const LEASE_NAME = 'homelab-ingress'
const LEASE_SECONDS = 30
const RENEW_EVERY_MS = 10_000
const POLL_MS = 1_000

export type HeldLease = { holder: string; release: () => Promise<void> }

/** What taking the lease needs of a step's context. */
export type LeaseContext = { cluster: Cluster; config: Config; log: Logger; timeoutSeconds: number; dryRun?: boolean }

type Lease = {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> }
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string }
}

// MicroTime fields take microseconds: the API server refuses milliseconds ("cannot parse .711Z as .000000").
const microTime = (d: Date) => d.toISOString().replace(/Z$/, '000Z')
const leasePath = (namespace: string, name?: string) => apiPath('coordination.k8s.io/v1', 'leases', { namespace, name })
/** The Lease, or undefined when there is none. */
const readLease = (cluster: Cluster, namespace: string): Promise<Lease | undefined> => rawGet(cluster, leasePath(namespace, LEASE_NAME))
const writeLease = (cluster: Cluster, namespace: string, body: Lease, create = false) =>
  create
    ? rawRequest(cluster, 'POST', leasePath(namespace), { text: JSON.stringify(body), contentType: 'application/json' })
    : rawRequest(cluster, 'PUT', leasePath(namespace, LEASE_NAME), { text: JSON.stringify(body), contentType: 'application/json' })

const isConflict = (err: unknown) => (err as { code?: number })?.code === 409

/** Who holds it and until when, or undefined when it is free or expired. */
function activeHolder(lease: Lease | undefined, now: Date): { holder: string; expires: Date } | undefined {
  const holder = lease?.spec?.holderIdentity
  if (!lease || !holder) return undefined
  const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime
  const expires = new Date(new Date(renewed ?? 0).getTime() + (lease.spec?.leaseDurationSeconds ?? LEASE_SECONDS) * 1000)
  return expires > now ? { holder, expires } : undefined
}

async function acquireLease(ctx: LeaseContext, what: string): Promise<HeldLease> {
  const { cluster, config, log } = ctx
  const namespace = config.traefikNamespace
  const holder = `${what} pid ${process.pid} on ${os.hostname()}`
  // The namespace and the Lease are read at once (no namespace: no Lease either).
  let [, first] = await Promise.all([ensureNamespace(ctx), retryTransient(() => readLease(cluster, namespace))])
  const started = Date.now()
  let lastSaid = ''
  for (;;) {
    const now = new Date()
    const lease = first ?? (await retryTransient(() => readLease(cluster, namespace)))
    first = undefined
    const active = activeHolder(lease, now)
    if (!active) {
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: LEASE_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY }, resourceVersion: lease?.metadata?.resourceVersion },
        spec: { holderIdentity: holder, leaseDurationSeconds: LEASE_SECONDS, acquireTime: microTime(now), renewTime: microTime(now) },
      }
      try {
        if (lease?.spec?.holderIdentity) log.warn(`taking over the expired lease of ${lease.spec.holderIdentity} (it stopped renewing it)`)
        const written = await writeLease(cluster, namespace, body, lease === undefined)
        return { holder, release: startRenewing(ctx, holder, written) }
      } catch (err) {
        if (!isConflict(err) && (err as { code?: number })?.code !== 409) throw err
        continue // someone else got there first: look again
      }
    }
    const waited = (Date.now() - started) / 1000
    if (waited >= ctx.timeoutSeconds) {
      throw new UserError(
        `another homelab-ingress run holds the lease ${namespace}/${LEASE_NAME}: ${active.holder}; gave up after ${Math.round(waited)}s (--timeout)`,
        EXIT.failed,
        [
          'wait for that run to finish and rerun this one',
          `if that run is dead, its lease expires by ${active.expires.toISOString()} (${LEASE_SECONDS}s after its last renewal) and the next run takes it over`,
        ],
      )
    }
    const say = `waiting for ${active.holder} to finish (lease ${namespace}/${LEASE_NAME})`
    if (say !== lastSaid || Math.round(waited) % 15 === 0) log.progress(`${say} (${Math.round(waited)}s of ${ctx.timeoutSeconds}s)`)
    lastSaid = say
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

function startRenewing({ cluster, config, log }: Pick<LeaseContext, 'cluster' | 'config' | 'log'>, holder: string, written: Lease): () => Promise<void> {
  const namespace = config.traefikNamespace
  // The Lease as this run last wrote it: releasing it is one write, refused (409) if anyone wrote since.
  let mine = written
  const renew = async () => {
    try {
      const lease = await readLease(cluster, namespace)
      if (!lease?.spec || lease.spec.holderIdentity !== holder) {
        log.warn(`lost the lease ${namespace}/${LEASE_NAME} to ${lease?.spec?.holderIdentity ?? 'nobody'}`)
        return
      }
      lease.spec.renewTime = microTime(new Date())
      mine = await writeLease(cluster, namespace, lease)
    } catch (err) {
      log.warn(`could not renew the lease ${namespace}/${LEASE_NAME}: ${(err as Error).message}`)
    }
  }
  const timer = setInterval(renew, RENEW_EVERY_MS)
  timer.unref()
  return async () => {
    clearInterval(timer)
    try {
      await writeLease(cluster, namespace, { ...mine, spec: { leaseDurationSeconds: mine.spec?.leaseDurationSeconds } })
    } catch {
      // Not fatal: someone else holds it now (409), or it expires LEASE_SECONDS after its last renewal.
    }
  }
}

/** The Lease lives in the Traefik namespace; 01 may run before 02 has created it. */
async function ensureNamespace({ cluster, config }: Pick<LeaseContext, 'cluster' | 'config'>): Promise<void> {
  if (await retryTransient(() => rawGet(cluster, apiPath('v1', 'namespaces', { name: config.traefikNamespace })))) return
  const body = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: config.traefikNamespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } }
  try {
    await rawRequest(cluster, 'POST', apiPath('v1', 'namespaces'), { text: JSON.stringify(body), contentType: 'application/json' })
  } catch (createErr) {
    if (!isConflict(createErr)) throw createErr
  }
}

/** Runs `action` holding the lease; dry runs write nothing and take none. */
export async function withLease<T>(ctx: LeaseContext, what: string, action: () => Promise<T>): Promise<T> {
  if (ctx.dryRun) return action()
  const lease = await acquireLease(ctx, what)
  try {
    return await action()
  } finally {
    await lease.release()
  }
}
