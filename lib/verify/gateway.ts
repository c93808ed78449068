/**
 * 04 in gateway mode: the kit's GatewayClass, Gateways and admin HTTPRoutes, judged from the status
 * conditions Traefik's Gateway provider writes (Accepted, Programmed, ResolvedRefs, as the Gateway API
 * spec defines them), each failure said in the user's words. Pure functions of API objects.
 */
import type { Check, Obj } from './checks.ts'

type Condition = { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }

function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return (conditions ?? []).find((c) => c.type === type)
}

/** A condition that is True for the object's current generation (an older one says nothing about it). */
function holds(c: Condition | undefined, generation: number | undefined): boolean {
  return c?.status === 'True' && (c.observedGeneration === undefined || generation === undefined || c.observedGeneration >= generation)
}

function stale(c: Condition | undefined, generation: number | undefined): boolean {
  return c?.observedGeneration !== undefined && generation !== undefined && c.observedGeneration < generation
}

function said(c: Condition): string {
  return `${c.type}=${c.status} ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`.trim()
}

/** What a reason of the Gateway API spec means for the user, and what to do. */
const REASONS: Record<string, string> = {
  // GatewayClass / Gateway
  InvalidParameters: 'the GatewayClass parametersRef is invalid',
  NotReconciled: 'no controller has handled it yet',
  ListenersNotValid: 'some of its listeners are invalid (see each listener below)',
  UnsupportedAddress: 'Traefik does not support the address it asks for',
  AddressNotAssigned: 'no address is assigned to it yet',
  NoResources: 'Traefik has no resources to serve it',
  // Listeners
  PortUnavailable: 'no Traefik entrypoint listens on this port (Traefik matches a listener to the entrypoint of the same port; check the chart values\' ports)',
  UnsupportedProtocol: 'Traefik does not support this protocol here',
  InvalidCertificateRef: 'its certificate Secret is missing or not a TLS Secret (is cert-manager\'s Certificate Ready? 04 checks it above)',
  InvalidRouteKinds: 'it allows route kinds Traefik does not serve',
  RefNotPermitted: 'a reference to another namespace is not allowed by a ReferenceGrant',
  HostnameConflict: 'another listener on the same port has the same hostname',
  ProtocolConflict: 'another listener on the same port uses another protocol',
  // Routes
  NotAllowedByListeners: 'the Gateway\'s listeners do not allow routes from this namespace or of this kind (allowedRoutes)',
  NoMatchingListenerHostname: 'no listener\'s hostname matches the route\'s hostnames',
  NoMatchingParent: 'the Gateway or listener it names (parentRefs: name, sectionName, port) does not exist',
  UnsupportedValue: 'it uses a value Traefik does not support',
  BackendNotFound: 'its backend Service (or the Service\'s port) does not exist',
  InvalidKind: 'a backendRef names a kind Traefik cannot send traffic to',
}

function explain(c: Condition | undefined, what: string): string {
  if (!c) return `${what}: no such condition yet (Traefik has not written its status: is Traefik running with its Gateway provider on? 02 turns it on)`
  const meaning = c.reason ? REASONS[c.reason] : undefined
  return `${meaning ? `${meaning} (${said(c)})` : said(c)}`
}

/** The GatewayClass: Accepted by Traefik's controller. */
export function gatewayClassCheck(cls: Obj | undefined, name: string, controllerName: string): Check {
  const check = `GatewayClass ${name} accepted by Traefik`
  if (!cls) return { name: check, status: 'fail', detail: `GatewayClass ${name} does not exist (run 02-traefik with ROUTES_API=gateway)` }
  if (cls.spec?.controllerName !== controllerName) {
    return { name: check, status: 'fail', detail: `its controllerName is ${cls.spec?.controllerName ?? '(none)'}, not ${controllerName}: Traefik ignores it` }
  }
  const accepted = condition(cls.status?.conditions, 'Accepted')
  if (holds(accepted, cls.metadata.generation)) return { name: check, status: 'pass', detail: 'Accepted' }
  if (!accepted || accepted.reason === 'Pending' || accepted.reason === 'Waiting') {
    return { name: check, status: 'fail', detail: `not accepted yet: no controller has answered (${accepted ? said(accepted) : 'no status'}); is Traefik running with its Gateway provider on?` }
  }
  return { name: check, status: 'fail', detail: `not accepted: ${explain(accepted, 'Accepted')}` }
}

/**
 * A kit Gateway: Accepted and Programmed, and each listener Accepted, Programmed and with its references
 * resolved. A listener that is not says which and why.
 */
export function gatewayCheck(gateway: Obj | undefined, ref: string, wantedListeners: string[]): Check {
  const check = `Gateway ${ref} accepted and programmed`
  if (!gateway) return { name: check, status: 'fail', detail: `Gateway ${ref} does not exist (run 02-traefik with ROUTES_API=gateway)` }
  const generation = gateway.metadata.generation
  const problems: string[] = []
  for (const type of ['Accepted', 'Programmed']) {
    const c = condition(gateway.status?.conditions, type)
    if (holds(c, generation)) continue
    if (stale(c, generation)) problems.push(`${type}: Traefik has not yet judged its latest change (status is for generation ${c!.observedGeneration}, the Gateway is at ${generation})`)
    else if (!c || c.reason === 'Pending') problems.push(`${type}: ${explain(undefined, type)}`)
    else problems.push(`not ${type.toLowerCase()}: ${explain(c, type)}`)
  }
  const listeners: Obj[] = gateway.status?.listeners ?? []
  for (const name of wantedListeners) {
    const status = listeners.find((l) => l.name === name)
    if (!status) {
      if (gateway.status?.conditions?.length) problems.push(`listener ${name}: no status (Traefik did not report it)`)
      continue
    }
    for (const type of ['Accepted', 'Programmed', 'ResolvedRefs']) {
      const c = condition(status.conditions, type)
      if (c && c.status !== 'True') problems.push(`listener ${name} not ${type === 'ResolvedRefs' ? 'resolving its references' : type.toLowerCase()}: ${explain(c, type)}`)
    }
    const conflicted = condition(status.conditions, 'Conflicted')
    if (conflicted?.status === 'True') problems.push(`listener ${name} conflicts with another: ${explain(conflicted, 'Conflicted')}`)
  }
  if (problems.length) return { name: check, status: 'fail', detail: problems.join('; ') }
  const attached = listeners.map((l) => `${l.name}: ${l.attachedRoutes ?? 0} route(s)`).join(', ')
  return { name: check, status: 'pass', detail: attached || 'Accepted, Programmed' }
}

/**
 * An admin HTTPRoute: its status for the internal Gateway (parents[] entry whose parentRef names it, written by
 * Traefik's controller) says Accepted and ResolvedRefs. Otherwise: why the route is not served.
 */
export function httpRouteCheck(route: Obj | undefined, ref: string, parent: { name: string; namespace: string }, controllerName: string): Check {
  const check = `HTTPRoute ${ref} served through Gateway ${parent.namespace}/${parent.name}`
  if (!route) return { name: check, status: 'fail', detail: `HTTPRoute ${ref} does not exist (run 03-internal-routes)` }
  const routeNamespace = route.metadata.namespace
  const entries: Obj[] = route.status?.parents ?? []
  const entry = entries.find(
    (p) => p.parentRef?.name === parent.name && (p.parentRef?.namespace ?? routeNamespace) === parent.namespace && (!p.controllerName || p.controllerName === controllerName),
  )
  if (!entry) {
    return {
      name: check,
      status: 'fail',
      detail: `Traefik has written no status for this route on Gateway ${parent.namespace}/${parent.name}: it has not seen it yet, or the Gateway is not one of its GatewayClass (is Traefik running with its Gateway provider on?)`,
    }
  }
  const generation = route.metadata.generation
  const problems: string[] = []
  for (const type of ['Accepted', 'ResolvedRefs']) {
    const c = condition(entry.conditions, type)
    if (holds(c, generation)) continue
    if (stale(c, generation)) problems.push(`${type}: Traefik has not yet judged its latest change`)
    else if (!c) problems.push(`${type}: no such condition yet`)
    else problems.push(`${type === 'Accepted' ? 'not accepted by the Gateway' : 'a reference does not resolve'}: ${explain(c, type)}`)
  }
  if (problems.length) return { name: check, status: 'fail', detail: `not served: ${problems.join('; ')}` }
  return { name: check, status: 'pass', detail: 'Accepted, ResolvedRefs' }
}
