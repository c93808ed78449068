/**
 * Routes in every form the route audit must read, applied by test/recorded/record.ts to the test
 * cluster (after a converged run) and recorded as the API server returns them into
 * test/recorded/audit-forms.json. Forms the test cluster's CRDs (chart 33.2.1) cannot store,
 * parentRefs and highestRandomWeight, are in the hand-written hand-written-audit-forms.json.
 */
export const AUDIT_FORMS = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik-public}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-regexp, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: 'HostRegexp(\`^argocd\\.home\\.example$\`)', services: [{name: argocd-server, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: blog-or-longhorn, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'Host(\`blog.example.com\`) || Host(\`longhorn.home.example\`)', services: [{name: blog, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: status-split, namespace: default}
spec:
  weighted:
    services:
    - {name: status, port: 80, weight: 9}
    - {name: status-mirror, kind: TraefikService, weight: 1}
---
apiVersion: traefik.io/v1alpha1
kind: TraefikService
metadata: {name: status-mirror, namespace: default}
spec:
  mirroring:
    name: status
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
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: argocd-no-entrypoints, namespace: default}
spec:
  routes:
  - {kind: Rule, match: 'Host(\`argocd.home.example\`)', services: [{name: argocd-server, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: blog-catchall, namespace: default}
spec:
  entryPoints: [web, websecure]
  routes:
  - {kind: Rule, match: 'PathPrefix(\`/\`)', services: [{name: blog, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: unreadable-regexp, namespace: default}
spec:
  entryPoints: [websecure]
  routes:
  - {kind: Rule, match: 'HostRegexp(\`^\\pL+\\.home\\.example$\`)', services: [{name: blog, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: single-quotes, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, match: "Host('argocd.home.example')", services: [{name: argocd-server, port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: v2-hosts, namespace: default}
spec:
  entryPoints: [web]
  routes:
  - {kind: Rule, syntax: v2, match: 'Host(\`blog.example.com\`, \`argocd.home.example\`)', services: [{name: argocd-server, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: longhorn-second-class, namespace: default}
spec:
  ingressClassName: traefik-public
  rules:
  - host: longhorn.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: wildcard-on-web
  namespace: default
  annotations: {traefik.ingress.kubernetes.io/router.entrypoints: web}
spec:
  ingressClassName: traefik
  rules:
  - host: '*.home.example'
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-classless-annotated
  namespace: default
  annotations: {kubernetes.io/ingress.class: traefik}
spec:
  rules:
  - host: argocd.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-classless-nginx
  namespace: default
  annotations: {kubernetes.io/ingress.class: nginx}
spec:
  rules:
  - host: argocd.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: argocd-nginx, namespace: default}
spec:
  ingressClassName: nginx
  rules:
  - host: argocd.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: longhorn-default-entrypoints, namespace: default}
spec:
  rules:
  - host: longhorn.home.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: longhorn-frontend, port: {number: 80}}}}]}
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
`
