#!/usr/bin/env bash
# make demo: the whole flow on the test cluster (a real control plane on this machine, kwok nodes,
# MetalLB's controller, the stand-in Traefik chart), ending in 04-verify's report.
# Nothing leaves this machine: the LoadBalancer addresses are 127.0.0.200 and 127.0.0.201.
# `make demo` runs npm ci and builds the test cluster first when needed; run alone, this script
# expects both done (cluster.sh up would build, without the notice of how long that takes).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d node_modules ]] || { echo "ERROR: node_modules is missing: run make demo (it runs npm ci first)" >&2; exit 2; }
# The Node that npm ci installed (see Makefile), and its compile cache.
export PATH="$PWD/node_modules/.bin:$PATH"
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$PWD/node_modules/.cache/node-compile-cache}"
ENV_FILE=test/integration/test.env
STATE="${HOMELAB_INGRESS_CLUSTER_DIR:-.cluster}"

echo "==> bringing the test cluster up (state in $STATE; about 15 s when not up yet)"
bash test/cluster/cluster.sh up >/dev/null
# shellcheck disable=SC1091
. "$STATE/env"

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
# rightly fail (refused on INTERNAL_IP). test/integration/ covers it with a real Traefik.
# test.env turns the admission guard off for the tests that create rogue routes; the demo shows the default.
echo "==> 01 -> 04 against the test cluster: ADMISSION_GUARD=deny scripts/run-all.ts --env-file $ENV_FILE --no-probe"
ADMISSION_GUARD=deny node scripts/run-all.ts --env-file "$ENV_FILE" --no-probe

cat <<TXT

The demo cluster keeps running. In this shell, point kubectl and helm at it first:
  . $STATE/env
Look around:
  kubectl get svc,pods,ingressroutes.traefik.io -A
  kubectl get validatingadmissionpolicies,validatingadmissionpolicybindings
Rerun any step (it changes nothing), e.g.:
  make 02-traefik ENV_FILE=$ENV_FILE
Stop it with: make cluster-down
TXT
