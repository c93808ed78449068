#!/usr/bin/env bash
# make demo: the whole flow on the test cluster (a real control plane on this machine, kwok nodes,
# MetalLB's controller, the stand-in Traefik chart), then the real Traefik behind the two
# LoadBalancer addresses and 04-verify's reachability matrix, a rogue public route caught, and 04
# green again (test/demo.ts).
# Nothing leaves this machine: the LoadBalancer addresses are 127.0.0.200 and 127.0.0.201.
# `make demo` runs npm ci and builds the test cluster (Traefik and Pebble included) first when
# needed; run alone, this script expects both done (cluster.sh up would build the cluster's own
# pieces, without the notice of how long that takes; without Traefik and Pebble it says so and shows
# no matrix).
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

# In the foreground, so that Ctrl-C reaches it: it stops what it started (Traefik, the forwarder,
# Pebble) on every way out.
code=0
node test/demo.ts || code=$?

cat <<TXT

The demo cluster keeps running. In this shell, point kubectl and helm at it first:
  . $STATE/env
Look around:
  kubectl get svc,pods,ingressroutes.traefik.io -A
Rerun any step (it changes nothing), e.g.:
  make 02-traefik ENV_FILE=$ENV_FILE
Stop it with: make cluster-down
TXT
exit "$code"
