#!/usr/bin/env bash
# Stand-in for the kubelet, for cert-manager's ACME HTTP-01 solver pods: kwok runs no containers, so this
# runs each solver pod's server (cert-manager's own acmesolver, `cluster.sh bin cert-manager-acmesolver`) as
# a process on a loopback address, and points the solver's Service at it.
#
#   test/cluster/http01-solver.sh NAMESPACE [WORKDIR]   runs until killed (SIGTERM stops its solvers too; so does
#                                                       killing its process group)
#
# For each pod labelled acme.cert-manager.io/http01-solver=true in NAMESPACE:
#   - starts cert-manager-acmesolver with the pod's own arguments (--listen-port, --domain, --token, --key) on a
#     free loopback address 127.0.<x>.<y> (env HOMELAB_INGRESS_LISTEN_HOST; every solver listens on the
#     Service's port 8089, so each gets an address of its own);
#   - turns the solver Service that cert-manager made for it (same acme.cert-manager.io/http-token label) into
#     `type: ExternalName` with `externalName: 127.0.<x>.<y>`. Kubernetes refuses loopback addresses in
#     Endpoints/EndpointSlices, an ExternalName Service is accepted, and Traefik follows it when its provider has
#     allowExternalNameServices=true. cert-manager does not reconcile the Service once it exists.
# and stops the process once the pod is gone (cert-manager deletes pod, Service and Ingress after the challenge).
#
# The solver pods must never run on kwok: a Running pod would put its fake 10.244.x address into the Service's
# EndpointSlice, and the proxy would send the challenge there. Give the ACME solver a podTemplate whose
# nodeSelector matches no node, e.g. `podTemplate: {spec: {nodeSelector: {homelab-ingress.test/solver: out-of-cluster}}}`,
# so the pod stays Pending and the Service has no endpoints until it becomes an ExternalName.
#
# Needs KUBECONFIG (source .cluster/env) and a built cert-manager piece. Logs: WORKDIR/<pod>.log (default: a
# temporary directory, printed at start).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS="${1:?usage: $0 NAMESPACE [WORKDIR]}"
WORK="${2:-$(mktemp -d "${TMPDIR:-/tmp}/homelab-ingress-http01.XXXXXX")}"
mkdir -p "$WORK"
SOLVER="$(bash "$HERE/cluster.sh" bin cert-manager-acmesolver)"
[[ -x "$SOLVER" ]] || { echo "[http01-solver] ERROR: $SOLVER is not built (bash $HERE/cluster.sh build cert-manager)" >&2; exit 1; }
k() { kubectl --request-timeout=15s "$@"; }
log() { printf '[http01-solver] %s\n' "$*" >&2; }

declare -A PID ADDR WARNED   # by pod name
stop_all() {
  local p
  for p in "${!PID[@]}"; do kill -TERM "${PID[$p]}" 2>/dev/null || true; done
  exit 0
}
trap stop_all TERM INT

# a loopback address whose port is free
pick_addr() { # pick_addr PORT
  local a tries=0
  while ((tries++ < 200)); do
    a="127.0.$((RANDOM % 200 + 50)).$((RANDOM % 250 + 2))"
    [[ " ${ADDR[*]} " == *" $a "* ]] && continue
    ss -Htln "src $a:$1" 2>/dev/null | grep -q . && continue
    ss -Htln "src 0.0.0.0:$1" 2>/dev/null | grep -q . && { log "port $1 is taken on all interfaces"; return 1; }
    echo "$a"; return 0
  done
  return 1
}

log "watching $NS for HTTP-01 solver pods (acmesolver: $SOLVER, logs: $WORK)"
while :; do
  pods="$(k -n "$NS" get pods -l acme.cert-manager.io/http01-solver=true \
    -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.labels.acme\.cert-manager\.io/http-token}{"|"}{.status.podIP}{"|"}{range .spec.containers[0].args[*]}{@}{" "}{end}{"\n"}{end}' 2>/dev/null)" || { sleep 1; continue; }
  seen=" "
  # "|" and not a tab: read collapses runs of whitespace separators, and podIP is empty for a Pending pod
  while IFS='|' read -r pod token podip args; do
    [[ -n "$pod" ]] || continue
    seen+="$pod "
    if [[ -n "$podip" && -z "${WARNED[$pod]:-}" ]]; then
      WARNED[$pod]=1
      log "WARNING: pod $pod has the address $podip (kwok ran it): its Service's endpoints point at a fake address; give the solver a podTemplate nodeSelector that matches no node"
    fi
    if [[ -z "${PID[$pod]:-}" ]]; then
      port=8089
      for a in $args; do [[ "$a" == --listen-port=* ]] && port="${a#--listen-port=}"; done
      addr="$(pick_addr "$port")" || { log "no free loopback address for $pod"; continue; }
      read -r -a argv <<<"$args"
      # same process group as this script: killing the group stops the solvers too
      HOMELAB_INGRESS_LISTEN_HOST="$addr" "$SOLVER" "${argv[@]}" </dev/null >"$WORK/$pod.log" 2>&1 &
      PID[$pod]=$!
      ADDR[$pod]="$addr"
      log "pod $pod: acmesolver pid ${PID[$pod]} on $addr:$port"
    fi
    # (re)point the Service: it may appear after the pod
    svcs="$(k -n "$NS" get svc -l "acme.cert-manager.io/http01-solver=true,acme.cert-manager.io/http-token=$token" \
      -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.spec.type}{"\t"}{.spec.externalName}{"\n"}{end}' 2>/dev/null)" || svcs=""
    while IFS=$'\t' read -r svc type ext; do
      [[ -n "$svc" ]] || continue
      [[ "$type" == ExternalName && "$ext" == "${ADDR[$pod]}" ]] && continue
      if k -n "$NS" patch svc "$svc" --type=merge -p "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"${ADDR[$pod]}\",\"clusterIP\":null,\"clusterIPs\":null,\"ipFamilies\":null,\"ipFamilyPolicy\":null,\"internalTrafficPolicy\":null,\"sessionAffinity\":null}}" >/dev/null; then
        log "service $svc -> ExternalName ${ADDR[$pod]}"
      else
        log "could not turn service $svc into an ExternalName"
      fi
    done <<<"$svcs"
  done <<<"$pods"
  for pod in "${!PID[@]}"; do
    if [[ "$seen" != *" $pod "* ]]; then
      kill -TERM "${PID[$pod]}" 2>/dev/null || true
      log "pod $pod gone: stopped its acmesolver (pid ${PID[$pod]})"
      unset "PID[$pod]" "ADDR[$pod]"
    fi
  done
  sleep 0.5
done
