/**
 * 04's judgements in cert-manager mode, pure functions of API objects: the ClusterIssuer and each
 * Certificate Ready and not about to expire, their Secrets present, a stuck Certificate's reason
 * from its Order and Challenges; the Traefik replicas Ready on distinct nodes; the
 * PodDisruptionBudget allowing a disruption.
 */
import type { Check, Obj } from './checks.ts'

const DAY_MS = 24 * 3600 * 1000
/** cert-manager renews 30 days before expiry (Let's Encrypt's 90 days: at two thirds); fewer left means renewal is stuck. */
export const EXPIRY_WARN_DAYS = 21
export const EXPIRY_FAIL_DAYS = 7

export type WantedCertificate = { namespace: string; name: string; secretName: string; dnsNames: string[] }

const condition = (o: Obj | undefined, type: string) => (o?.status?.conditions ?? []).find((c: any) => c.type === type)
const ownedBy = (o: Obj, owner: Obj) => (o.metadata.ownerReferences ?? []).some((r: any) => r.uid !== undefined && r.uid === owner.metadata.uid)

export function issuerCheck(issuer: Obj | undefined, name: string): Check {
  const check = `ClusterIssuer ${name} Ready`
  if (!issuer) return { name: check, status: 'fail', detail: 'missing (rerun 02-traefik)' }
  const ready = condition(issuer, 'Ready')
  if (ready?.status === 'True') return { name: check, status: 'pass', detail: ready.message || 'ACME account registered' }
  return {
    name: check,
    status: 'fail',
    detail: ready
      ? `${ready.reason}: ${ready.message} (cert-manager could not register the ACME account: ACME_CA and ACME_EMAIL right, the CA reachable from the cluster?)`
      : 'no Ready condition yet: is cert-manager running?',
  }
}

/**
 * One check per wanted Certificate (Ready, days left) and one per Secret. A Certificate that is
 * not Ready says why: its own condition, then its newest CertificateRequest's Order and that
 * Order's Challenges, each with cert-manager's reason.
 */
export function certificateChecks(
  wanted: WantedCertificate[],
  objects: { certificates: Obj[]; requests: Obj[]; orders: Obj[]; challenges: Obj[]; secrets: Obj[] },
  now: Date,
): Check[] {
  const checks: Check[] = []
  for (const w of wanted) {
    const ref = `${w.namespace}/${w.name}`
    const name = `Certificate ${ref} (${w.dnsNames.join(', ')}) Ready, not about to expire`
    const cert = objects.certificates.find((c) => c.metadata.namespace === w.namespace && c.metadata.name === w.name)
    const secret = objects.secrets.find((s) => s.metadata.namespace === w.namespace && s.metadata.name === w.secretName)
    if (!cert) {
      checks.push({ name, status: 'fail', detail: 'missing (rerun 02-traefik)' })
    } else {
      checks.push(judgeCertificate(cert, objects, now, name))
    }
    const secretName = `Secret ${w.namespace}/${w.secretName} present`
    checks.push(
      secret
        ? { name: secretName, status: 'pass', detail: 'present' }
        : { name: secretName, status: 'fail', detail: `missing: Traefik serves its own self-signed certificate instead${cert ? ' until cert-manager issues this one' : ''}` },
    )
  }
  return checks
}

function judgeCertificate(cert: Obj, objects: { requests: Obj[]; orders: Obj[]; challenges: Obj[] }, now: Date, name: string): Check {
  const ready = condition(cert, 'Ready')
  const notAfter = cert.status?.notAfter ? Date.parse(cert.status.notAfter) : NaN
  const daysLeft = Number.isFinite(notAfter) ? Math.floor((notAfter - now.getTime()) / DAY_MS) : undefined
  const until = daysLeft === undefined ? '' : `valid until ${new Date(notAfter).toISOString().slice(0, 10)} (${daysLeft} days left)`
  if (ready?.status === 'True' && daysLeft !== undefined) {
    if (daysLeft < EXPIRY_FAIL_DAYS) {
      return { name, status: 'fail', detail: `${until}: about to expire, and cert-manager has not renewed it${renewalText(cert)}` }
    }
    if (daysLeft < EXPIRY_WARN_DAYS) return { name, status: 'warn', detail: `${until}: past its renewal time and not renewed yet${renewalText(cert)}` }
    return { name, status: 'pass', detail: until }
  }
  const why: string[] = []
  if (ready?.status === 'True') why.push('Ready, but no expiry date in its status')
  else if (ready) why.push(`${ready.reason}: ${ready.message}`)
  else why.push('no Ready condition yet: is cert-manager running?')
  if (daysLeft !== undefined) why.push(`the Secret's current certificate is ${until}`)
  why.push(...stuckReasons(cert, objects))
  return { name, status: 'fail', detail: why.join('; ') }
}

function renewalText(cert: Obj): string {
  const issuing = condition(cert, 'Issuing')
  return issuing?.status === 'True' ? ` (renewing: ${issuing.message})` : ''
}

/** The newest CertificateRequest of the Certificate, its Order and the Order's Challenges, with their reasons. */
function stuckReasons(cert: Obj, objects: { requests: Obj[]; orders: Obj[]; challenges: Obj[] }): string[] {
  const newest = (list: Obj[]) => [...list].sort((a, b) => Date.parse(a.metadata.creationTimestamp ?? 0) - Date.parse(b.metadata.creationTimestamp ?? 0)).at(-1)
  const request = newest(objects.requests.filter((r) => ownedBy(r, cert)))
  if (!request) return []
  const reasons: string[] = []
  const requestReady = condition(request, 'Ready')
  if (requestReady && requestReady.status !== 'True' && requestReady.reason !== 'Pending') {
    reasons.push(`CertificateRequest ${request.metadata.name}: ${requestReady.reason}: ${requestReady.message}`)
  }
  const order = newest(objects.orders.filter((o) => ownedBy(o, request)))
  if (!order) return reasons
  const state = order.status?.state ?? 'pending'
  reasons.push(`Order ${order.metadata.name} ${state}${order.status?.reason ? `: ${order.status.reason}` : ''}`)
  for (const challenge of objects.challenges.filter((c) => ownedBy(c, order))) {
    const s = challenge.status ?? {}
    const what = `${challenge.spec?.type ?? 'challenge'} for ${challenge.spec?.dnsName ?? '?'}`
    const hint = challenge.spec?.type === 'HTTP-01' ? HTTP01_HINT : challenge.spec?.type === 'DNS-01' ? DNS01_HINT : ''
    reasons.push(`Challenge ${what} ${s.state || 'pending'}${s.presented === false ? ' (not presented)' : ''}${s.reason ? `: ${s.reason}` : ''}${s.state === 'valid' ? '' : hint}`)
  }
  return reasons
}

const HTTP01_HINT = ' (the CA must reach http://<host>/.well-known/acme-challenge/ on EXTERNAL_IP:80: the host resolves to your public address, and the router forwards 80 to EXTERNAL_IP?)'
const DNS01_HINT = ' (cert-manager writes a TXT record with ACME_DNS_SECRET: the token allowed to edit the zone, the zone the one DOMAIN is in?)'

/**
 * The Traefik replicas: as many Ready as wanted, on as many distinct Ready nodes as there are (up to
 * the replica count). A replica on a NotReady node, or all replicas on one node, is a degraded
 * state: one more node failure takes every site down.
 */
export function replicasCheck(pods: Obj[], nodes: Obj[], wanted: number): Check {
  const name = `Traefik replicas Ready on distinct nodes (${wanted} wanted)`
  const nodeReady = (nodeName: string) => condition(nodes.find((n) => n.metadata.name === nodeName), 'Ready')?.status === 'True'
  const live = pods.filter((p) => !p.metadata.deletionTimestamp)
  const ready = live.filter((p) => condition(p, 'Ready')?.status === 'True' && p.spec?.nodeName && nodeReady(p.spec.nodeName))
  const onNodes = [...new Set(ready.map((p) => p.spec.nodeName as string))].sort()
  const readyNodes = nodes.filter((n) => nodeReady(n.metadata.name) && !n.spec?.unschedulable).length
  const where = ready.map((p) => `${p.metadata.name} on ${p.spec.nodeName}`).join(', ')
  const notReady = live
    .filter((p) => !ready.includes(p))
    .map((p) => `${p.metadata.name} ${p.spec?.nodeName ? `on ${p.spec.nodeName}${nodeReady(p.spec.nodeName) ? '' : ' (node NotReady)'}` : '(not scheduled)'}`)
  if (ready.length < wanted) {
    return {
      name,
      status: 'fail',
      detail: `degraded: ${ready.length}/${wanted} Ready${where ? ` (${where})` : ''}${notReady.length ? `; not Ready: ${notReady.join(', ')}` : ''}`,
    }
  }
  const spreadTo = Math.min(wanted, readyNodes)
  if (onNodes.length < spreadTo) {
    return { name, status: 'fail', detail: `degraded: ${ready.length}/${wanted} Ready but on ${onNodes.length} node(s) (${onNodes.join(', ')}) of ${readyNodes} Ready: one node failure takes them all; deleting one pod lets the scheduler spread it` }
  }
  if (wanted > 1 && onNodes.length < 2) {
    return { name, status: 'warn', detail: `${ready.length}/${wanted} Ready, all on ${onNodes.join(', ')}: the cluster has ${readyNodes} Ready node(s), so a node failure takes every replica` }
  }
  return { name, status: 'pass', detail: `${ready.length}/${wanted} Ready on ${onNodes.length} nodes (${where})` }
}

/** The chart's PodDisruptionBudget: present, and allowing at least one disruption (a node drain can proceed). */
export function disruptionBudgetCheck(pdb: Obj | undefined, ref: string): Check {
  const name = `PodDisruptionBudget ${ref} allows a disruption`
  if (!pdb) return { name, status: 'fail', detail: 'missing (rerun 02-traefik)' }
  const s = pdb.status ?? {}
  if (s.observedGeneration === undefined || s.observedGeneration < (pdb.metadata.generation ?? 0)) {
    return { name, status: 'fail', detail: 'not evaluated yet by the disruption controller' }
  }
  const counts = `${s.currentHealthy ?? 0} healthy, ${s.desiredHealthy ?? 0} needed`
  if ((s.disruptionsAllowed ?? 0) >= 1) return { name, status: 'pass', detail: `${s.disruptionsAllowed} allowed (${counts})` }
  return { name, status: 'fail', detail: `no disruption allowed (${counts}): a node drain would wait for a replica to come back` }
}
