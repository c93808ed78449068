/**
 * Routes in every form the reachability audit must judge, next to the kit's own routes (with
 * INTERNAL_ROUTES' ArgoCD in `argocd` and Longhorn in `longhorn-system`). Applied to the test cluster
 * by test/integration/audit.test.ts (04 and the real Traefik's API judge them there) and by
 * test/recorded/record.ts, which records them as the API server returns them into audit-forms.json
 * for the unit tests. The verdict each form must get is written by hand in AUDIT_FORM_VERDICTS.
 *
 * The admin UIs have pods here (kwok runs them; nobody ever sends them a request): a pod is what
 * makes two Services reach the same UI.
 */
export const AUDIT_FORMS = `apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Namespace
metadata: {name: longhorn-system}
---
apiVersion: v1
kind: Service
metadata: {name: argocd-server, namespace: argocd}
spec:
  selector: {app.kubernetes.io/name: argocd-server}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: argocd-server-0
  namespace: argocd
  labels: {app.kubernetes.io/name: argocd-server, app.kubernetes.io/part-of: argocd}
spec:
  tolerations: [{operator: Exists}]
  containers: [{name: server, image: argocd-server, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: longhorn-frontend, namespace: longhorn-system}
spec:
  selector: {app: longhorn-ui}
  ports: [{name: http, port: 80, targetPort: 8000}]
---
apiVersion: v1
kind: Pod
metadata: {name: longhorn-ui-0, namespace: longhorn-system, labels: {app: longhorn-ui}}
spec:
  tolerations: [{operator: Exists}]
  containers: [{name: ui, image: longhorn-ui, ports: [{containerPort: 8000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: blog, namespace: default}
spec:
  selector: {app: blog}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: longhorn-system}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: public-app, namespace: argocd}
spec:
  selector: {app: public-app}
  ports: [{name: http, port: 80}]
---
# An admin backend by its Service's name, under a public host.
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: status-public, namespace: argocd}
spec:
  entryPoints: [web, websecure]
  routes:
  - {kind: Rule, match: 'Host(\`status.public.example\`)', services: [{name: argocd-server, port: 80}]}
---
# Another Service with the admin Service's selector.
apiVersion: v1
kind: Service
metadata: {name: argocd-alias, namespace: argocd}
spec:
  selector: {app.kubernetes.io/name: argocd-server}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: alias-public, namespace: argocd}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'Host(\`alias.public.example\`)', services: [{name: argocd-alias, port: 80}]}
---
# A looser selector that also selects the admin UI's pod.
apiVersion: v1
kind: Service
metadata: {name: argocd-everything, namespace: argocd}
spec:
  selector: {app.kubernetes.io/part-of: argocd}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: part-of-public, namespace: argocd}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'PathPrefix(\`/\`)', services: [{name: argocd-everything, port: 80}]}
---
# TLS passthrough to the admin UI for its own host name.
apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: argocd-passthrough, namespace: argocd}
spec:
  entryPoints: [websecure]
  routes:
  - {match: 'HostSNI(\`argocd.home.example\`)', services: [{name: argocd-server, port: 80}]}
  tls: {passthrough: true}
---
# An Ingress whose default backend is the admin UI.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-default-backend
  namespace: argocd
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: web}
spec:
  ingressClassName: traefik
  defaultBackend: {service: {name: argocd-server, port: {number: 80}}}
---
# No entryPoints: Traefik's default (asDefault) entrypoints, the internal ones.
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-no-entrypoints, namespace: argocd}
spec:
  routes:
  - {kind: Rule, match: 'Host(\`argocd.home.example\`) && PathPrefix(\`/api\`)', services: [{name: argocd-server, port: 80}]}
---
# The admin host name on a public entrypoint, to a public app: the name decides nothing.
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: admin-name-public-app, namespace: argocd}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'Host(\`argocd.home.example\`) && PathPrefix(\`/status\`)', services: [{name: public-app, port: 80}]}
---
# Every SNI on websecure to Longhorn.
apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: longhorn-any-sni, namespace: longhorn-system}
spec:
  entryPoints: [websecure]
  routes:
  - {match: 'HostSNI(\`*\`)', services: [{name: longhorn-frontend, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: longhorn-on-web
  namespace: longhorn-system
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: web}
spec:
  ingressClassName: traefik
  rules:
  - host: files.public.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
---
# A public app whose error pages come from Longhorn.
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: longhorn-errors, namespace: longhorn-system}
spec:
  errors:
    status: ['500-599']
    query: /{status}.html
    service: {name: longhorn-frontend, port: 80}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: shop-chain, namespace: longhorn-system}
spec:
  chain:
    middlewares: [{name: longhorn-errors}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: shop-error-pages, namespace: longhorn-system}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'Host(\`shop.public.example\`)', services: [{name: shop, port: 80}], middlewares: [{name: shop-chain}]}
---
# A Service without a selector whose endpoints, written by hand, are Longhorn's pod.
apiVersion: v1
kind: Service
metadata: {name: longhorn-by-hand, namespace: longhorn-system}
spec:
  ports: [{name: http, port: 80, targetPort: 8000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: longhorn-by-hand-1
  namespace: longhorn-system
  labels: {kubernetes.io/service-name: longhorn-by-hand}
addressType: IPv4
ports: [{name: http, port: 8000, protocol: TCP}]
endpoints:
- addresses: [10.244.99.9]
  targetRef: {kind: Pod, name: longhorn-ui-0, namespace: longhorn-system}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: by-hand-public, namespace: longhorn-system}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'Host(\`disks.public.example\`)', services: [{name: longhorn-by-hand, port: 80}]}
---
# A TraefikService chain that ends in Traefik's API.
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: status-split, namespace: default}
spec:
  weighted:
    services:
    - {name: blog, port: 80, weight: 9}
    - {name: status-mirror, kind: TraefikService, weight: 1}
---
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: status-mirror, namespace: default}
spec:
  mirroring:
    name: blog
    port: 80
    mirrors:
    - {name: api@internal, kind: TraefikService, percent: 10}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: status-page, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'Host(\`status.example.com\`)', services: [{name: status-split, kind: TraefikService}]}
---
# A TraefikService cycle around a public app.
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: loop-a, namespace: default}
spec:
  weighted:
    services: [{name: loop-b, kind: TraefikService}]
---
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: loop-b, namespace: default}
spec:
  weighted:
    services: [{name: loop-a, kind: TraefikService}, {name: blog, port: 80}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: loop, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'Host(\`loop.example.com\`)', services: [{name: loop-a, kind: TraefikService}]}
---
# Public apps, a catch-all among them.
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: blog-catchall, namespace: default}
spec:
  entryPoints: [web, websecure]
  routes:
  - {kind: Rule, match: 'PathPrefix(\`/\`)', services: [{name: blog, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: blog
  namespace: default
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: 'web,websecure'}
spec:
  ingressClassName: traefik
  rules:
  - host: blog.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}]}
---
# A reference across namespaces, which Traefik refuses (allowCrossNamespace is off).
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: cross-namespace, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'Host(\`cross.public.example\`)', services: [{name: argocd-server, namespace: argocd, port: 80}]}
---
# A Service that leads back into Traefik's internal entrypoint intweb.
apiVersion: v1
kind: Service
metadata: {name: traefik-backdoor, namespace: traefik}
spec:
  selector: {app.kubernetes.io/name: traefik}
  ports: [{name: http, port: 80, targetPort: intweb}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: backdoor, namespace: traefik}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'Host(\`backdoor.public.example\`)', services: [{name: traefik-backdoor, port: 80}]}
`

/** The verdict each route object of AUDIT_FORMS must get from 04 (the check names it in its first two words). */
export const AUDIT_FORM_VERDICTS: [string, 'pass' | 'fail'][] = [
  ['IngressRoute argocd/status-public', 'fail'],
  ['IngressRoute argocd/alias-public', 'fail'],
  ['IngressRoute argocd/part-of-public', 'fail'],
  ['IngressRouteTCP argocd/argocd-passthrough', 'fail'],
  ['Ingress argocd/argocd-default-backend', 'fail'],
  ['IngressRoute argocd/argocd-no-entrypoints', 'pass'],
  ['IngressRouteTCP longhorn-system/longhorn-any-sni', 'fail'],
  ['Ingress longhorn-system/longhorn-on-web', 'fail'],
  ['IngressRoute longhorn-system/shop-error-pages', 'fail'],
  ['IngressRoute longhorn-system/by-hand-public', 'fail'],
  ['IngressRoute default/status-page', 'fail'],
  ['IngressRoute traefik/backdoor', 'fail'],
]

/** Route objects of AUDIT_FORMS that reach no admin UI: 04 names none of them. */
export const AUDIT_FORMS_CLEAN = [
  'IngressRoute argocd/admin-name-public-app',
  'IngressRoute default/loop',
  'IngressRoute default/blog-catchall',
  'Ingress default/blog',
  'IngressRoute default/cross-namespace',
]
