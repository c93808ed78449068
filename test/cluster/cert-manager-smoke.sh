#!/usr/bin/env bash
# End-to-end check of a real cert-manager on the test cluster (needs `cluster.sh up` and
# `cluster.sh build cert-manager pebble`; installs Knot DNS with apt-get when it is missing):
#  - Knot DNS (test/cluster/dns.sh) serves home.example. on 127.0.0.1:<free port>, TSIG-signed RFC 2136
#    updates allowed; it is the only DNS that Pebble and cert-manager ask.
#  - Pebble (ACME) on 127.0.0.1:<free port>, its HTTPS certificate's CA given to cert-manager as the
#    ClusterIssuer's caBundle (no TLS verification is skipped).
#  - cert-manager's CRDs and webhook registrations rendered from its own chart (helm template), the webhook
#    on 127.0.0.1:<free port> (certificate from the cluster CA), the controller out of cluster.
#  - a ClusterIssuer (ACME, DNS-01 through the rfc2136 solver) becomes Ready; a Certificate for
#    *.home.example becomes Ready; its Secret holds a certificate that chains to Pebble's root and names
#    *.home.example; the challenge's TXT record is gone afterwards; the webhook rejects an invalid
#    Certificate; an Issuer whose TSIG key is wrong gets its update refused by Knot.
#  - HTTP-01 through the real Traefik (when the traefik piece is built and this runs as root, for port 80):
#    Traefik out of cluster with its Ingress provider (allowExternalNameServices) on 127.0.x.y:80,
#    app.home.example -> that address in Knot; a second ClusterIssuer with an HTTP-01 Ingress solver whose
#    pods stay Pending (nodeSelector for no node); test/cluster/http01-solver.sh runs cert-manager's
#    acmesolver for each solver pod on loopback and makes the solver Service an ExternalName to it; the
#    Certificate for app.home.example becomes Ready, validated by Pebble through Traefik.
# Prints what it measured (time to Ready, peak memory), cleans up what it created, and prints
# "N passed, N failed" (exit 1 on any failure).
#
# Environment: CM_SMOKE_HTTP01=0 skips the HTTP-01 part; CM_SMOKE_KEEP_LOGS=1 keeps the logs (kept anyway on a
# failure); CM_SMOKE_KEEP=1 leaves everything running (prints how to stop it); CM_SMOKE_TIMEOUT (seconds to
# wait for Ready, 120); CM_SMOKE_DNS01_CHECK_PERIOD (the controller's --dns01-check-retry-period, 2s; the real
# default is 10s).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_SH="$HERE/cluster.sh"
eval "$("$CLUSTER_SH" env)"

TIMEOUT="${CM_SMOKE_TIMEOUT:-120}"
CHECK_PERIOD="${CM_SMOKE_DNS01_CHECK_PERIOD:-2s}"
NS=cert-manager-smoke
CM_NS=cert-manager
ISSUER=homelab-smoke-pebble-dns01
ZONE=home.example
pass=0 fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
note() { echo "#      $*"; }
die() { echo "[cert-manager-smoke] ERROR: $*" >&2; exit 1; }
k() { kubectl --request-timeout=20s "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

"$CLUSTER_SH" built cert-manager pebble \
  || die "cert-manager and Pebble are not built: run bash $CLUSTER_SH build cert-manager pebble"
CONTROLLER="$("$CLUSTER_SH" bin cert-manager-controller)"
WEBHOOK="$("$CLUSTER_SH" bin cert-manager-webhook)"
CHART="$("$CLUSTER_SH" bin cert-manager-chart)"
PEBBLE="$("$CLUSTER_SH" bin pebble)"
PEBBLE_CERTS="$(dirname "$PEBBLE")/certs"
CA_CRT="$HOMELAB_INGRESS_CLUSTER_DIR/pki/ca.crt" CA_KEY="$HOMELAB_INGRESS_CLUSTER_DIR/pki/ca.key"
[[ -f "$CA_KEY" ]] || die "no cluster CA in $HOMELAB_INGRESS_CLUSTER_DIR/pki"
"$HERE/dns.sh" install >/dev/null

WORK="$(mktemp -d "${TMPDIR:-/tmp}/homelab-ingress-cm-smoke.XXXXXX")"
PIDS=()
declare -A PID=()
MADE_CRDS="" MADE_CM_NS=""
DNS_DIR=

# A free port (TCP and UDP, any state) below the kernel's ephemeral range: a port in that range can become the
# local end of some outgoing connection before it is bound ("address already in use").
free_port() {
  local p tries=0 lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  ((lo > 12000)) || lo=32768
  while ((tries++ < 500)); do
    p=$((10000 + RANDOM % (lo - 10000)))
    ss -Htuan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# start NAME LOG cmd...: own session, PID recorded for cleanup
start() {
  local name=$1 logf=$2; shift 2
  setsid "$@" </dev/null >"$logf" 2>&1 &
  PIDS+=("$!")
  PID[$name]=$!
}

peak_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

cleanup() {
  local rc=$?
  if [[ "${CM_SMOKE_KEEP:-}" == 1 ]]; then
    echo "# CM_SMOKE_KEEP=1: left running: pids ${PIDS[*]} (kill them), DNS: $HERE/dns.sh stop $DNS_DIR, files: $WORK"
    return $rc
  fi
  # the namespace first, while the controller runs (it removes its Challenges' finalizers) and the webhook
  # answers (that removal is an update it validates); the webhook registrations before the webhook stops (with
  # failurePolicy Fail they would block every cert-manager object once it is gone)
  k delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  local i o
  for ((i = 0; i < 60; i++)); do
    k get namespace "$NS" >/dev/null 2>&1 || break
    # a Challenge whose clean-up cannot succeed (the wrong-TSIG one cannot remove its record) keeps its finalizer
    if ((i == 10)); then
      for o in $(k -n "$NS" get challenges.acme.cert-manager.io -o name 2>/dev/null); do
        k -n "$NS" patch "$o" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
      done
    fi
    sleep 1
  done
  k delete clusterissuer "$ISSUER" "$ISSUER-http01" --ignore-not-found >/dev/null 2>&1 || true
  k delete validatingwebhookconfiguration,mutatingwebhookconfiguration -l app.kubernetes.io/instance=homelab-smoke --ignore-not-found >/dev/null 2>&1 || true
  k delete ingressclass homelab-smoke-traefik --ignore-not-found >/dev/null 2>&1 || true
  k -n "$CM_NS" delete secret rfc2136-tsig "$ISSUER-account" "$ISSUER-http01-account" --ignore-not-found >/dev/null 2>&1 || true
  # what this run installed and the cluster did not have before
  [[ -z "$MADE_CRDS" ]] || k delete -f "$WORK/crds.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  [[ -z "$MADE_CM_NS" ]] || k delete namespace "$CM_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  # each process leads its own process group (setsid): the group takes its children along (http01-solver.sh's
  # acmesolvers)
  local p
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  [[ -z "$DNS_DIR" ]] || { cp "$DNS_DIR/knotd.log" "$WORK/" 2>/dev/null; "$HERE/dns.sh" stop "$DNS_DIR" >/dev/null 2>&1; } || true
  if ((rc != 0 || fail != 0)) || [[ "${CM_SMOKE_KEEP_LOGS:-}" == 1 ]]; then
    echo "# logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  return $rc
}
trap cleanup EXIT

# left over from an earlier run that was killed: its webhook registrations (failurePolicy Fail, pointing at a
# webhook that is gone) would block every cert-manager object; its namespace may still be terminating
k delete validatingwebhookconfiguration,mutatingwebhookconfiguration -l app.kubernetes.io/instance=homelab-smoke --ignore-not-found >/dev/null
k delete namespace "$NS" --ignore-not-found --wait=false >/dev/null
# a Challenge keeps its finalizer until a controller removes it; with no controller running, remove it here
for o in $(k -n "$NS" get challenges.acme.cert-manager.io,orders.acme.cert-manager.io -o name 2>/dev/null); do
  k -n "$NS" patch "$o" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
done
for _ in $(seq 120); do k get namespace "$NS" >/dev/null 2>&1 || break; sleep 1; done
k get namespace "$NS" >/dev/null 2>&1 && die "namespace $NS from an earlier run is still terminating"

# ---- DNS: Knot, authoritative for home.example., TSIG updates ----
eval "$(DNS_ZONE=$ZONE "$HERE/dns.sh" start)"
ok "knotd serving $ZONE. on $DNS_SERVER (TSIG key $DNS_TSIG_KEY_NAME, $DNS_TSIG_ALGORITHM)"

# ---- Pebble ----
PEBBLE_PORT="$(free_port)" PEBBLE_MGMT_PORT="$(free_port)"
cat >"$WORK/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
  "certificate": "$PEBBLE_CERTS/cert.pem", "privateKey": "$PEBBLE_CERTS/key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 start pebble "$WORK/pebble.log" "$PEBBLE" -config "$WORK/pebble.json" -dnsserver "$DNS_SERVER"
for _ in $(seq 100); do
  curl -fsS --max-time 2 --cacert "$PEBBLE_CERTS/pebble.minica.pem" "https://127.0.0.1:$PEBBLE_PORT/dir" >/dev/null 2>&1 && break
  kill -0 "${PID[pebble]}" 2>/dev/null || { cat "$WORK/pebble.log" >&2; die "Pebble exited"; }
  sleep 0.2
done
curl -fsS --max-time 2 --cacert "$PEBBLE_CERTS/pebble.minica.pem" -o "$WORK/pebble-root.pem" "https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0" \
  || die "Pebble's management interface did not give its root (log: $WORK/pebble.log)"
ok "Pebble on https://127.0.0.1:$PEBBLE_PORT/dir (DNS: $DNS_SERVER)"

# ---- cert-manager: CRDs and webhook registrations from its chart; webhook; controller ----
WEBHOOK_PORT="$(free_port)"
(
  cd "$WORK"
  umask 077
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out webhook.key 2>/dev/null
  openssl req -new -key webhook.key -subj "/CN=cert-manager-webhook.$CM_NS.svc" -out webhook.csr 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1" >webhook.ext
  openssl x509 -req -in webhook.csr -CA "$CA_CRT" -CAkey "$CA_KEY" -set_serial "0x$(openssl rand -hex 16)" \
    -sha256 -days 1 -extfile webhook.ext -out webhook.crt 2>/dev/null
)
[[ -s "$WORK/webhook.crt" ]] || die "could not sign the webhook's certificate with the cluster CA"

render() { # render TEMPLATE...: the chart's templates, as `helm install cert-manager` would make them
  local args=() t
  for t in "$@"; do args+=(--show-only "templates/$t"); done
  helm template homelab-smoke "$CHART" --namespace "$CM_NS" --set crds.enabled=true \
    --set "webhook.url.host=127.0.0.1:$WEBHOOK_PORT" "${args[@]}"
}
t0="$(now)"
k get namespace "$CM_NS" >/dev/null 2>&1 || { k create namespace "$CM_NS" >/dev/null; MADE_CM_NS=1; }
k get crd certificates.cert-manager.io >/dev/null 2>&1 || MADE_CRDS=1
crd_templates=()
for f in "$CHART"/templates/crd-*.yaml; do crd_templates+=("$(basename "$f")"); done
render "${crd_templates[@]}" >"$WORK/crds.yaml"
k apply --server-side --force-conflicts -f "$WORK/crds.yaml" >/dev/null
k wait --for=condition=Established --timeout=60s -f "$WORK/crds.yaml" >/dev/null \
  && ok "cert-manager CRDs from its chart established ($(grep -c '^kind: CustomResourceDefinition' "$WORK/crds.yaml") CRDs, $(secs "$t0" "$(now)")s)" \
  || bad "CRDs not established"
# the chart leaves caBundle to cainjector (not run here): the cluster CA signed the webhook's certificate
render webhook-validating-webhook.yaml webhook-mutating-webhook.yaml \
  | awk -v ca="$(base64 -w0 <"$CA_CRT")" '{ print } $1 == "clientConfig:" { sub(/clientConfig:.*/, ""); print $0 "  caBundle: " ca }' \
    >"$WORK/webhooks.yaml"
grep -q "url: https://127.0.0.1:$WEBHOOK_PORT/validate" "$WORK/webhooks.yaml" && grep -q "url: https://127.0.0.1:$WEBHOOK_PORT/mutate" "$WORK/webhooks.yaml" \
  || die "the chart's webhook registrations did not take webhook.url.host ($WORK/webhooks.yaml)"

t0="$(now)"
start webhook "$WORK/webhook.log" "$WEBHOOK" --kubeconfig "$KUBECONFIG" --secure-port "$WEBHOOK_PORT" \
  --tls-cert-file "$WORK/webhook.crt" --tls-private-key-file "$WORK/webhook.key" --v=2
webhook_up=""
for _ in $(seq 150); do
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$CA_CRT" "https://127.0.0.1:$WEBHOOK_PORT/validate" 2>/dev/null)" || code=""
  [[ "$code" =~ ^[1-5][0-9][0-9]$ && "$code" != 404 ]] && { webhook_up=1; break; }
  kill -0 "${PID[webhook]}" 2>/dev/null || break
  sleep 0.2
done
if [[ -n "$webhook_up" ]]; then
  ok "cert-manager webhook answering on https://127.0.0.1:$WEBHOOK_PORT ($(secs "$t0" "$(now)")s after start)"
else
  tail -n 20 "$WORK/webhook.log" >&2
  die "cert-manager webhook did not answer (log: $WORK/webhook.log)"
fi
k apply -f "$WORK/webhooks.yaml" >/dev/null

start controller "$WORK/controller.log" "$CONTROLLER" --kubeconfig "$KUBECONFIG" \
  --cluster-resource-namespace "$CM_NS" \
  --dns01-recursive-nameservers "$DNS_SERVER" --dns01-recursive-nameservers-only \
  --acme-http01-solver-nameservers "$DNS_SERVER" \
  --dns01-check-retry-period "$CHECK_PERIOD" --v=2
sleep 1
kill -0 "${PID[controller]}" 2>/dev/null || { tail -n 30 "$WORK/controller.log" >&2; die "cert-manager controller exited (log: $WORK/controller.log)"; }

# ---- the webhook is real: cert-manager's validation rejects a Certificate with no names ----
k create namespace "$NS" >/dev/null
out="$(k apply -f - 2>&1 <<EOF
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: invalid, namespace: $NS}
spec:
  secretName: invalid-tls
  issuerRef: {name: $ISSUER, kind: ClusterIssuer}
EOF
)" && bad "the webhook accepted a Certificate without names" \
  || { [[ "$out" == *'admission webhook "webhook.cert-manager.io" denied the request'* ]] \
    && ok "webhook rejects an invalid Certificate: ${out##*denied the request: }" || bad "unexpected error for the invalid Certificate: $out"; }

# ---- ClusterIssuer: ACME (Pebble), DNS-01 through RFC 2136 with TSIG ----
k -n "$CM_NS" create secret generic rfc2136-tsig --from-literal=secret="$DNS_TSIG_SECRET" >/dev/null
t0="$(now)"
k apply -f - >/dev/null <<EOF
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: $ISSUER}
spec:
  acme:
    server: https://127.0.0.1:$PEBBLE_PORT/dir
    caBundle: $(base64 -w0 <"$PEBBLE_CERTS/pebble.minica.pem")
    email: admin@$ZONE
    privateKeySecretRef: {name: $ISSUER-account}
    solvers:
    - dns01:
        rfc2136:
          nameserver: $DNS_SERVER
          tsigKeyName: $DNS_TSIG_KEY_NAME
          tsigAlgorithm: HMACSHA256
          tsigSecretSecretRef: {name: rfc2136-tsig, key: secret}
EOF
if k wait --for=condition=Ready --timeout="${TIMEOUT}s" clusterissuer/"$ISSUER" >/dev/null 2>&1; then
  ok "ClusterIssuer Ready: ACME account registered with Pebble ($(secs "$t0" "$(now)")s)"
else
  bad "ClusterIssuer not Ready: $(k get clusterissuer "$ISSUER" -o jsonpath='{.status.conditions[*].message}')"
fi

# ---- Certificate for *.home.example ----
t0="$(now)"
k apply -f - >/dev/null <<EOF
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wildcard, namespace: $NS}
spec:
  secretName: wildcard-tls
  dnsNames: ["*.$ZONE"]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: $ISSUER, kind: ClusterIssuer}
EOF
if k -n "$NS" wait --for=condition=Ready --timeout="${TIMEOUT}s" certificate/wildcard >/dev/null 2>&1; then
  ok "Certificate *.$ZONE Ready $(secs "$t0" "$(now)")s after it was created"
else
  bad "Certificate not Ready after ${TIMEOUT}s: $(k -n "$NS" get certificate wildcard -o jsonpath='{.status.conditions[*].message}')"
  k -n "$NS" get certificaterequests,orders.acme.cert-manager.io,challenges.acme.cert-manager.io -o wide 2>&1 | sed 's/^/#      /'
  k -n "$NS" get challenges.acme.cert-manager.io -o jsonpath='{range .items[*]}{.status.reason}{"\n"}{end}' 2>&1 | sed 's/^/#      /'
fi

k -n "$NS" get secret wildcard-tls -o jsonpath='{.data.tls\.crt}' 2>/dev/null | base64 -d >"$WORK/tls.crt" || true
if [[ -s "$WORK/tls.crt" ]]; then
  # tls.crt: leaf + Pebble's intermediate; the root comes from Pebble's management interface
  awk '/BEGIN CERT/ { n++ } n == 1' "$WORK/tls.crt" >"$WORK/leaf.pem"
  awk '/BEGIN CERT/ { n++ } n >= 2' "$WORK/tls.crt" >"$WORK/chain.pem"
  if v="$(openssl verify -CAfile "$WORK/pebble-root.pem" -untrusted "$WORK/chain.pem" "$WORK/leaf.pem" 2>&1)"; then
    ok "Secret wildcard-tls: certificate chains to Pebble's root (issuer: $(openssl x509 -in "$WORK/leaf.pem" -noout -issuer | sed 's/^issuer=//'))"
  else
    bad "Secret's certificate does not verify against Pebble's root: $v"
  fi
  san="$(openssl x509 -in "$WORK/leaf.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')"
  [[ "$san" == "DNS:*.$ZONE" ]] && ok "certificate names $san" || bad "certificate SAN '$san'"
  key_matches="$(diff <(openssl x509 -in "$WORK/leaf.pem" -noout -pubkey) \
    <(k -n "$NS" get secret wildcard-tls -o jsonpath='{.data.tls\.key}' | base64 -d | openssl pkey -pubout 2>/dev/null) >/dev/null && echo yes || echo no)"
  [[ "$key_matches" == yes ]] && ok "tls.key matches the certificate" || bad "tls.key does not match the certificate"
else
  bad "Secret wildcard-tls has no tls.crt"
fi

# cert-manager removes the TXT record once the challenge is done (through RFC 2136 again)
txt=""
for _ in $(seq 30); do
  txt="$("$HERE/dns.sh" read "$DNS_DIR" "_acme-challenge" TXT 2>/dev/null || true)"
  [[ -z "$txt" ]] && break
  sleep 1
done
[[ -z "$txt" ]] && ok "the challenge's TXT record was added and removed again over RFC 2136 (knotd: $(grep -c 'DDNS, processing' "$DNS_DIR/knotd.log" || true) updates)" \
  || bad "TXT record still there: $txt"
# ---- TSIG is enforced: an Issuer with a wrong key cannot present its challenge ----
k -n "$NS" create secret generic wrong-tsig --from-literal=secret="$(openssl rand -base64 32)" >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: wrong-tsig, namespace: $NS}
spec:
  acme:
    server: https://127.0.0.1:$PEBBLE_PORT/dir
    caBundle: $(base64 -w0 <"$PEBBLE_CERTS/pebble.minica.pem")
    privateKeySecretRef: {name: wrong-tsig-account}
    solvers:
    - dns01:
        rfc2136:
          nameserver: $DNS_SERVER
          tsigKeyName: $DNS_TSIG_KEY_NAME
          tsigAlgorithm: HMACSHA256
          tsigSecretSecretRef: {name: wrong-tsig, key: secret}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wrong-tsig, namespace: $NS}
spec:
  secretName: wrong-tsig-tls
  dnsNames: [wrong.$ZONE]
  issuerRef: {name: wrong-tsig, kind: Issuer}
EOF
reason=""
for _ in $(seq "$TIMEOUT"); do
  reason="$(k -n "$NS" get challenges.acme.cert-manager.io -o jsonpath='{range .items[?(@.spec.dnsName=="wrong.'"$ZONE"'")]}{.status.reason}{end}' 2>/dev/null || true)"
  [[ "$reason" == *rror* || "$reason" == *failed* ]] && break
  sleep 1
done
[[ "$reason" == *"bad authentication"* || "$reason" == *"NOTAUTH"* || "$reason" == *"REFUSED"* || "$reason" == *"BADSIG"* ]] \
  && ok "an update signed with a wrong TSIG key is refused: ${reason:0:120}" || bad "wrong TSIG key: challenge reason '$reason'"
[[ -z "$("$HERE/dns.sh" read "$DNS_DIR" "_acme-challenge.wrong" TXT 2>/dev/null)" ]] && ok "no TXT record for wrong.$ZONE" \
  || bad "a TXT record for wrong.$ZONE exists"
k -n "$NS" delete certificate wrong-tsig --wait=false >/dev/null 2>&1 || true

# ---- HTTP-01 through the real Traefik ----
http01_skip=""
if [[ "${CM_SMOKE_HTTP01:-1}" == 0 ]]; then http01_skip="CM_SMOKE_HTTP01=0"
elif ! "$CLUSTER_SH" built traefik; then http01_skip="Traefik is not built (bash $CLUSTER_SH build traefik)"
elif ((EUID != 0)); then http01_skip="Traefik's port 80 needs root"
fi
if [[ -n "$http01_skip" ]]; then
  note "HTTP-01 part skipped: $http01_skip"
else
  HTTP01_ISSUER="$ISSUER-http01"
  CLASS=homelab-smoke-traefik
  TRAEFIK_ADDR=""
  for _ in $(seq 100); do
    a="127.0.$((RANDOM % 200 + 50)).$((RANDOM % 250 + 2))"
    ss -Htln "src $a:80" 2>/dev/null | grep -q . || { TRAEFIK_ADDR=$a; break; }
  done
  [[ -n "$TRAEFIK_ADDR" ]] || die "no loopback address with a free port 80"
  TRAEFIK_PING_PORT="$(free_port)"
  k apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: $CLASS, labels: {app.kubernetes.io/instance: homelab-smoke}}
spec: {controller: traefik.io/ingress-controller}
EOF
  t0="$(now)"
  # KUBECONFIG from .cluster/env: Traefik's Ingress provider uses it out of cluster
  start traefik "$WORK/traefik.log" "$("$CLUSTER_SH" bin traefik)" \
    --global.checkNewVersion=false --global.sendAnonymousUsage=false \
    --entryPoints.web.address="$TRAEFIK_ADDR:80" --entryPoints.traefik.address="$TRAEFIK_ADDR:$TRAEFIK_PING_PORT" \
    --ping=true --ping.entryPoint=traefik --log.level=INFO \
    --providers.kubernetesingress=true --providers.kubernetesingress.namespaces="$NS" \
    --providers.kubernetesingress.ingressClass="$CLASS" --providers.kubernetesingress.allowExternalNameServices=true
  traefik_up=""
  for _ in $(seq 100); do
    curl -fsS --max-time 2 "http://$TRAEFIK_ADDR:$TRAEFIK_PING_PORT/ping" >/dev/null 2>&1 && { traefik_up=1; break; }
    kill -0 "${PID[traefik]}" 2>/dev/null || break
    sleep 0.2
  done
  if [[ -n "$traefik_up" ]]; then
    ok "Traefik $("$("$CLUSTER_SH" bin traefik)" version 2>/dev/null | awk '/^Version:/ { print $2 }') on $TRAEFIK_ADDR:80 ($(secs "$t0" "$(now)")s)"
  else
    tail -n 20 "$WORK/traefik.log" >&2
    die "Traefik did not answer /ping (log: $WORK/traefik.log)"
  fi
  "$HERE/dns.sh" add "$DNS_DIR" app A "$TRAEFIK_ADDR"
  start http01 "$WORK/http01-solver.log" bash "$HERE/http01-solver.sh" "$NS" "$WORK/http01"
  t0="$(now)"
  k apply -f - >/dev/null <<EOF
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: $HTTP01_ISSUER}
spec:
  acme:
    server: https://127.0.0.1:$PEBBLE_PORT/dir
    caBundle: $(base64 -w0 <"$PEBBLE_CERTS/pebble.minica.pem")
    privateKeySecretRef: {name: $HTTP01_ISSUER-account}
    solvers:
    - http01:
        ingress:
          ingressClassName: $CLASS
          serviceType: ClusterIP
          # kwok must not run the solver pod (its fake IP would become the Service's endpoint):
          # http01-solver.sh runs the solver on loopback instead
          podTemplate:
            spec:
              nodeSelector: {homelab-ingress.test/solver: out-of-cluster}
EOF
  cat >"$WORK/app.yaml" <<EOF
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: app, namespace: $NS}
spec:
  secretName: app-tls
  dnsNames: [app.$ZONE]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: $HTTP01_ISSUER, kind: ClusterIssuer}
EOF
  if k wait --for=condition=Ready --timeout="${TIMEOUT}s" clusterissuer/"$HTTP01_ISSUER" >/dev/null 2>&1; then
    t0="$(now)"
    k apply -f "$WORK/app.yaml" >/dev/null
    if k -n "$NS" wait --for=condition=Ready --timeout="${TIMEOUT}s" certificate/app >/dev/null 2>&1; then
      ok "HTTP-01: Certificate app.$ZONE Ready $(secs "$t0" "$(now)")s after it was created"
    else
      bad "HTTP-01: Certificate app.$ZONE not Ready: $(k -n "$NS" get certificate app -o jsonpath='{.status.conditions[*].message}')"
      k -n "$NS" get pods,svc,ingress,challenges.acme.cert-manager.io -o wide 2>&1 | sed 's/^/#      /'
      k -n "$NS" get challenges.acme.cert-manager.io -o jsonpath='{range .items[*]}{.status.reason}{"\n"}{end}' 2>&1 | sed 's/^/#      /'
    fi
  else
    bad "HTTP-01 ClusterIssuer not Ready: $(k get clusterissuer "$HTTP01_ISSUER" -o jsonpath='{.status.conditions[*].message}')"
  fi
  k -n "$NS" get secret app-tls -o jsonpath='{.data.tls\.crt}' 2>/dev/null | base64 -d >"$WORK/app.crt" || true
  if [[ -s "$WORK/app.crt" ]]; then
    awk '/BEGIN CERT/ { n++ } n == 1' "$WORK/app.crt" >"$WORK/app-leaf.pem"
    awk '/BEGIN CERT/ { n++ } n >= 2' "$WORK/app.crt" >"$WORK/app-chain.pem"
    san="$(openssl x509 -in "$WORK/app-leaf.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')"
    openssl verify -CAfile "$WORK/pebble-root.pem" -untrusted "$WORK/app-chain.pem" "$WORK/app-leaf.pem" >/dev/null 2>&1 && [[ "$san" == "DNS:app.$ZONE" ]] \
      && ok "HTTP-01: Secret app-tls holds a Pebble certificate for $san" || bad "HTTP-01: Secret app-tls: SAN '$san' or chain does not verify"
  fi
  # the challenge went through Traefik to cert-manager's acmesolver, for cert-manager's self check and Pebble
  served="$(cat "$WORK"/http01/*.log 2>/dev/null | grep -c 'got successful challenge request' || true)"
  ((served >= 2)) && ok "HTTP-01: cert-manager's acmesolver answered $served challenge requests through Traefik" \
    || bad "HTTP-01: acmesolver answered $served challenge requests (logs: $WORK/http01)"
  grep -q 'ExternalName' "$WORK/http01-solver.log" && note "$(grep -m1 'ExternalName' "$WORK/http01-solver.log")"
  note "peak memory: Traefik $(peak_mb "${PID[traefik]}") MB"
fi

orders="$(grep -c 'Added order' "$WORK/pebble.log" || true)"
note "Pebble: $orders order(s)"
note "peak memory (VmHWM): controller $(peak_mb "${PID[controller]}") MB, webhook $(peak_mb "${PID[webhook]}") MB, Pebble $(peak_mb "${PID[pebble]}") MB, knotd $(peak_mb "$DNS_PID") MB"
for p in controller webhook pebble ${PID[traefik]:+traefik}; do
  kill -0 "${PID[$p]}" 2>/dev/null && ok "$p still running" || bad "$p exited (log: $WORK/$p.log)"
done

echo "$pass passed, $fail failed"
((fail == 0))
