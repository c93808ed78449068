/**
 * One kit run at a time per Traefik namespace: every step that writes holds a Kubernetes Lease
 * (coordination.k8s.io/v1) named `homelab-ingress` for the length of its run, renews it while it
 * runs, and releases it at the end. Another run waits (bounded by --timeout, with progress) or says
 * who holds it; an expired Lease (its holder died elsewhere) is taken over, and so at once is the
 * Lease of a run whose process is no longer running on this machine.
 *
 * The holder writes notes on the Lease (annotations) of what it is doing that outlives it, e.g.
 * which helm revision it is writing: the next holder reads them to know what the last one left.
 */
import fs from 'node:fs'
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

export type HeldLease = {
  holder: string
  release: () => Promise<void>
  /** Writes (a string) or removes (undefined) a note on the Lease, as long as this run holds it. */
  note: (key: string, value: string | undefined) => Promise<void>
}

/** What taking the lease needs of a step's context. */
export type LeaseContext = { cluster: Cluster; config: Config; log: Logger; timeoutSeconds: number; dryRun?: boolean }

type Lease = {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
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

/** Read, change and write back the Lease; a write that raced another one (409) is done again. */
async function updateLease(cluster: Cluster, namespace: string, change: (lease: Lease) => boolean, known?: Lease): Promise<Lease | undefined> {
  for (let attempt = 1; ; attempt++) {
    // `known`: the Lease as this run last wrote it; if anyone wrote since, the write is refused (409) and it is read.
    const lease = attempt === 1 && known ? structuredClone(known) : await retryTransient(() => readLease(cluster, namespace))
    if (!lease || !change(lease)) return undefined
    try {
      return await writeLease(cluster, namespace, lease)
    } catch (err) {
      if (!isConflict(err) || attempt >= 5) throw err
    }
  }
}

/** `<what> pid <N> on <host>`, as acquireLease names a holder; undefined for any other form. */
export function parseHolder(holder: string): { what: string; pid: number; host: string } | undefined {
  const m = /^(.*) pid (\d+) on (\S+)$/.exec(holder)
  return m ? { what: m[1], pid: Number(m[2]), host: m[3] } : undefined
}

/**
 * Whether a process with this id runs on this machine (EPERM: it does, as another user). A zombie
 * (killed, not yet reaped by its parent) does not: it runs no code and holds nothing.
 */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true // no /proc (not Linux): the signal said it exists
  }
}

/**
 * Whether the run named `holder` is gone, and why. On this machine its process (and any process
 * of its own it names, e.g. its helm) is looked up; on another machine only the Lease can say:
 * it is gone once it no longer holds it (`activeHolder`, expired or taken over).
 */
export function runGone(holder: string, activeHolder: string | undefined, otherPids: number[] = [], hostname = os.hostname()): { gone: boolean; why: string } {
  const who = parseHolder(holder)
  if (who && who.host === hostname) {
    const alive = [who.pid, ...otherPids].filter(processRunning)
    if (alive.length === 0) return { gone: true, why: `its process${otherPids.length ? 'es' : ''} (pid ${[who.pid, ...otherPids].join(', ')}) no longer run${otherPids.length ? '' : 's'} on this machine` }
    return { gone: false, why: `pid ${alive.join(', ')} still runs on this machine (stopped with Ctrl-Z? then fg or kill it)` }
  }
  if (activeHolder === holder) return { gone: false, why: `it still holds the lease${who ? ` (on ${who.host})` : ''}` }
  return { gone: true, why: `its lease expired${who ? ` (it ran on ${who.host})` : ''}` }
}

/** The Lease's notes and who holds it now (undefined: nobody, or expired). */
export async function readLeaseNotes(cluster: Cluster, namespace: string, now = new Date()): Promise<{ notes: Record<string, string>; activeHolder?: string }> {
  const lease = await retryTransient(() => readLease(cluster, namespace))
  if (!lease) return { notes: {} }
  return { notes: lease.metadata?.annotations ?? {}, activeHolder: activeHolder(lease, now)?.holder }
}

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
    // A run that died on this machine renews nothing: no need to wait for its lease to expire.
    const dead = active ? runGone(active.holder, active.holder) : undefined
    if (!active || dead?.gone) {
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: LEASE_NAME,
          namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
          // the last holder's notes are for this one to read
          ...(lease?.metadata?.annotations ? { annotations: lease.metadata.annotations } : {}),
          resourceVersion: lease?.metadata?.resourceVersion,
        },
        spec: { holderIdentity: holder, leaseDurationSeconds: LEASE_SECONDS, acquireTime: microTime(now), renewTime: microTime(now) },
      }
      try {
        if (active && dead?.gone) log.warn(`taking over the lease of ${active.holder} at once: ${dead.why}`)
        else if (lease?.spec?.holderIdentity) log.warn(`taking over the expired lease of ${lease.spec.holderIdentity} (it stopped renewing it)`)
        const written = await writeLease(cluster, namespace, body, lease === undefined)
        return { holder, ...startRenewing(ctx, holder, written) }
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
          parseHolder(active.holder)?.host === os.hostname()
            ? `it runs on this machine (${dead?.why}); once it is gone the next run takes its lease over at once`
            : `if that run is dead, its lease expires by ${active.expires.toISOString()} (${LEASE_SECONDS}s after its last renewal) and the next run takes it over`,
        ],
      )
    }
    const say = `waiting for ${active.holder} to finish (lease ${namespace}/${LEASE_NAME})`
    if (say !== lastSaid || Math.round(waited) % 15 === 0) log.progress(`${say} (${Math.round(waited)}s of ${ctx.timeoutSeconds}s)`)
    lastSaid = say
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

function startRenewing(
  { cluster, config, log }: Pick<LeaseContext, 'cluster' | 'config' | 'log'>,
  holder: string,
  written: Lease,
): Pick<HeldLease, 'release' | 'note'> {
  const namespace = config.traefikNamespace
  const ours = (lease: Lease) => lease.spec?.holderIdentity === holder
  // The Lease as this run last wrote it: each change starts from it (one write, no read), and reads
  // it again only when someone else wrote since (409).
  let mine = written
  const change = async (edit: (lease: Lease) => boolean) => {
    mine = (await updateLease(cluster, namespace, edit, mine)) ?? mine
  }
  const renew = async () => {
    try {
      await change((lease) => {
        if (!ours(lease)) {
          log.warn(`lost the lease ${namespace}/${LEASE_NAME} to ${lease.spec?.holderIdentity ?? 'nobody'}`)
          return false
        }
        lease.spec!.renewTime = microTime(new Date())
        return true
      })
    } catch (err) {
      log.warn(`could not renew the lease ${namespace}/${LEASE_NAME}: ${(err as Error).message}`)
    }
  }
  const timer = setInterval(renew, RENEW_EVERY_MS)
  timer.unref()
  return {
    release: async () => {
      clearInterval(timer)
      try {
        await change((lease) => {
          if (!ours(lease)) return false
          lease.spec = { leaseDurationSeconds: lease.spec!.leaseDurationSeconds }
          return true
        })
      } catch {
        // Not fatal: the lease expires LEASE_SECONDS after its last renewal.
      }
    },
    note: (key, value) =>
      change((lease) => {
        if (!ours(lease)) return false
        const annotations = { ...lease.metadata?.annotations }
        if (value === undefined) delete annotations[key]
        else annotations[key] = value
        lease.metadata = { ...lease.metadata, annotations }
        return true
      }),
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
export async function withLease<T>(ctx: LeaseContext, what: string, action: (lease?: HeldLease) => Promise<T>): Promise<T> {
  if (ctx.dryRun) return action()
  const lease = await acquireLease(ctx, what)
  try {
    return await action(lease)
  } finally {
    await lease.release()
  }
}
