/**
 * The route audit: every route in the cluster that serves an admin host, or Traefik's own API, must
 * be bound to entrypoints that no public Service exposes. Pure functions of API objects.
 */
import type { Check, Obj } from './checks.ts'

/** Hosts named in a router rule's Host(...) matchers. */
export function hostsInRule(rule: string): string[] {
  const hosts: string[] = []
  for (const m of rule.matchAll(/\bHost\(([^)]*)\)/g)) {
    for (const part of m[1].split(',')) {
      const host = part.trim().replace(/^[`"']|[`"']$/g, '').toLowerCase()
      if (host) hosts.push(host)
    }
  }
  return hosts
}

/**
 * Every IngressRoute serving an admin host, or Traefik's own API, must be bound to entrypoints
 * that no public Service exposes. No entryPoints at all means every entrypoint.
 */
export function auditIngressRoutes(routes: Obj[], hosts: string[], publicEntrypoints: string[]): Check[] {
  const admin = new Set(hosts.map((h) => h.toLowerCase()))
  const checks: Check[] = []
  for (const route of routes) {
    const ref = `IngressRoute ${route.metadata.namespace}/${route.metadata.name}`
    const rules: any[] = route.spec?.routes ?? []
    const served = rules.flatMap((r) => hostsInRule(String(r.match ?? '')).filter((h) => admin.has(h)))
    const servesApi = rules.some((r) => (r.services ?? []).some((s: any) => String(s.name).endsWith('@internal') && String(s.name).startsWith('api')))
    if (served.length === 0 && !servesApi) continue
    const what = served.length ? [...new Set(served)].join(', ') : "Traefik's API/dashboard"
    const entryPoints: string[] = route.spec?.entryPoints ?? []
    const name = `${ref} (${what}) only on internal entrypoints`
    if (entryPoints.length === 0) {
      checks.push({ name, status: 'fail', detail: 'it lists no entryPoints, so Traefik serves it on every entrypoint, public ones included' })
      continue
    }
    const exposed = entryPoints.filter((e) => publicEntrypoints.includes(e))
    checks.push(
      exposed.length
        ? { name, status: 'fail', detail: `it is bound to public entrypoint${exposed.length > 1 ? 's' : ''} ${exposed.join(', ')}` }
        : { name, status: 'pass', detail: entryPoints.join(', ') },
    )
  }
  return checks
}

const ENTRYPOINTS_ANNOTATION = 'traefik.ingress.kubernetes.io/router.entrypoints'

/**
 * Plain Ingress objects are served too (the chart enables Traefik's kubernetesingress provider):
 * one of Traefik's class, or of no class, for an admin host must carry the entrypoints annotation
 * and name only internal entrypoints; without it Traefik serves it on every entrypoint.
 */
export function auditIngresses(ingresses: Obj[], hosts: string[], publicEntrypoints: string[], traefikClasses = ['traefik']): Check[] {
  const admin = new Set(hosts.map((h) => h.toLowerCase()))
  const checks: Check[] = []
  for (const ingress of ingresses) {
    const cls = ingress.spec?.ingressClassName ?? ingress.metadata.annotations?.['kubernetes.io/ingress.class']
    if (cls !== undefined && !traefikClasses.includes(cls)) continue
    const served = [...new Set<string>((ingress.spec?.rules ?? []).map((r: any) => String(r.host ?? '').toLowerCase()).filter((h: string) => admin.has(h)))]
    if (served.length === 0) continue
    const name = `Ingress ${ingress.metadata.namespace}/${ingress.metadata.name} (${served.join(', ')}) only on internal entrypoints`
    const annotation: string | undefined = ingress.metadata.annotations?.[ENTRYPOINTS_ANNOTATION]
    if (!annotation) {
      checks.push({ name, status: 'fail', detail: `it has no ${ENTRYPOINTS_ANNOTATION} annotation, so Traefik serves it on every entrypoint, public ones included` })
      continue
    }
    const exposed = annotation.split(',').map((e) => e.trim()).filter((e) => publicEntrypoints.includes(e))
    checks.push(
      exposed.length
        ? { name, status: 'fail', detail: `it is bound to public entrypoint${exposed.length > 1 ? 's' : ''} ${exposed.join(', ')}` }
        : { name, status: 'pass', detail: annotation },
    )
  }
  return checks
}
