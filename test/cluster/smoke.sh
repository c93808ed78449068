#!/usr/bin/env bash
# End-to-end check of the test cluster (needs `cluster.sh up` first):
#  - MetalLB: pool 127.0.0.200/32 (autoAssign false) + L2Advertisement; a LoadBalancer Service asking
#    for 127.0.0.200 gets it (status + IPAllocated event); a second Service asking for the same IP gets
#    AllocationFailed.
#  - Storage: a Deployment with a PVC of class `longhorn` becomes Running + Ready; deleting the PVC and
#    creating it again binds again.
#  - helm runs against the cluster.
# Cleans up what it created. Prints "N passed, N failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
eval "$("$HERE/cluster.sh" env)"

NS=cluster-smoke
POOL=cluster-smoke-pool
pass=0 fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
k() { kubectl --request-timeout=20s "$@"; }

# poll CMD... until it prints something non-empty (max $1 seconds); echo the output
poll() {
  local t=$1; shift
  local out end=$((SECONDS + t))
  while ((SECONDS < end)); do
    out="$("$@" 2>/dev/null || true)"
    [[ -n "$out" ]] && { echo "$out"; return 0; }
    sleep 1
  done
  return 1
}

cleanup() {
  k delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k -n metallb-system delete ipaddresspools.metallb.io "$POOL" --ignore-not-found >/dev/null 2>&1 || true
  k -n metallb-system delete l2advertisements.metallb.io "$POOL" --ignore-not-found >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
# wait for a previous run's namespace to be gone
for _ in $(seq 60); do k get ns "$NS" >/dev/null 2>&1 || break; sleep 1; done

v="$(k version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n1)"
[[ "$v" == "$HOMELAB_INGRESS_K8S_VERSION" ]] && ok "server version $v" || bad "server version '$v' != $HOMELAB_INGRESS_K8S_VERSION"

k create namespace "$NS" >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: $POOL, namespace: metallb-system}
spec:
  addresses: ["127.0.0.200/32"]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: $POOL, namespace: metallb-system}
spec:
  ipAddressPools: [$POOL]
EOF
svc() {
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $1
  namespace: $NS
  annotations: {metallb.io/loadBalancerIPs: 127.0.0.200}
spec:
  type: LoadBalancer
  selector: {app: $1}
  ports: [{name: http, port: 80, targetPort: 8000}]
EOF
}
svc lb-a | k apply -f - >/dev/null
ip="$(poll 60 k -n "$NS" get svc lb-a -o jsonpath='{.status.loadBalancer.ingress[0].ip}')" || ip=""
[[ "$ip" == 127.0.0.200 ]] && ok "lb-a got 127.0.0.200 from MetalLB" || bad "lb-a ingress ip '$ip'"
pool="$(k -n "$NS" get svc lb-a -o jsonpath='{.metadata.annotations.metallb\.io/ip-allocated-from-pool}')"
[[ "$pool" == "$POOL" ]] && ok "annotation ip-allocated-from-pool=$pool" || bad "ip-allocated-from-pool '$pool'"
ev="$(poll 30 k -n "$NS" get events --field-selector involvedObject.name=lb-a,reason=IPAllocated -o jsonpath='{.items[*].message}')" || ev=""
[[ -n "$ev" ]] && ok "IPAllocated event: $ev" || bad "no IPAllocated event for lb-a"

svc lb-b | k apply -f - >/dev/null
ev="$(poll 30 k -n "$NS" get events --field-selector involvedObject.name=lb-b,reason=AllocationFailed -o jsonpath='{.items[*].message}')" || ev=""
[[ "$ev" == *"in use"* ]] && ok "AllocationFailed event for lb-b: $ev" || bad "AllocationFailed for lb-b: '$ev'"
ip="$(k -n "$NS" get svc lb-b -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
[[ -z "$ip" ]] && ok "lb-b has no address" || bad "lb-b got '$ip'"

pvc() {
  cat <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: $NS}
spec:
  storageClassName: longhorn
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 128Mi}}
EOF
}
pvc | k apply -f - >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: $NS}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      securityContext: {runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}
      initContainers:
      - name: perms
        image: busybox:1.36
        command: [sh, -c, "touch /data/acme.json && chmod 600 /data/acme.json"]
        volumeMounts: [{name: data, mountPath: /data}]
      containers:
      - name: app
        image: traefik:v3.2.2
        volumeMounts: [{name: data, mountPath: /data}]
        readinessProbe: {httpGet: {path: /ping, port: 8080}}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
EOF
phase="$(poll 60 k -n "$NS" get pvc data -o jsonpath='{.status.phase}' | grep -x Bound)" || phase=""
[[ "$phase" == Bound ]] && ok "PVC (class longhorn) Bound" || bad "PVC phase '$(k -n "$NS" get pvc data -o jsonpath='{.status.phase}')'"
if k -n "$NS" rollout status deployment/app --timeout=90s >/dev/null; then
  st="$(k -n "$NS" get pods -l app=app -o jsonpath='{.items[0].status.phase}/{.items[0].status.conditions[?(@.type=="Ready")].status}/{.items[0].spec.nodeName}')"
  [[ "$st" == Running/True/* ]] && ok "pod with the PVC Running and Ready ($st)" || bad "pod state $st"
else
  bad "deployment not available: $(k -n "$NS" get pods -o wide 2>&1 | tail -n +2)"
fi

# delete the PVC and create it again
k -n "$NS" delete deployment app --wait=true >/dev/null
k -n "$NS" delete pvc data --wait=true --timeout=60s >/dev/null
pvc | k apply -f - >/dev/null
phase="$(poll 60 k -n "$NS" get pvc data -o jsonpath='{.status.phase}' | grep -x Bound)" || phase=""
[[ "$phase" == Bound ]] && ok "PVC re-created and Bound again" || bad "re-created PVC phase '$phase'"

hv="$(helm version --short 2>&1)" && ok "helm $hv" || bad "helm version: $hv"
hl="$(helm list -A 2>&1)" && ok "helm list -A talks to the cluster" || bad "helm list: $hl"
if [[ -n "${HOMELAB_INGRESS_HELM4:-}" ]]; then
  hv="$(helm4 version --short 2>&1)" && ok "helm4 $hv" || bad "helm4 version: $hv"
fi

cleanup
trap - EXIT
echo "$pass passed, $fail failed"
((fail == 0))
