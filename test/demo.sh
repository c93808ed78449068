#!/usr/bin/env bash
# make demo: the whole flow on the test cluster (a real control plane on this machine, kwok nodes,
# MetalLB's controller, the stand-in Traefik chart), ending in 04-verify's report.
# Nothing leaves this machine: the LoadBalancer addresses are 127.0.0.200 and 127.0.0.201.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/cluster/cluster.sh up
# shellcheck disable=SC1091
. .cluster/env

echo "==> pretending ArgoCD and Longhorn are installed (a namespace and a Service each)"
kubectl --context=homelab-test apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Service
metadata: {name: argocd-server, namespace: argocd}
spec: {selector: {app: argocd-server}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: longhorn-system}
---
apiVersion: v1
kind: Service
metadata: {name: longhorn-frontend, namespace: longhorn-system}
spec: {selector: {app: longhorn-ui}, ports: [{name: http, port: 80}]}
YAML

# kwok's pods run no Traefik, so nothing listens on 127.0.0.200/201: the reachability matrix would
# rightly fail (refused on INTERNAL_IP). test/integration/probe.test.ts covers it with stand-ins.
npx zx scripts/run-all.ts --env-file test/integration/test.env --no-probe

cat <<'TXT'

The demo cluster keeps running. In this shell, point kubectl and helm at it first:
  . .cluster/env
Look around:
  kubectl get svc,pods,ingressroutes.traefik.io -A
Rerun any step (it changes nothing), e.g.:
  npx zx scripts/02-traefik.ts --env-file test/integration/test.env
Stop it with: npm run cluster:down
TXT
