/**
 * The admission guard: a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes
 * 1.30+) and its binding, which refuse (ADMISSION_GUARD=deny) or warn about (warn) creating or
 * updating a route that puts an admin backend on a public entrypoint. The kube-apiserver evaluates
 * the CEL itself, before the route exists; 04's route audit stays the proof for what a policy
 * cannot see (other objects: TraefikService chains, parent IngressRoutes, Services selecting the
 * same pods, IngressClasses).
 *
 * What the policy judges, from the route object alone:
 * - where it is served: an IngressRoute's or IngressRouteTCP's spec.entryPoints; an Ingress's
 *   `traefik.ingress.kubernetes.io/router.entrypoints` annotation. A route that names none lands on
 *   Traefik's default entrypoints, which the kit makes intweb/intwebsec (asDefault): allowed. A child
 *   IngressRoute (spec.parentRefs) is served where its parents are, its own entryPoints unused: not
 *   judged here.
 * - what it reaches: a Kubernetes Service named in INTERNAL_ROUTES (a reference without a
 *   namespace is the route's own namespace), the `traefik-internal` Service (it leads into the
 *   internal entrypoints, past the allow-list), and, for IngressRoutes, a TraefikService reference
 *   to one of Traefik's admin services (api@internal and the like).
 *
 * The admin backends are literal in the CEL: the policy is rendered from the configuration, and 03
 * rewrites it when INTERNAL_ROUTES changes (no params object to keep in step).
 */
import type { AdmissionGuard, Config } from '../config/config.ts'
import { ownershipLabels } from '../kube/ownership.ts'
import type { Manifest } from '../base/objects.ts'
import { INTERNAL_ENTRYPOINTS, INTERNAL_SERVICE, PUBLIC_ENTRYPOINTS } from './names.ts'

export const ADMISSION_API = 'admissionregistration.k8s.io/v1'
export const POLICY_KIND = 'ValidatingAdmissionPolicy'
export const BINDING_KIND = 'ValidatingAdmissionPolicyBinding'

/**
 * Traefik's internal services that give away control or insight (the same list as the route
 * audit's): the API and dashboard, the REST provider, the Prometheus metrics.
 */
export const TRAEFIK_ADMIN_SERVICES = ['api@internal', 'dashboard@internal', 'rest@internal', 'prometheus@internal']

/** The Traefik annotation that puts an Ingress's routers on entrypoints. */
export const INGRESS_ENTRYPOINTS_ANNOTATION = 'traefik.ingress.kubernetes.io/router.entrypoints'

/** The validation actions of the binding for each mode that installs one. */
export const VALIDATION_ACTIONS: Record<Exclude<AdmissionGuard, 'off'>, string[]> = {
  deny: ['Deny'],
  warn: ['Warn', 'Audit'],
}

/**
 * One name for the policy and its binding (both cluster-scoped): fixed for the default
 * configuration, with INSTANCE in it when set, as the MetalLB objects are named.
 */
export function admissionGuardName(config: Pick<Config, 'instance'>): string {
  return `${config.instance ? `homelab-ingress-${config.instance}` : 'homelab-ingress'}-admin-routes`
}

/** The admin Services as `namespace/name`: each INTERNAL_ROUTES Service once, then traefik-internal. */
export function adminServiceRefs(config: Pick<Config, 'internalRoutes' | 'traefikNamespace'>): string[] {
  return [...new Set([...config.internalRoutes.map((r) => `${r.namespace}/${r.service}`), `${config.traefikNamespace}/${INTERNAL_SERVICE}`])]
}

/** A CEL list of string literals. The values are validated names; quotes and backslashes are escaped all the same. */
function celStrings(values: string[]): string {
  return `[${values.map((v) => `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`).join(', ')}]`
}

const ANNOTATION = `'${INGRESS_ENTRYPOINTS_ANNOTATION}'`
/** The Ingress entrypoints annotation of `o` (object or oldObject), '' when absent. */
const annotationOf = (o: string) =>
  `(has(${o}.metadata.annotations) && ${ANNOTATION} in ${o}.metadata.annotations ? ${o}.metadata.annotations[${ANNOTATION}] : '')`

/** `namespace/name` of a Service reference `s`: without a namespace, the route's own. */
const serviceRef = (s: string) => `(has(${s}.namespace) && ${s}.namespace != '' ? ${s}.namespace : request.namespace) + '/' + ${s}.name`

/** Does some service of some route of an IngressRoute(TCP) satisfy `test` (on `s`)? */
const anyRouteService = (test: string) =>
  `has(object.spec.routes) && object.spec.routes.exists(r, has(r.services) && r.services.exists(s, ${test}))`

/** The policy and its binding for the configured mode; none when ADMISSION_GUARD=off. */
export function admissionGuardManifests(config: Config): Manifest[] {
  if (config.admissionGuard === 'off') return []
  const name = admissionGuardName(config)
  const labels = ownershipLabels(config)
  const policy: Manifest = {
    apiVersion: ADMISSION_API,
    kind: POLICY_KIND,
    metadata: { name, labels },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: ['traefik.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['ingressroutes', 'ingressroutetcps'] },
          { apiGroups: ['networking.k8s.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] },
        ],
      },
      // An update that changes neither where the route is served nor what it reaches (labels,
      // finalizers being removed from a route that is being deleted) is let through: refusing it
      // would only make a route that was there before the policy impossible to tidy or delete.
      // 04's audit still reports such a route.
      matchConditions: [
        {
          name: 'routing-changes',
          expression: `request.operation != 'UPDATE' || !has(oldObject.spec) || !has(object.spec) || object.spec != oldObject.spec || ${annotationOf('object')} != ${annotationOf('oldObject')}`,
        },
      ],
      variables: [
        { name: 'publicEntryPointNames', expression: celStrings(PUBLIC_ENTRYPOINTS) },
        { name: 'adminServices', expression: celStrings(adminServiceRefs(config)) },
        { name: 'traefikAdminServices', expression: celStrings(TRAEFIK_ADMIN_SERVICES) },
        {
          // Where the route is served; [] when it names none (Traefik's default entrypoints, the
          // internal ones) or is a child IngressRoute (served where its parents are).
          name: 'entryPoints',
          expression:
            `request.kind.kind == 'Ingress' ? ${annotationOf('object')}.split(',').map(e, e.trim()).filter(e, e != '') : ` +
            `has(object.spec.entryPoints) && !has(object.spec.parentRefs) ? object.spec.entryPoints : []`,
        },
        { name: 'publicEntryPoints', expression: 'variables.entryPoints.filter(e, e.lowerAscii() in variables.publicEntryPointNames)' },
        {
          // The admin backends the route reaches directly.
          name: 'adminBackends',
          expression:
            `request.kind.kind == 'Ingress' ? variables.adminServices.filter(a, ` +
            `(has(object.spec.defaultBackend) && has(object.spec.defaultBackend.service) && request.namespace + '/' + object.spec.defaultBackend.service.name == a) || ` +
            `(has(object.spec.rules) && object.spec.rules.exists(r, has(r.http) && has(r.http.paths) && r.http.paths.exists(p, has(p.backend) && has(p.backend.service) && request.namespace + '/' + p.backend.service.name == a)))) : ` +
            `request.kind.kind == 'IngressRouteTCP' ? variables.adminServices.filter(a, ${anyRouteService(`${serviceRef('s')} == a`)}) : ` +
            `variables.adminServices.filter(a, ${anyRouteService(`(!has(s.kind) || s.kind == '' || s.kind == 'Service') && ${serviceRef('s')} == a`)}) + ` +
            `variables.traefikAdminServices.filter(a, ${anyRouteService(`has(s.kind) && s.kind == 'TraefikService' && s.name == a`)})`,
        },
      ],
      validations: [
        {
          expression: 'variables.publicEntryPoints.size() == 0 || variables.adminBackends.size() == 0',
          messageExpression:
            `request.kind.kind + ' ' + request.namespace + '/' + object.metadata.name + ' puts the admin backend ' + variables.adminBackends.join(', ') + ` +
            `' on the public entrypoint ' + variables.publicEntryPoints.join(', ') + ` +
            `'; homelab-ingress keeps admin UIs on the internal entrypoints only. Bind it to ${INTERNAL_ENTRYPOINTS.join('/')} (' + ` +
            `(request.kind.kind == 'Ingress' ? 'annotation ${INGRESS_ENTRYPOINTS_ANNOTATION}: ${INTERNAL_ENTRYPOINTS.join(',')}' : 'spec.entryPoints: [${INTERNAL_ENTRYPOINTS.join(', ')}]') + ` +
            `') or point it at a public backend'`,
          reason: 'Forbidden',
        },
      ],
    },
  }
  const binding: Manifest = {
    apiVersion: ADMISSION_API,
    kind: BINDING_KIND,
    metadata: { name, labels },
    spec: { policyName: name, validationActions: VALIDATION_ACTIONS[config.admissionGuard] },
  }
  return [policy, binding]
}
