#!/usr/bin/env bash
# Offline checks of the stand-in chart test/chart/traefik against what the official chart 33.2.1
# renders for this project's values (see test/chart/README.md).
# Usage: test/chart/verify.sh [path/to/helm]     (default: helm on PATH)
set -euo pipefail

HELM=${1:-helm}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHART="$ROOT/test/chart/traefik"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Fill the values template the way lib/render.ts would, with example values.
sed -e 's#${METALLB_ANNOTATION}#metallb.io/loadBalancerIPs#' \
    -e 's#${EXTERNAL_IP}#127.0.0.201#' -e 's#${INTERNAL_IP}#127.0.0.200#' \
    -e 's#${STORAGE_CLASS}#longhorn#' -e 's#${DOMAIN}#home.example#' \
    -e 's#${ACME_EMAIL}#ops@home.example#' \
    "$ROOT/manifests/02-traefik-values.yaml" > "$TMP/values.yaml"

fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
has()  { if grep -qF -- "$2" "$TMP/out.yaml"; then ok "$1"; else fail "$1 (missing: $2)"; fi; }

"$HELM" lint "$CHART" -f "$TMP/values.yaml" >/dev/null && ok "helm lint" || fail "helm lint"
"$HELM" template traefik "$CHART" -n traefik -f "$TMP/values.yaml" > "$TMP/out.yaml"

# One object per line: "<kind> <name>".
awk '/^kind: /{k=$2} /^  name: /{if (k) print k, $2; k=""}' "$TMP/out.yaml" > "$TMP/objects"
for obj in "ServiceAccount traefik" "PersistentVolumeClaim traefik" "ClusterRole traefik-traefik" \
           "ClusterRoleBinding traefik-traefik" "Service traefik" "Service traefik-internal" \
           "Deployment traefik" "IngressClass traefik" "IngressRoute traefik-dashboard"; do
  if grep -qx "$obj" "$TMP/objects"; then ok "object $obj"; else fail "object $obj"; fi
done

has "PVC keep annotation" "helm.sh/resource-policy: keep"
has "PVC storage class" 'storageClassName: "longhorn"'
has "IngressRoute group" "apiVersion: traefik.io/v1alpha1"
has "dashboard rule" 'Host(`traefik.home.example`) && (PathPrefix(`/dashboard`) || PathPrefix(`/api`))'
has "Recreate strategy" "type: Recreate"
if grep -q "rollingUpdate:" "$TMP/out.yaml"; then fail "no rollingUpdate with Recreate"; else ok "no rollingUpdate with Recreate"; fi
has "instance label" "app.kubernetes.io/instance: traefik-traefik"
has "chart label" "helm.sh/chart: traefik-33.2.1"
has "image (official registry/repository, appVersion tag)" "/traefik:v3.2.2"
has "external IP annotation" "metallb.io/loadBalancerIPs: 127.0.0.201"
has "internal IP annotation" "metallb.io/loadBalancerIPs: 127.0.0.200"
for arg in --entryPoints.web.address=:8000/tcp --entryPoints.websecure.address=:8443/tcp \
           --entryPoints.intweb.address=:8001/tcp --entryPoints.intwebsec.address=:8444/tcp \
           --entryPoints.traefik.address=:8080/tcp --entryPoints.metrics.address=:9100/tcp \
           --providers.kubernetescrd --providers.kubernetesingress --api.dashboard=true --ping=true \
           --global.checknewversion=false --entryPoints.websecure.http.tls.certResolver=letsencrypt \
           --entryPoints.intwebsec.http.tls=true \
           --certificatesresolvers.letsencrypt.acme.httpChallenge.entryPoint=web \
           --certificatesresolvers.letsencrypt.acme.storage=/data/acme.json; do
  has "arg $arg" "- \"$arg\""
done

# Service ports: name port targetPort, per Service.
awk '/^kind: /{k=$2} /^  name: /{if (k=="Service") s=$2} k=="Service" && /- port: /{p=$3}
     k=="Service" && /name: / && p {n=$2} k=="Service" && /targetPort: /{print s, p, n, $2; p=""}' \
    "$TMP/out.yaml" > "$TMP/ports"
for line in "traefik 80 web web" "traefik 443 websecure websecure" \
            "traefik-internal 80 intweb intweb" "traefik-internal 443 intwebsec intwebsec"; do
  if grep -qx "$line" "$TMP/ports"; then ok "service port $line"; else fail "service port $line"; fi
done
if [ "$(wc -l < "$TMP/ports")" -eq 4 ]; then ok "exactly 4 service ports"; else fail "exactly 4 service ports"; fi

# The real schema must reject a boolean expose.
if "$HELM" template traefik "$CHART" -n traefik -f "$TMP/values.yaml" --set ports.web.expose=true \
     >/dev/null 2>"$TMP/err"; then
  fail "schema rejects ports.web.expose=true"
else
  grep -q "ports.web.expose" "$TMP/err" && ok "schema rejects ports.web.expose=true" \
    || fail "schema rejects ports.web.expose=true (other error: $(head -1 "$TMP/err"))"
fi

# The chart's own defaults must render.
if "$HELM" template traefik "$CHART" >/dev/null; then ok "defaults render"; else fail "defaults render"; fi

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
