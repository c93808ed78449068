/** 04 in gateway mode: status conditions as the Gateway API spec (v1.4.0) shapes them, judged in the user's words. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { gatewayCheck, gatewayClassCheck, httpRouteCheck } from '../lib/verify/gateway.ts'

const CONTROLLER = 'traefik.io/gateway-controller'
const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message = '', observedGeneration = 1) => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime: '2026-12-08T03:00:00Z',
})
const meta = (name: string, namespace?: string, generation = 1) => ({ name, ...(namespace ? { namespace } : {}), generation })

const classes = suite('04 gateway: GatewayClass')

classes('Accepted=True passes; no status yet fails naming the controller that should answer', () => {
  const cls = { metadata: meta('homelab-ingress'), spec: { controllerName: CONTROLLER }, status: { conditions: [cond('Accepted', 'True', 'Accepted')] } }
  assert.is(gatewayClassCheck(cls, 'homelab-ingress', CONTROLLER).status, 'pass')
  const pending = { ...cls, status: { conditions: [cond('Accepted', 'Unknown', 'Pending', 'Waiting for controller')] } }
  const c = gatewayClassCheck(pending, 'homelab-ingress', CONTROLLER)
  assert.is(c.status, 'fail')
  assert.match(c.detail, /Gateway provider on/)
})

classes('another controllerName, or missing: fails saying so', () => {
  const cls = { metadata: meta('homelab-ingress'), spec: { controllerName: 'example.net/other' } }
  assert.match(gatewayClassCheck(cls, 'homelab-ingress', CONTROLLER).detail, /not traefik\.io\/gateway-controller: Traefik ignores it/)
  assert.match(gatewayClassCheck(undefined, 'homelab-ingress', CONTROLLER).detail, /does not exist/)
})

classes.run()

const gateways = suite('04 gateway: Gateways and their listeners')

const gatewayWith = (listeners: any[], conditions = [cond('Accepted', 'True', 'Accepted'), cond('Programmed', 'True', 'Programmed')]) => ({
  metadata: meta('homelab-ingress-internal', 'traefik'),
  spec: { gatewayClassName: 'homelab-ingress', listeners: [] },
  status: { conditions, listeners },
})
const okListener = (name: string, attachedRoutes = 2) => ({
  name,
  attachedRoutes,
  supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
  conditions: [cond('Accepted', 'True', 'Accepted'), cond('Programmed', 'True', 'Programmed'), cond('ResolvedRefs', 'True', 'ResolvedRefs'), cond('Conflicted', 'False', 'NoConflicts')],
})

gateways('accepted, programmed, every listener fine: passes with the routes attached per listener', () => {
  const c = gatewayCheck(gatewayWith([okListener('intweb'), okListener('intwebsec')]), 'traefik/homelab-ingress-internal', ['intweb', 'intwebsec'])
  assert.is(c.status, 'pass')
  assert.is(c.detail, 'intweb: 2 route(s), intwebsec: 2 route(s)')
})

gateways('a listener whose certificate Secret is missing: fails naming the listener and the Secret problem', () => {
  const bad = {
    ...okListener('intwebsec', 0),
    conditions: [
      cond('Accepted', 'True', 'Accepted'),
      cond('Programmed', 'False', 'Invalid'),
      cond('ResolvedRefs', 'False', 'InvalidCertificateRef', 'Secret traefik/homelab-ingress-admin-tls not found'),
    ],
  }
  const gw = gatewayWith([okListener('intweb'), bad], [cond('Accepted', 'False', 'ListenersNotValid'), cond('Programmed', 'False', 'Invalid')])
  const c = gatewayCheck(gw, 'traefik/homelab-ingress-internal', ['intweb', 'intwebsec'])
  assert.is(c.status, 'fail')
  assert.match(c.detail, /some of its listeners are invalid/)
  assert.match(c.detail, /listener intwebsec not resolving its references: its certificate Secret is missing or not a TLS Secret .*Secret traefik\/homelab-ingress-admin-tls not found/)
  assert.not.match(c.detail, /listener intweb /)
})

gateways('a listener on a port no entrypoint has: says Traefik matches listeners to entrypoints by port', () => {
  const bad = { ...okListener('intweb', 0), conditions: [cond('Accepted', 'False', 'PortUnavailable'), cond('Programmed', 'False', 'Invalid')] }
  const c = gatewayCheck(gatewayWith([bad]), 'traefik/homelab-ingress-internal', ['intweb'])
  assert.is(c.status, 'fail')
  assert.match(c.detail, /no Traefik entrypoint listens on this port/)
})

gateways('no status at all (Traefik not running its Gateway provider), and a status for an older generation', () => {
  const none = { metadata: meta('homelab-ingress-public', 'traefik'), spec: {}, status: { conditions: [cond('Accepted', 'Unknown', 'Pending'), cond('Programmed', 'Unknown', 'Pending')] } }
  const c = gatewayCheck(none, 'traefik/homelab-ingress-public', ['web'])
  assert.is(c.status, 'fail')
  assert.match(c.detail, /Traefik has not written its status/)
  const old = { ...gatewayWith([okListener('web')]), metadata: meta('homelab-ingress-public', 'traefik', 3) }
  assert.match(gatewayCheck(old, 'traefik/homelab-ingress-public', ['web']).detail, /has not yet judged its latest change \(status is for generation 1, the Gateway is at 3\)/)
  assert.match(gatewayCheck(undefined, 'traefik/homelab-ingress-public', ['web']).detail, /does not exist/)
})

gateways.run()

const routes = suite('04 gateway: admin HTTPRoutes')

const PARENT = { name: 'homelab-ingress-internal', namespace: 'traefik' }
const routeWith = (conditions: any[], parentRef: any = { group: 'gateway.networking.k8s.io', kind: 'Gateway', ...PARENT }) => ({
  metadata: meta('argocd-internal', 'argocd'),
  spec: {},
  status: { parents: [{ parentRef, controllerName: CONTROLLER, conditions }] },
})

routes('Accepted and ResolvedRefs for the internal Gateway: passes', () => {
  const c = httpRouteCheck(routeWith([cond('Accepted', 'True', 'Accepted'), cond('ResolvedRefs', 'True', 'ResolvedRefs')]), 'argocd/argocd-internal', PARENT, CONTROLLER)
  assert.is(c.status, 'pass')
})

routes('not allowed by the listeners (namespace not in allowedRoutes): said so', () => {
  const c = httpRouteCheck(routeWith([cond('Accepted', 'False', 'NotAllowedByListeners'), cond('ResolvedRefs', 'True', 'ResolvedRefs')]), 'argocd/argocd-internal', PARENT, CONTROLLER)
  assert.is(c.status, 'fail')
  assert.match(c.detail, /not served: not accepted by the Gateway: the Gateway's listeners do not allow routes from this namespace/)
})

routes('backend Service missing: ResolvedRefs=False BackendNotFound said in words', () => {
  const c = httpRouteCheck(
    routeWith([cond('Accepted', 'True', 'Accepted'), cond('ResolvedRefs', 'False', 'BackendNotFound', 'Service argocd/argocd-server not found')]),
    'argocd/argocd-internal',
    PARENT,
    CONTROLLER,
  )
  assert.is(c.status, 'fail')
  assert.match(c.detail, /a reference does not resolve: its backend Service .* does not exist .*argocd-server not found/)
})

routes('status only for another Gateway, or none: Traefik has not judged it on the internal Gateway', () => {
  const other = routeWith([cond('Accepted', 'True', 'Accepted')], { name: 'homelab-ingress-public', namespace: 'traefik' })
  assert.match(httpRouteCheck(other, 'argocd/argocd-internal', PARENT, CONTROLLER).detail, /no status for this route on Gateway traefik\/homelab-ingress-internal/)
  assert.match(httpRouteCheck({ metadata: meta('argocd-internal', 'argocd'), spec: {} }, 'argocd/argocd-internal', PARENT, CONTROLLER).detail, /no status/)
  assert.match(httpRouteCheck(undefined, 'argocd/argocd-internal', PARENT, CONTROLLER).detail, /run 03-internal-routes/)
})

routes.run()
