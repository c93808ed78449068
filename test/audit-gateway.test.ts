/**
 * The reachability audit on Gateway API routes (lib/verify/audit.ts, gatewayRouters): where a route
 * lands is decided by the Gateways that take it (parentRefs with or without sectionName/port, the
 * listeners' allowedRoutes), each listener on the Traefik entrypoint of its port; what it reaches by
 * its backendRefs (ReferenceGrants for other namespaces), mirrors and Middleware filters. Objects
 * written after the Gateway API v1.4 spec; verdicts written by hand.
 */
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import YAML from 'yaml'
import { type AuditScope, auditRoutes, auditSettings, type RouteObjects } from '../lib/verify/audit.ts'
import type { Check, Obj } from '../lib/verify/checks.ts'
import { loadConfig } from '../lib/config/load.ts'
import { INTERNAL_ENTRYPOINTS, PUBLIC_ENTRYPOINTS } from '../lib/render/render.ts'
import { adminBackends } from '../lib/steps/verify.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const config = loadConfig({ envFile: path.join(ROOT, 'test', 'integration', 'test.env'), env: {}, cwd: ROOT })
const converged = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'recorded', 'converged.json'), 'utf8'))

const GATEWAYS = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: cilium}
spec: {controllerName: io.cilium/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: traefik}
spec:
  gatewayClassName: traefik
  listeners:
  - {name: web, port: 8000, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: websecure, port: 8443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}}
  - {name: passthrough, port: 8443, protocol: TLS, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: All}}}
  - {name: tcp, port: 8443, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}
  - {name: same-only, port: 8000, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: internal, namespace: traefik}
spec:
  gatewayClassName: traefik
  listeners:
  - name: intweb
    port: 8001
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [argocd, longhorn-system]}]}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: traefik}
spec:
  gatewayClassName: cilium
  listeners: [{name: http, port: 8000, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Namespace
metadata: {name: longhorn-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Service
metadata: {name: argocd-server, namespace: argocd}
spec: {selector: {app: argocd-server}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: longhorn-frontend, namespace: longhorn-system}
spec: {selector: {app: longhorn-ui}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: blog, namespace: default}
spec: {selector: {app: blog}, ports: [{port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: longhorn-errors, namespace: longhorn-system}
spec: {errors: {status: ['500-599'], query: /, service: {name: longhorn-frontend, port: 80}}}
`

const ROUTES = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: argocd-public, namespace: argocd}
spec:
  parentRefs: [{name: public, namespace: traefik}]
  hostnames: [status.public.example]
  rules: [{backendRefs: [{name: argocd-server, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: argocd-admin, namespace: argocd}
spec:
  parentRefs: [{name: internal, namespace: traefik}]
  hostnames: [argocd.home.example]
  rules: [{backendRefs: [{name: argocd-server, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: argocd-granted, namespace: default}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: websecure}]
  rules: [{backendRefs: [{name: argocd-server, namespace: argocd, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: longhorn-not-granted, namespace: default}
spec:
  parentRefs: [{name: public, namespace: traefik, port: 8000}]
  rules: [{backendRefs: [{name: longhorn-frontend, namespace: longhorn-system, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: default-routes, namespace: argocd}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: '', kind: Service, name: argocd-server}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: longhorn-grpc, namespace: longhorn-system}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: websecure}]
  rules: [{backendRefs: [{name: longhorn-frontend, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: argocd-passthrough, namespace: argocd}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: passthrough}]
  hostnames: [argocd.home.example]
  rules: [{backendRefs: [{name: argocd-server, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: longhorn-tcp, namespace: longhorn-system}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: tcp}]
  rules: [{backendRefs: [{name: longhorn-frontend, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blog, namespace: default}
spec:
  parentRefs: [{name: public, namespace: traefik}]
  rules:
  - backendRefs: [{name: blog, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    backendRefs: [{name: blog, port: 80}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: blog, port: 80}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blog-mirrored-to-argocd, namespace: argocd}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: web}]
  rules:
  - backendRefs: [{name: public-app, port: 80}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: argocd-server, port: 80}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop-error-pages, namespace: longhorn-system}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: web}]
  rules:
  - backendRefs: [{name: shop, port: 80}]
    filters: [{type: ExtensionRef, extensionRef: {group: traefik.io, kind: Middleware, name: longhorn-errors}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: argocd-same-only, namespace: argocd}
spec:
  parentRefs: [{name: public, namespace: traefik, sectionName: same-only}]
  rules: [{backendRefs: [{name: argocd-server, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: argocd-other-class, namespace: argocd}
spec:
  parentRefs: [{name: other, namespace: traefik}]
  rules: [{backendRefs: [{name: argocd-server, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blog-internal, namespace: default}
spec:
  parentRefs: [{name: internal, namespace: traefik}]
  rules: [{backendRefs: [{name: blog, port: 80}]}]
`

const docs = (text: string): Obj[] => YAML.parseAllDocuments(text).map((d) => d.toJS())
const all = [...docs(GATEWAYS), ...docs(ROUTES)]
const ofKind = (kind: string) => all.filter((o) => o.kind === kind)
const objects: RouteObjects = {
  gatewayClasses: ofKind('GatewayClass'),
  gateways: ofKind('Gateway'),
  httpRoutes: ofKind('HTTPRoute'),
  grpcRoutes: ofKind('GRPCRoute'),
  tlsRoutes: ofKind('TLSRoute'),
  tcpRoutes: ofKind('TCPRoute'),
  referenceGrants: ofKind('ReferenceGrant'),
  namespaces: ofKind('Namespace'),
  services: ofKind('Service'),
  middlewares: ofKind('Middleware'),
  pods: converged.pods,
}
const traefikArgs = (extra: string[]) => converged.pods.map((p: Obj) => ({ ...p, spec: { ...p.spec, containers: [{ ...p.spec.containers[0], args: [...p.spec.containers[0].args, ...extra] }] } }))
const scope = (gatewayProvider = true): AuditScope => ({
  ...auditSettings(traefikArgs(gatewayProvider ? ['--providers.kubernetesgateway'] : [])),
  publicEntrypoints: PUBLIC_ENTRYPOINTS,
  admin: adminBackends(config),
  traefik: { namespace: 'traefik', podLabels: converged.pods.map((p: Obj) => p.metadata.labels) },
  internalIp: config.internalIp,
  internalEntrypoints: INTERNAL_ENTRYPOINTS,
})
const verdicts = (checks: Check[]) => checks.filter((c) => / only on internal entrypoints$/.test(c.name) && !c.name.startsWith('IngressRoute ')).map((c) => [c.name.split(' ').slice(0, 2).join(' '), c.status])

const gateway = suite('audit: Gateway API routes')

gateway('routes on a public Gateway that reach an admin UI fail, on the internal Gateway pass; public apps are not named', () => {
  const checks = auditRoutes(objects, scope())
  assert.equal(verdicts(checks).sort(), [
    ['GRPCRoute longhorn-system/longhorn-grpc', 'fail'],
    ['HTTPRoute argocd/argocd-admin', 'pass'],
    ['HTTPRoute argocd/argocd-public', 'fail'],
    ['HTTPRoute argocd/blog-mirrored-to-argocd', 'fail'],
    ['HTTPRoute default/argocd-granted', 'fail'],
    ['HTTPRoute longhorn-system/shop-error-pages', 'fail'],
    ['TCPRoute longhorn-system/longhorn-tcp', 'fail'],
    ['TLSRoute argocd/argocd-passthrough', 'fail'],
  ])
  for (const clean of ['HTTPRoute default/blog ', 'HTTPRoute default/longhorn-not-granted', 'HTTPRoute default/blog-internal']) {
    assert.not.ok(checks.some((c) => c.name.startsWith(clean)), clean)
  }
})

gateway('each finding names the Gateway listener it lands through and the fix', () => {
  const checks = auditRoutes(objects, scope())
  const detail = (name: string) => checks.find((c) => c.name.startsWith(`${name} `))!.detail
  assert.is(
    detail('HTTPRoute argocd/argocd-public'),
    [
      "on public web through Gateway traefik/public listener web, it reaches argocd.home.example: Service argocd/argocd-server (argocd.home.example)",
      "fix: attach it (parentRefs) to the internal Gateway only, or point it at a public app's backend; a public Gateway's listeners can also refuse its namespace (allowedRoutes)",
      'on public websecure through Gateway traefik/public listener websecure, it reaches argocd.home.example: Service argocd/argocd-server (argocd.home.example)',
    ].join('; '),
  )
  assert.match(detail('HTTPRoute argocd/argocd-admin'), /^intweb through Gateway traefik\/internal listener intweb$/)
  assert.match(detail('HTTPRoute longhorn-system/shop-error-pages'), /Middleware longhorn-system\/longhorn-errors -> its error page -> Service longhorn-system\/longhorn-frontend/)
})

gateway('routes attached to nothing Traefik serves are named, with why', () => {
  const detached = auditRoutes(objects, scope()).find((c) => c.name === 'Gateway API routes attached to nothing Traefik serves')!
  assert.is(detached.status, 'warn')
  assert.is(
    detached.detail,
    [
      'HTTPRoute argocd/argocd-same-only: listener same-only of Gateway traefik/public does not allow HTTPRoutes from namespace argocd',
      'HTTPRoute argocd/argocd-other-class: Gateway traefik/other is of GatewayClass cilium (controller io.cilium/gateway-controller), not Traefik\'s',
      'HTTPRoute default/blog-internal: listener intweb of Gateway traefik/internal does not allow HTTPRoutes from namespace default',
    ].join('; '),
  )
})

gateway("with Traefik's Gateway provider off, no Gateway route is served", () => {
  const checks = auditRoutes(objects, scope(false))
  assert.equal(verdicts(checks), [])
  assert.match(checks.find((c) => c.name === 'Gateway API routes attached to nothing Traefik serves')!.detail, /HTTPRoute argocd\/argocd-public: Traefik's Gateway provider is off/)
})

gateway.run()
