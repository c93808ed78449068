#!/usr/bin/env bash
# A real Kubernetes control plane for integration tests, built from Go modules only.
#
#   test/cluster/cluster.sh build [PIECE...] build + cache the binaries (once per version); pieces: helm
#                                            metallb kwok pebble etcd kubernetes helm4 cert-manager gateway-api traefik
#                                            (default all), or `cluster` for the pieces the cluster itself runs (not
#                                            pebble, cert-manager, gateway-api, traefik)
#   test/cluster/cluster.sh up               start etcd, kube-apiserver, kube-controller-manager,
#                                            kube-scheduler, kwok, the MetalLB controller (state in .cluster/)
#   test/cluster/cluster.sh down             stop everything and remove .cluster/
#   test/cluster/cluster.sh status           what is running
#   test/cluster/cluster.sh stop-apiserver [--kill]  stop only kube-apiserver (SIGTERM; --kill: SIGKILL)
#   test/cluster/cluster.sh start-apiserver [FLAG...]  start it again (same port, same certs); FLAGs are added to
#                                            kube-apiserver's own (e.g. --runtime-config=...=false, to take an API away)
#   test/cluster/cluster.sh stop-metallb     stop only the MetalLB controller (its webhook stops answering)
#   test/cluster/cluster.sh start-metallb    start it again; returns once its webhook answers
#   test/cluster/cluster.sh env              print .cluster/env (source it: KUBECONFIG, PATH with helm)
#   test/cluster/cluster.sh built [PIECE...] exit 0 when every binary (of PIECEs) is cached (nothing is built)
#   test/cluster/cluster.sh bin NAME         print the cached binary's path (traefik, pebble, pebble-challtestsrv,
#                                            cert-manager-controller, cert-manager-webhook, cert-manager-acmesolver,
#                                            cert-manager-chart: the chart directory, gateway-api-crds: the
#                                            directory of the Gateway API standard-channel CRDs, ...)
#
# Environment:
#   HOMELAB_INGRESS_CACHE  binary cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/homelab-ingress)
#   HOMELAB_INGRESS_CLUSTER_DIR  state dir (default <repo>/.cluster)
#   KUBEBUILDER_ASSETS     envtest-style dir; its kube-apiserver, etcd and kubectl are used when present
#   CLUSTER_BUILD_JOBS     go build -p (default 2)
#   CLUSTER_UP_TIMEOUT     seconds to wait for each readiness step in `up` (default 120)
#   CLUSTER_STOP_GRACE     seconds between SIGTERM and SIGKILL when stopping (default 5)
#
# Everything listens on 127.0.0.1 only. See test/cluster/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE="${HOMELAB_INGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab-ingress}"
BIN="$CACHE/bin"
SRC="$CACHE/src"
STATE="${HOMELAB_INGRESS_CLUSTER_DIR:-$REPO/.cluster}"
JOBS="${CLUSTER_BUILD_JOBS:-2}"
UP_TIMEOUT="${CLUSTER_UP_TIMEOUT:-120}"
CONTEXT=homelab-test
NODE_NAMES=(kwok-node-0)
# Start order; `down` stops in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metallb-controller)

T0=$SECONDS
log() { printf '[cluster %3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

binpath() { echo "$BIN/$1-$2/$1"; }   # binpath NAME VERSION

assets_has() { [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "${KUBEBUILDER_ASSETS}/$1" ]]; }

# Path of the binary to run for a component.
resolve() {
  case "$1" in
    kube-apiserver) if assets_has kube-apiserver; then echo "$KUBEBUILDER_ASSETS/kube-apiserver"; else binpath kube-apiserver "$K8S_VERSION"; fi ;;
    etcd) if assets_has etcd; then echo "$KUBEBUILDER_ASSETS/etcd"; else binpath etcd "$ETCD_VERSION"; fi ;;
    kube-controller-manager) binpath kube-controller-manager "$K8S_VERSION" ;;
    kube-scheduler) binpath kube-scheduler "$K8S_VERSION" ;;
    kwok) binpath kwok "$KWOK_VERSION" ;;
    metallb-controller) binpath metallb-controller "$METALLB_VERSION" ;;
    helm) binpath helm "$HELM3_VERSION" ;;
    helm4) [[ -n "${HELM4_VERSION:-}" ]] && binpath helm "$HELM4_VERSION" ;;
    traefik) binpath traefik "$TRAEFIK_VERSION" ;;
    pebble | pebble-challtestsrv) echo "$BIN/pebble-$PEBBLE_VERSION/$1" ;;
    cert-manager-controller | cert-manager-webhook | cert-manager-acmesolver) echo "$BIN/cert-manager-$CERT_MANAGER_VERSION/$1" ;;
    cert-manager-chart) echo "$BIN/cert-manager-$CERT_MANAGER_VERSION/chart" ;;
    gateway-api-crds) echo "$BIN/gateway-api-$GATEWAY_API_VERSION/crds" ;;
    *) die "unknown component $1" ;;
  esac
}

need_go() {
  command -v go >/dev/null || die "go is not on PATH (Go >= 1.26 is needed to build the test cluster)"
  local v; v="$(go env GOVERSION)"; v="${v#go}"
  local major="${v%%.*}" rest="${v#*.}"; local minor="${rest%%.*}"
  if ((major < 1 || (major == 1 && minor < 26))); then
    die "Go $v is too old; kwok $KWOK_VERSION, helm and etcd $ETCD_VERSION need Go >= 1.26 (try GOTOOLCHAIN=go1.26.0)"
  fi
}

# Field of `go mod download -json MOD@VER` (Dir, GoMod, Version, ...).
mod_field() { # mod_field MOD@VER FIELD
  (cd "$SRC" && go mod download -json "$1") | sed -n "s/^\t\"$2\": \"\(.*\)\",\{0,1\}$/\1/p" | head -n1
}
mod_origin_hash() { # VCS commit of MOD@VER as the proxy reports it (may be empty)
  (cd "$SRC" && go list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "$1" 2>/dev/null) || true
}

# Environment of every go command of the build: static binaries, no workspace, go.sum may be completed.
GOENV_BUILD=(CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod -buildvcs=false")

# Run a long go command in the background with a progress line every 30s.
run_with_progress() { # run_with_progress LABEL LOGFILE cmd...
  local label=$1 logf=$2; shift 2
  local start=$SECONDS
  "$@" >"$logf" 2>&1 &
  local pid=$! n=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    n=$((n + 2))
    if ((n % 30 == 0)); then
      log "  $label: $(elapsed "$start") elapsed, $(grep -c -v -E '^go: (downloading|finding|added|upgraded)' "$logf" 2>/dev/null || true) packages compiled, $(grep -c '^go: downloading' "$logf" 2>/dev/null || true) modules downloaded"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$logf" >&2
    die "$label failed after $(elapsed "$start") (full log: $logf)"
  fi
  log "  $label: done in $(elapsed "$start")"
}

# Prepare a wrapper module in $SRC/ID requiring MOD@VER (plus extra go.mod lines), resolve PKGS.
prepare_wrapper() { # prepare_wrapper ID MOD VER EXTRA_GOMOD_LINES PKG...
  local id=$1 mod=$2 ver=$3 extra=$4; shift 4
  local dir="$SRC/$id"
  if [[ -f "$dir/.ready" ]]; then return 0; fi
  rm -rf "$dir"; mkdir -p "$dir"
  local gomod; gomod="$(mod_field "$mod@$ver" GoMod)"
  [[ -f "$gomod" ]] || die "cannot fetch go.mod of $mod@$ver"
  local gover; gover="$(awk '$1 == "go" { print $2; exit }' "$gomod")"
  {
    echo "// Generated by test/cluster/cluster.sh: builds $mod $ver. Do not edit."
    echo "module homelab-ingress.test/cluster/$id"
    echo
    echo "go $gover"
    echo
    # keep the upstream module's GODEBUG defaults (they belong to the main module)
    awk '/^godebug \(/ { b = 1 } b || /^godebug / { print } b && /^\)/ { b = 0 }' "$gomod"
    echo
    echo "require $mod $ver"
    [[ -z "$extra" ]] || printf '%s\n' "$extra"
  } >"$dir/go.mod"
  local pkgs=() p
  for p in "$@"; do pkgs+=("$p@$ver"); done
  run_with_progress "$id: resolve + download modules" "$dir/get.log" \
    env -C "$dir" "${GOENV_BUILD[@]}" go get "${pkgs[@]}"
  touch "$dir/.ready"
}

# go build PKGS in wrapper $SRC/ID into OUTDIR (one binary per package, named after the last path element).
build_in_wrapper() { # build_in_wrapper ID OUTDIR LDFLAGS PKG...
  local id=$1 out=$2 ldflags=$3; shift 3
  mkdir -p "$out"
  local names; names="$(printf '%s ' "${@##*/}")"
  run_with_progress "$id: go build ${names% }" "$SRC/$id/build.log" \
    env -C "$SRC/$id" "${GOENV_BUILD[@]}" go build -p "$JOBS" -v -trimpath -ldflags "$ldflags" -o "$out/" "$@"
}

# Move OUT/NAME to the cache as NAME-VERSION/TARGET_NAME (or DIRNAME-VERSION/TARGET_NAME).
install_bin() { # install_bin TMPDIR SRCNAME NAME VERSION [DIRNAME]
  local d="$BIN/${5:-$3}-$4"
  mkdir -p "$d"
  mv -f "$1/$2" "$d/$3.tmp" && mv -f "$d/$3.tmp" "$d/$3"
}

build_k8s() {
  local want=() c
  for c in kube-controller-manager kube-scheduler kube-apiserver; do
    [[ $c == kube-apiserver ]] && assets_has kube-apiserver && continue
    [[ -x "$(binpath "$c" "$K8S_VERSION")" ]] || want+=("$c")
  done
  ((${#want[@]})) || { log "kubernetes $K8S_VERSION: cached"; return 0; }
  log "kubernetes $K8S_VERSION: building ${want[*]} (the long one: ~5 min cold on 2 cores)"
  local gomod stagingver replaces
  gomod="$(mod_field "k8s.io/kubernetes@$K8S_VERSION" GoMod)"
  stagingver="v0.${K8S_VERSION#v1.}"
  # k8s.io/kubernetes maps its ~31 staging modules to ./staging/...; point each at its published version.
  replaces="$(awk -v v="$stagingver" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "replace " $1 " => " $1 " " v }' "$gomod")"
  [[ -n "$replaces" ]] || die "no staging replace lines found in $gomod"
  prepare_wrapper "kubernetes-$K8S_VERSION" k8s.io/kubernetes "$K8S_VERSION" "$replaces" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  local commit date major minor ld=""
  commit="$(mod_origin_hash "k8s.io/kubernetes@$K8S_VERSION")"
  date="$(mod_field "k8s.io/kubernetes@$K8S_VERSION" Time)"
  major="${K8S_VERSION#v}"; major="${major%%.*}"
  minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitCommit=${commit:-unknown} -X $p.gitTreeState=clean -X $p.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  local tmp="$SRC/kubernetes-$K8S_VERSION/out"
  rm -rf "$tmp"
  build_in_wrapper "kubernetes-$K8S_VERSION" "$tmp" "-s -w$ld" "${want[@]/#/k8s.io/kubernetes/cmd/}"
  for c in "${want[@]}"; do install_bin "$tmp" "$c" "$c" "$K8S_VERSION"; done
}

build_etcd() {
  if assets_has etcd; then log "etcd: using \$KUBEBUILDER_ASSETS/etcd"; return 0; fi
  [[ -x "$(binpath etcd "$ETCD_VERSION")" ]] && { log "etcd $ETCD_VERSION: cached"; return 0; }
  log "etcd $ETCD_VERSION: building"
  prepare_wrapper "etcd-$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" go.etcd.io/etcd/server/v3
  local commit tmp="$SRC/etcd-$ETCD_VERSION/out"
  commit="$(mod_origin_hash "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"; commit="${commit:0:9}"
  rm -rf "$tmp"
  build_in_wrapper "etcd-$ETCD_VERSION" "$tmp" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:-unknown}" go.etcd.io/etcd/server/v3
  install_bin "$tmp" server etcd "$ETCD_VERSION"  # go names it after the path without /v3
}

build_kwok() {
  local b; b="$(binpath kwok "$KWOK_VERSION")"
  [[ -x "$b" && -f "$(dirname "$b")/stages.yaml" ]] && { log "kwok $KWOK_VERSION: cached"; return 0; }
  log "kwok $KWOK_VERSION: building"
  prepare_wrapper "kwok-$KWOK_VERSION" sigs.k8s.io/kwok "$KWOK_VERSION" "" sigs.k8s.io/kwok/cmd/kwok
  local tmp="$SRC/kwok-$KWOK_VERSION/out"
  rm -rf "$tmp"
  build_in_wrapper "kwok-$KWOK_VERSION" "$tmp" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION" sigs.k8s.io/kwok/cmd/kwok
  # kwok >= v0.7 has no built-in stages: ship the module's own "fast" node/pod stages next to the binary
  # (the same set kwokctl configures: node-initialize, node-heartbeat-with-lease, pod-ready/complete/delete).
  local dir; dir="$(mod_field "sigs.k8s.io/kwok@$KWOK_VERSION" Dir)"
  local st="$tmp/stages.yaml" f
  : >"$st"
  for f in "$dir"/kustomize/stage/node/fast/*.yaml "$dir"/kustomize/stage/node/heartbeat-with-lease/*.yaml "$dir"/kustomize/stage/pod/fast/*.yaml; do
    [[ "$(basename "$f")" == kustomization.yaml ]] && continue
    { echo "---"; echo "# from sigs.k8s.io/kwok@$KWOK_VERSION/${f#"$dir"/}"; cat "$f"; } >>"$st"
  done
  grep -q 'kind: Stage' "$st" || die "no kwok stages found under $dir/kustomize/stage"
  mkdir -p "$BIN/kwok-$KWOK_VERSION"
  mv -f "$st" "$BIN/kwok-$KWOK_VERSION/stages.yaml"
  install_bin "$tmp" kwok kwok "$KWOK_VERSION"
}

build_metallb() {
  local b; b="$(binpath metallb-controller "$METALLB_VERSION")"
  [[ -x "$b" && -d "$(dirname "$b")/crds" && -f "$(dirname "$b")/webhook-manifests.yaml" ]] && { log "metallb controller $METALLB_VERSION: cached"; return 0; }
  log "metallb controller $METALLB_VERSION: building"
  local src="$SRC/metallb-$METALLB_VERSION" dir commit
  mkdir -p "$src"
  dir="$(mod_field "go.universe.tf/metallb@$METALLB_VERSION" Dir)"
  [[ -f "$dir/go.mod" ]] || die "cannot fetch go.universe.tf/metallb@$METALLB_VERSION"
  commit="$(mod_origin_hash "go.universe.tf/metallb@$METALLB_VERSION")"
  # built as the main module from a copy of its source: its own go.mod and go.sum pin the dependencies
  rm -rf "$src/module"; cp -r "$dir" "$src/module"; chmod -R u+w "$src/module"
  metallb_listen_on_loopback "$src/module"
  local tmp="$src/out"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_with_progress "metallb-$METALLB_VERSION: go build controller" "$src/build.log" \
    env -C "$src/module" "${GOENV_BUILD[@]}" go build -p "$JOBS" -v -trimpath \
    -ldflags "-s -w -X go.universe.tf/metallb/internal/version.gitCommit=${commit:-unknown} -X go.universe.tf/metallb/internal/version.gitBranch=$METALLB_VERSION" \
    -o "$tmp/" ./controller
  local d="$BIN/metallb-controller-$METALLB_VERSION"
  mkdir -p "$d"
  rm -rf "$d/crds"
  cp -r "$dir/config/crd/bases" "$d/crds"
  # the validating webhooks as MetalLB registers them; start_metallb points them at the controller
  cp "$dir/config/webhook/manifests.yaml" "$d/webhook-manifests.yaml"
  chmod -R u+w "$d/crds" "$d/webhook-manifests.yaml"
  install_bin "$tmp" controller metallb-controller "$METALLB_VERSION"
}

# In a pod, MetalLB's controller has a network namespace of its own; here all test clusters on the machine
# share one. Its three listeners (webhook server: all interfaces, port 9443; metrics and health probe: all
# interfaces) have no host flag and the webhook no port flag, so two clusters would collide and all would
# listen beyond loopback (and an invalid metrics port, which 0.15 survived, stops 0.16). This changes only
# where those three listen, in the build's copy of the source: 127.0.0.1, the webhook on
# $HOMELAB_INGRESS_METALLB_WEBHOOK_PORT. What they serve is MetalLB's.
metallb_listen_on_loopback() { # metallb_listen_on_loopback MODULE_COPY
  local f="$1/internal/k8s/k8s.go"
  local webhook=$'\t\tPort:    9443,' metrics=$'\t\tBindAddress:    fmt.Sprintf("0.0.0.0:%d", cfg.MetricsPort),'
  local probe=$'\t\tHealthProbeBindAddress: cfg.HealthProbeBindAddress,' line
  for line in "$webhook" "$metrics" "$probe"; do
    [[ "$(grep -cxF "$line" "$f")" == 1 ]] \
      || die "MetalLB $METALLB_VERSION: internal/k8s/k8s.go lacks the line${line//$'\t'/ }; update metallb_listen_on_loopback"
  done
  awk -v w="$webhook" -v m="$metrics" -v p="$probe" '
    $0 == w { print "\t\tHost: \"127.0.0.1\", Port: homelabIngressWebhookPort(),"; next }
    $0 == m { print "\t\tBindAddress: fmt.Sprintf(\"127.0.0.1:%d\", cfg.MetricsPort),"; next }
    $0 == p { print "\t\tHealthProbeBindAddress: \"127.0.0.1\" + cfg.HealthProbeBindAddress,"; next }
    { print }' "$f" >"$f.new" && mv "$f.new" "$f"
  cat >"$1/internal/k8s/homelab_ingress_listen.go" <<'EOF'
// Added at build time by homelab-ingress test/cluster/cluster.sh; not part of MetalLB.

package k8s

import (
	"os"
	"strconv"
)

// homelabIngressWebhookPort is the webhook server's port in the test cluster (MetalLB's own: 9443).
func homelabIngressWebhookPort() int {
	if port, err := strconv.Atoi(os.Getenv("HOMELAB_INGRESS_METALLB_WEBHOOK_PORT")); err == nil {
		return port
	}
	return 9443
}
EOF
}

build_helm() { # build_helm VERSION
  local ver=$1 major; major="${1%%.*}"
  [[ -x "$(binpath helm "$ver")" ]] && { log "helm $ver: cached"; return 0; }
  log "helm $ver: building"
  prepare_wrapper "helm-$ver" "helm.sh/helm/$major" "$ver" "" "helm.sh/helm/$major/cmd/helm"
  local commit tmp="$SRC/helm-$ver/out" ld
  commit="$(mod_origin_hash "helm.sh/helm/$major@$ver")"
  ld="-s -w -X helm.sh/helm/$major/internal/version.version=$ver -X helm.sh/helm/$major/internal/version.gitCommit=${commit:-unknown} -X helm.sh/helm/$major/internal/version.gitTreeState=clean"
  if [[ $major == v3 ]]; then
    # as helm's Makefile: the default kube version follows the client-go it was built with
    local cg; cg="$(env -C "$SRC/helm-$ver" "${GOENV_BUILD[@]}" go list -m -f '{{.Version}}' k8s.io/client-go)"
    cg="${cg#v0.}"; cg="${cg%%.*}"
    ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$cg"
    ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$cg"
  fi
  rm -rf "$tmp"
  build_in_wrapper "helm-$ver" "$tmp" "$ld" "helm.sh/helm/$major/cmd/helm"
  install_bin "$tmp" helm helm "$ver"
}

# Traefik's own replace and exclude directives (one per line, block form flattened) from its go.mod.
# They apply only in the main module, so a wrapper must repeat them.
gomod_replace_exclude() { # gomod_replace_exclude GOMOD
  awk '
    /^(replace|exclude) \($/ { blk = $1; next }
    blk && /^\)$/ { blk = ""; next }
    blk && NF { sub(/^[ \t]+/, ""); sub(/[ \t]*\/\/.*$/, ""); print blk " " $0; next }
    /^(replace|exclude) [^(]/ { sub(/[ \t]*\/\/.*$/, ""); print }
  ' "$1"
}

# The dashboard's index page: the module zip's webui/static holds only a placeholder (the real UI is built
# with yarn in Traefik's release pipeline), so /dashboard/ would answer 404. This page is a template like the
# real one (Traefik fills in APIUrl) and says what it is.
traefik_dashboard_stub() {
  cat <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Traefik Proxy (test build)</title>
{{if .APIUrl}}<script>window.APIUrl = "{{.APIUrl}}"</script>{{end}}
</head>
<body><p>Traefik dashboard (test build, built by homelab-ingress test/cluster/cluster.sh: no web UI assets). The API is at {{.APIUrl}}.</p></body>
</html>
EOF
}

# Go modules nested in Traefik's repository that its go.mod replaces with a directory (v3.7:
# `replace github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext`). A module zip never holds
# a nested module's directory, and the module is not on the proxy: its path does not name the directory it
# lives in (so no proxy or VCS lookup can find it), and the proxy answers 403/404 for it. It is Traefik's
# "routing configuration extension points": empty structs (`type HTTP struct{}`, `type Router struct{}`)
# that dynamic.HTTPConfiguration and dynamic.Router embed inline, there for downstream distributions to
# fill. This writes that module: a go.mod, and one empty struct type for each exported name the source
# copy uses from it. It stops if the source copy uses a name other than as a type (a function or method
# call would need real code) or if another nested module is missing.
traefik_nested_module() { # traefik_nested_module SOURCE_COPY MODULE_PATH DIR GO_VERSION
  local source=$1 modpath=$2 rel=$3 gover=$4
  local d="$source/$rel"
  [[ -f "$d/go.mod" ]] && return 0
  [[ $modpath == github.com/traefik/traefik/dynamic/ext ]] \
    || die "Traefik's go.mod replaces $modpath with ./$rel, which the module zip lacks, and this script knows no way to produce it"
  local importers names
  importers="$(grep -rl --include='*.go' "\"$modpath\"" "$source" || true)"
  [[ -n "$importers" ]] || die "no file of $source imports $modpath"
  # shellcheck disable=SC2086
  names="$(grep -ohE '\bext\.[A-Z][A-Za-z0-9_]*' $importers | sed 's/^ext\.//' | sort -u)"
  [[ -n "$names" ]] || die "files importing $modpath use nothing from it: $importers"
  # shellcheck disable=SC2086
  if grep -nE '\bext\.[A-Za-z0-9_]+ *\(|\bext\.[A-Za-z0-9_]+\.[A-Za-z]' $importers; then
    die "Traefik calls into $modpath (lines above): an empty-struct stub of it would not do; update traefik_nested_module"
  fi
  mkdir -p "$d"
  printf 'module %s\n\ngo %s\n' "$modpath" "$gover" >"$d/go.mod"
  {
    echo "// Generated by homelab-ingress test/cluster/cluster.sh: Traefik's routing configuration extension"
    echo "// points, which the open-source build leaves empty (the module zip lacks this nested module)."
    echo "package ${modpath##*/}"
    local n
    for n in $names; do printf '\n// %s is an empty extension point embedded by Traefik'"'"'s dynamic configuration.\ntype %s struct{}\n' "$n" "$n"; done
  } >"$d/${modpath##*/}.go"
  log "  $modpath: generated ./$rel (empty structs: $(echo $names))"
}

build_traefik() {
  local b mod=github.com/traefik/traefik/v3 id="traefik-$TRAEFIK_VERSION"
  b="$(binpath traefik "$TRAEFIK_VERSION")"
  [[ -x "$b" ]] && { log "traefik $TRAEFIK_VERSION: cached"; return 0; }
  log "traefik $TRAEFIK_VERSION: building (~11 min cold on 2 cores, ~3 GB memory)"
  local gomod dir extra gover
  gomod="$(mod_field "$mod@$TRAEFIK_VERSION" GoMod)"
  dir="$(mod_field "$mod@$TRAEFIK_VERSION" Dir)"
  [[ -f "$gomod" && -d "$dir" ]] || die "cannot fetch $mod@$TRAEFIK_VERSION from the Go module proxy"
  gover="$(awk '$1 == "go" { print $2; exit }' "$gomod")"
  # Traefik's replace/exclude lines; a replace with a directory (a module nested in Traefik's repository)
  # is relative to Traefik's module root, so in the wrapper it points into the source copy below.
  local source="$SRC/$id-source" line nested=()
  local re_inside='^replace ([^ ]+) => \./([^ ]+)$' re_outside='^replace [^ ]+ => \.\./'
  extra=""
  while IFS= read -r line; do
    if [[ $line =~ $re_inside ]]; then
      nested+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]}")
      line="replace ${BASH_REMATCH[1]} => ../$id-source/${BASH_REMATCH[2]}"
    elif [[ $line =~ $re_outside ]]; then
      die "Traefik's go.mod replaces a module with a directory outside its own module: $line"
    fi
    extra+="${extra:+$'\n'}$line"
  done < <(gomod_replace_exclude "$gomod")
  [[ "$extra" == *"replace "* ]] || die "no replace directives found in $gomod (Traefik needs its forks of go-http-auth and mux)"
  # A copy of the module's source with a stub dashboard page in webui/static (embedded at compile time)
  # and the nested modules its go.mod points at.
  if [[ ! -f "$source/.ready" ]]; then
    rm -rf "$source"
    cp -r "$dir" "$source"
    chmod -R u+w "$source"
    traefik_dashboard_stub >"$source/webui/static/index.html"
    local n
    for n in "${nested[@]}"; do traefik_nested_module "$source" "${n%% *}" "${n#* }" "$gover"; done
    touch "$source/.ready"
  fi
  extra+=$'\n'"// Traefik itself comes from the copy above (same version, plus the stub dashboard page)"
  extra+=$'\n'"replace $mod => ../$id-source"
  prepare_wrapper "$id" "$mod" "$TRAEFIK_VERSION" "$extra" "$mod/cmd/traefik"
  local date tmp="$SRC/$id/out" v="github.com/traefik/traefik/v3/pkg/version"
  date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(mod_field "$mod@$TRAEFIK_VERSION" Info)")"
  rm -rf "$tmp"
  build_in_wrapper "$id" "$tmp" "-s -w -X $v.Version=$TRAEFIK_VERSION -X $v.Codename=cheddar -X $v.BuildDate=${date:-unknown}" "$mod/cmd/traefik"
  install_bin "$tmp" traefik traefik "$TRAEFIK_VERSION"
}

build_pebble() {
  local d="$BIN/pebble-$PEBBLE_VERSION" mod=github.com/letsencrypt/pebble/v2
  [[ -x "$d/pebble" && -x "$d/pebble-challtestsrv" && -f "$d/certs/pebble.minica.pem" ]] && { log "pebble $PEBBLE_VERSION: cached"; return 0; }
  log "pebble $PEBBLE_VERSION: building pebble, pebble-challtestsrv"
  prepare_wrapper "pebble-$PEBBLE_VERSION" "$mod" "$PEBBLE_VERSION" "" "$mod/cmd/pebble" "$mod/cmd/pebble-challtestsrv"
  local tmp="$SRC/pebble-$PEBBLE_VERSION/out"
  rm -rf "$tmp"
  build_in_wrapper "pebble-$PEBBLE_VERSION" "$tmp" "-s -w -X main.version=$PEBBLE_VERSION" "$mod/cmd/pebble" "$mod/cmd/pebble-challtestsrv"
  # Pebble's own test certificate for its HTTPS listener (127.0.0.1/localhost) and the CA that signed it
  # (what an ACME client must trust to talk to Pebble), from the same module.
  local dir; dir="$(mod_field "$mod@$PEBBLE_VERSION" Dir)"
  [[ -f "$dir/test/certs/pebble.minica.pem" && -f "$dir/test/certs/localhost/cert.pem" ]] || die "Pebble's test certificates are missing from $dir/test/certs"
  rm -rf "$d/certs"
  mkdir -p "$d/certs"
  cp "$dir/test/certs/pebble.minica.pem" "$dir/test/certs/localhost/cert.pem" "$dir/test/certs/localhost/key.pem" "$d/certs/"
  chmod -R u+w "$d/certs"
  install_bin "$tmp" pebble-challtestsrv pebble-challtestsrv "$PEBBLE_VERSION" pebble
  install_bin "$tmp" pebble pebble "$PEBBLE_VERSION"
}

# cert-manager: the proxy serves github.com/cert-manager/cert-manager, not its cmd/* modules (each is a module
# of its own with a replace to ../../). Our own mains (test/cluster/cert-manager/{controller,webhook,acmesolver})
# are put into a copy of the module's source as cmd/homelab-ingress/<name> and built there, as the main module:
# its own go.mod and go.sum pin every dependency, and the webhook can use the server wiring in internal/.
# Nothing of cert-manager's source is in this repository. The chart (deploy/charts/cert-manager: CRDs,
# webhook registrations, RBAC) is kept next to the binaries with its version set, as cert-manager's release
# tooling does.
build_cert_manager() {
  local v=$CERT_MANAGER_VERSION mod=github.com/cert-manager/cert-manager
  local d="$BIN/cert-manager-$v" src="$SRC/cert-manager-$v"
  piece_built cert-manager && { log "cert-manager $v: cached"; return 0; }
  log "cert-manager $v: building controller, webhook, acmesolver (~8 min cold on 2 cores)"
  local dir commit
  dir="$(mod_field "$mod@$v" Dir)"
  [[ -f "$dir/go.mod" ]] || die "cannot fetch $mod@$v from the Go module proxy"
  commit="$(mod_origin_hash "$mod@$v")"
  mkdir -p "$src"
  rm -rf "$src/module"; cp -r "$dir" "$src/module"; chmod -R u+w "$src/module"
  [[ ! -e "$src/module/cmd/homelab-ingress" ]] || die "$mod@$v has a cmd/homelab-ingress of its own; rename ours in build_cert_manager"
  mkdir -p "$src/module/cmd/homelab-ingress"
  local m
  for m in controller webhook acmesolver; do
    [[ -f "$HERE/cert-manager/$m/main.go" ]] || die "missing $HERE/cert-manager/$m/main.go"
    cp -r "$HERE/cert-manager/$m" "$src/module/cmd/homelab-ingress/$m"
  done
  cert_manager_listen_on_loopback "$src/module"
  local tmp="$src/out"
  rm -rf "$tmp"; mkdir -p "$tmp"
  run_with_progress "cert-manager-$v: go build controller webhook acmesolver" "$src/build.log" \
    env -C "$src/module" "${GOENV_BUILD[@]}" go build -p "$JOBS" -v -trimpath \
    -ldflags "-s -w -X $mod/pkg/util.AppVersion=$v -X $mod/pkg/util.AppGitCommit=${commit:-unknown}" \
    -o "$tmp/" ./cmd/homelab-ingress/controller ./cmd/homelab-ingress/webhook ./cmd/homelab-ingress/acmesolver
  mkdir -p "$d"
  rm -rf "$d/chart"
  cp -r "$dir/deploy/charts/cert-manager" "$d/chart"
  chmod -R u+w "$d/chart"
  # the module's chart says v0.0.0 (the release tool sets the version); the image tags follow appVersion
  sed -i -e "s/^version: .*/version: $v/" -e "s/^appVersion: .*/appVersion: $v/" "$d/chart/Chart.yaml"
  grep -qx "version: $v" "$d/chart/Chart.yaml" || die "could not set the version in $d/chart/Chart.yaml"
  for m in controller webhook acmesolver; do install_bin "$tmp" "$m" "cert-manager-$m" "$v" cert-manager; done
  cert_manager_stamp >"$d/homelab-ingress-sources"
}

# What our side of the build was made from (the mains and these two functions): a change rebuilds the piece
# although CERT_MANAGER_VERSION stays the same.
cert_manager_stamp() {
  { cat "$HERE"/cert-manager/*/main.go; declare -f build_cert_manager cert_manager_listen_on_loopback; } | sha256sum | cut -c1-16
}

# In a pod, cert-manager's webhook and an HTTP-01 solver have a network namespace of their own; here they
# share the machine's. Both take only a port (the webhook: --secure-port; the solver: --listen-port) and listen
# on all interfaces. This makes exactly those two listeners bind to $HOMELAB_INGRESS_LISTEN_HOST (default
# 127.0.0.1), in the build's copy of the source; the build stops if a line it rewrites is not found.
cert_manager_listen_on_loopback() { # cert_manager_listen_on_loopback MODULE_COPY
  local webhook="$1/pkg/webhook/server/server.go" solver="$1/pkg/issuer/acme/http/solver/solver.go"
  local wl=$'\t\tPort: s.ListenAddr,' sl=$'\t\tAddr:              fmt.Sprintf(":%d", h.ListenPort),'
  [[ "$(grep -cxF "$wl" "$webhook")" == 1 ]] || die "cert-manager $CERT_MANAGER_VERSION: pkg/webhook/server/server.go lacks the line${wl//$'\t'/ }; update cert_manager_listen_on_loopback"
  [[ "$(grep -cxF "$sl" "$solver")" == 1 ]] || die "cert-manager $CERT_MANAGER_VERSION: pkg/issuer/acme/http/solver/solver.go lacks the line${sl//$'\t'/ }; update cert_manager_listen_on_loopback"
  awk -v l="$wl" '$0 == l { print "\t\tHost: homelabIngressListenHost(), Port: s.ListenAddr,"; next } { print }' "$webhook" >"$webhook.new" && mv "$webhook.new" "$webhook"
  awk -v l="$sl" '$0 == l { print "\t\tAddr:              fmt.Sprintf(\"%s:%d\", homelabIngressListenHost(), h.ListenPort),"; next } { print }' "$solver" >"$solver.new" && mv "$solver.new" "$solver"
  local pkg f
  for f in "$webhook" "$solver"; do
    pkg="$(awk '$1 == "package" { print $2; exit }' "$f")"
    cat >"$(dirname "$f")/homelab_ingress_listen.go" <<EOF
// Added at build time by homelab-ingress test/cluster/cluster.sh; not part of cert-manager.

package $pkg

import "os"

// homelabIngressListenHost is where the listener binds in the test cluster (cert-manager's own: all interfaces).
func homelabIngressListenHost() string {
	if h := os.Getenv("HOMELAB_INGRESS_LISTEN_HOST"); h != "" {
		return h
	}
	return "127.0.0.1"
}
EOF
  done
}

# Gateway API CRDs (standard channel: GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant,
# BackendTLSPolicy), copied from the sigs.k8s.io/gateway-api module's config/crd/standard, as its release's
# standard-install.yaml is made. Nothing to build; no binary.
build_gateway_api() {
  local v=$GATEWAY_API_VERSION d="$BIN/gateway-api-$GATEWAY_API_VERSION" dir
  piece_built gateway-api && { log "gateway-api $v: cached"; return 0; }
  log "gateway-api $v: copying the standard-channel CRDs"
  mkdir -p "$SRC"
  dir="$(mod_field "sigs.k8s.io/gateway-api@$v" Dir)"
  [[ -n "$dir" && -d "$dir/config/crd/standard" ]] || die "gateway-api $v: config/crd/standard missing from the module (dir: ${dir:-none})"
  rm -rf "$d.tmp"
  mkdir -p "$d.tmp/crds"
  cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$d.tmp/crds/"
  chmod -R u+w "$d.tmp"
  rm -rf "$d"
  mv "$d.tmp" "$d"
}

# Pieces `build` knows, smallest first (so a stopped run still leaves something useful in the cache).
# The cluster needs the first group; real Traefik and Pebble are for test/integration/real-traefik.test.ts.
CLUSTER_PIECES=(helm metallb kwok etcd kubernetes helm4)
TOOL_PIECES=(pebble cert-manager gateway-api traefik)
ALL_PIECES=(helm metallb kwok pebble etcd kubernetes helm4 cert-manager gateway-api traefik)

piece_built() { # piece_built PIECE
  local c
  case "$1" in
    helm) [[ -x "$(resolve helm)" ]] ;;
    helm4) [[ -z "${HELM4_VERSION:-}" || -x "$(resolve helm4)" ]] ;;
    metallb) [[ -x "$(resolve metallb-controller)" && -d "$BIN/metallb-controller-$METALLB_VERSION/crds" && -f "$BIN/metallb-controller-$METALLB_VERSION/webhook-manifests.yaml" ]] ;;
    kwok) [[ -x "$(resolve kwok)" && -f "$BIN/kwok-$KWOK_VERSION/stages.yaml" ]] ;;
    etcd) [[ -x "$(resolve etcd)" ]] ;;
    kubernetes) for c in kube-apiserver kube-controller-manager kube-scheduler; do [[ -x "$(resolve "$c")" ]] || return 1; done ;;
    pebble) [[ -x "$(resolve pebble)" && -x "$(resolve pebble-challtestsrv)" && -f "$BIN/pebble-$PEBBLE_VERSION/certs/pebble.minica.pem" ]] ;;
    traefik) [[ -x "$(resolve traefik)" ]] ;;
    cert-manager) for c in cert-manager-controller cert-manager-webhook cert-manager-acmesolver; do [[ -x "$(resolve "$c")" ]] || return 1; done
      [[ -f "$(resolve cert-manager-chart)/Chart.yaml" ]] \
        && [[ "$(cat "$BIN/cert-manager-$CERT_MANAGER_VERSION/homelab-ingress-sources" 2>/dev/null)" == "$(cert_manager_stamp)" ]] ;;
    gateway-api) [[ -f "$(resolve gateway-api-crds)/gateway.networking.k8s.io_gateways.yaml" && -f "$(resolve gateway-api-crds)/gateway.networking.k8s.io_httproutes.yaml" ]] ;;
    *) die "unknown piece '$1' (known: ${ALL_PIECES[*]})" ;;
  esac
}

build_piece() { # build_piece PIECE
  case "$1" in
    gateway-api) build_gateway_api ;;
    helm) build_helm "$HELM3_VERSION" ;;
    helm4) if [[ -n "${HELM4_VERSION:-}" ]]; then build_helm "$HELM4_VERSION"; fi ;;
    metallb) build_metallb ;;
    kwok) build_kwok ;;
    etcd) build_etcd ;;
    kubernetes) build_k8s ;;
    pebble) build_pebble ;;
    traefik) build_traefik ;;
    cert-manager) build_cert_manager ;;
    *) die "unknown piece '$1' (known: ${ALL_PIECES[*]})" ;;
  esac
}

# PIECE arguments into PIECES: piece names, or `cluster` for every piece the cluster itself needs.
PIECES=()
expand_pieces() {
  local p
  PIECES=()
  for p in "$@"; do
    if [[ $p == cluster ]]; then PIECES+=("${CLUSTER_PIECES[@]}")
    elif [[ " ${ALL_PIECES[*]} " == *" $p "* ]]; then PIECES+=("$p")
    else die "unknown piece '$p' (known: ${ALL_PIECES[*]}, or cluster)"; fi
  done
}

all_built() { # all_built [PIECE...]  (default: every piece)
  local p
  (($#)) || set -- "${ALL_PIECES[@]}"
  expand_pieces "$@"
  for p in "${PIECES[@]}"; do piece_built "$p" || return 1; done
}

# build [PIECE...]: a whole build holds $CACHE/.build.lock (one at a time per machine: they are heavy);
# each piece also holds its own lock, so `build traefik` can run beside a whole build of other pieces.
cmd_build() {
  local pieces=() p
  (($#)) || set -- "${ALL_PIECES[@]}"
  expand_pieces "$@"
  pieces=("${PIECES[@]}")
  mkdir -p "$BIN" "$SRC" "$CACHE/locks"
  if (($# == 0)); then
    exec 8>"$CACHE/.build.lock"
    if ! flock -n 8; then log "another build holds $CACHE/.build.lock; waiting"; flock 8; fi
  fi
  if all_built "${pieces[@]}"; then log "all binaries cached in $BIN (${pieces[*]})"; return 0; fi
  need_go
  local start=$SECONDS
  log "building ${pieces[*]} into $BIN (go $(go env GOVERSION), -p $JOBS; progress every 30s)"
  for p in "${pieces[@]}"; do
    exec 7>"$CACHE/locks/build-$p.lock"
    if ! flock -n 7; then log "$p: another build of it is running; waiting"; flock 7; fi
    build_piece "$p"
    exec 7>&-
  done
  all_built "${pieces[@]}" || die "build finished but some binaries are missing"
  log "build done in $(elapsed "$start"); cache: $(du -sh "$BIN" | cut -f1) binaries in $BIN"
}

# ---------------------------------------------------------------------------------------------
# process management
# ---------------------------------------------------------------------------------------------

pidfile() { echo "$STATE/pids/$1.pid"; }

# PID of a running component, or fail. Checks the PID still runs the recorded binary.
running_pid() {
  local f; f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  local pid exe
  read -r pid exe <"$f" || true
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$exe")" ]] || return 1
  echo "$pid"
}

# spawn NAME BINARY ARGS...  (env for the process: pass via `env` prefix in BINARY position is not allowed;
# set SPAWN_ENV=(K=V ...) before calling)
spawn() {
  local name=$1 bin=$2; shift 2
  mkdir -p "$STATE/pids" "$STATE/logs"
  local logf="$STATE/logs/$name.log"
  echo "=== $(date -u +%FT%TZ) starting $bin $*" >>"$logf"
  # setsid: own session, so a Ctrl-C in the calling shell does not take the cluster down with it;
  # fds 8/9 are this script's locks and must not be inherited by the daemons
  env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT "${SPAWN_ENV[@]}" \
    setsid "$bin" "$@" </dev/null >>"$logf" 2>&1 8>&- 9<&- &
  local pid=$! i
  echo "$pid $bin" >"$(pidfile "$name")"
  SPAWN_ENV=()
  # wait (briefly) until env/setsid have exec'd the binary, so running_pid recognises it
  for ((i = 0; i < 50; i++)); do
    [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$bin")" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
}
SPAWN_ENV=()

# stop_components [--kill] NAME...: SIGTERM all (SIGKILL with --kill), wait up to CLUSTER_STOP_GRACE
# seconds (default 5; kube-apiserver can take longer than that to exit after it has shut down), then SIGKILL.
stop_components() {
  local sig=TERM
  if [[ "${1:-}" == --kill ]]; then sig=KILL; shift; fi
  local name pid pids=() names=()
  for name in "$@"; do
    if pid="$(running_pid "$name")"; then
      kill -"$sig" "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
    rm -f "$(pidfile "$name")"
  done
  ((${#pids[@]})) || return 0
  local i alive grace="${CLUSTER_STOP_GRACE:-5}"
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  log "stopped ${names[*]} (SIG$sig)"
}

# wait_for DESCRIPTION TIMEOUT COMPONENT cmd...: poll cmd until success; fail early if COMPONENT died.
wait_for() {
  local what=$1 timeout=$2 comp=$3; shift 3
  local start=$SECONDS next=$((SECONDS + 10))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$comp" ]] && ! running_pid "$comp" >/dev/null; then
      tail -n 30 "$STATE/logs/$comp.log" >&2 || true
      die "$comp exited while waiting for $what (log: $STATE/logs/$comp.log)"
    fi
    if ((SECONDS - start >= timeout)); then
      [[ -z "$comp" ]] || tail -n 30 "$STATE/logs/$comp.log" >&2 || true
      die "timed out after ${timeout}s waiting for $what"
    fi
    if ((SECONDS >= next)); then log "  still waiting for $what ($((SECONDS - start))s)"; next=$((SECONDS + 10)); fi
    sleep 0.5
  done
  log "$what ($((SECONDS - start))s)"
}

# ---------------------------------------------------------------------------------------------
# cluster state: ports, PKI, kubeconfigs
# ---------------------------------------------------------------------------------------------

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# Free TCP ports on 127.0.0.1 (distinct from each other), below the kernel's ephemeral range: a port in
# that range can be the local end of any outgoing connection (kube-apiserver's to etcd, say) by the time
# it is bound, and then bind fails with "address already in use".
pick_ports() { # pick_ports N
  local n=$1 got=() p tries=0 lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  ((lo > 12000)) || lo=32768
  while ((${#got[@]} < n)); do
    ((tries++ < 1000)) || die "no free ports found"
    p=$((10000 + RANDOM % (lo - 10000)))
    # in use in any state, TCP or UDP
    ss -Htuan "sport = :$p" 2>/dev/null | grep -q . && continue
    [[ " ${got[*]} " == *" $p "* ]] && continue
    got+=("$p")
  done
  echo "${got[@]}"
}

gen_pki() {
  local d="$STATE/pki"
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=homelab-test-ca" -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    # cert NAME SUBJECT EXTKEYUSAGE [SAN]
    cert() {
      key "$1.key"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$3"
        [[ -z "${4:-}" ]] || echo "subjectAltName=$4"
      } >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    local san="IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1"
    cert apiserver "/CN=kube-apiserver" serverAuth "$san"
    cert kwok-serving "/CN=kwok" serverAuth "IP:127.0.0.1,DNS:localhost"
    cert admin "/O=system:masters/CN=homelab-test-admin" clientAuth
    cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
    cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
    cert kwok "/O=system:masters/CN=kwok-controller" clientAuth
    cert metallb-controller "/O=system:masters/CN=metallb-controller" clientAuth
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
    key sa.key
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ca.srl
  )
}

b64() { base64 -w0 <"$1"; }

write_kubeconfig() { # write_kubeconfig FILE USER_CERT_NAME
  local f=$1 u=$2
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CONTEXT
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$STATE/pki/ca.crt")
users:
- name: $CONTEXT-$u
  user:
    client-certificate-data: $(b64 "$STATE/pki/$u.crt")
    client-key-data: $(b64 "$STATE/pki/$u.key")
contexts:
- name: $CONTEXT
  context:
    cluster: $CONTEXT
    user: $CONTEXT-$u
current-context: $CONTEXT
EOF
  chmod 600 "$f"
}

load_ports() {
  [[ -f "$STATE/ports.env" ]] || return 1
  # shellcheck disable=SC1091
  source "$STATE/ports.env"
}

init_state() {
  mkdir -p "$STATE"/{pids,logs,kubeconfigs,etcd,certs}
  chmod 700 "$STATE"
  local p
  read -r -a p <<<"$(pick_ports 7)"
  cat >"$STATE/ports.env" <<EOF
ETCD_PORT=${p[0]}
ETCD_PEER_PORT=${p[1]}
API_PORT=${p[2]}
KCM_PORT=${p[3]}
SCHED_PORT=${p[4]}
KWOK_PORT=${p[5]}
METALLB_METRICS_PORT=${p[6]}
EOF
  load_ports
  gen_pki
  write_kubeconfig "$STATE/kubeconfig" admin
  local c
  for c in kube-controller-manager kube-scheduler kwok metallb-controller; do
    write_kubeconfig "$STATE/kubeconfigs/$c.kubeconfig" "$c"
  done
}

apiserver_version() { "$(resolve kube-apiserver)" --version 2>/dev/null | awk '{ print $2; exit }'; }

check_skew() {
  assets_has kube-apiserver || return 0
  local v; v="$(apiserver_version)"
  local a="${v#v1.}" b="${K8S_VERSION#v1.}"
  a="${a%%.*}"; b="${b%%.*}"
  if [[ "$a" != "$b" ]]; then
    log "WARNING: \$KUBEBUILDER_ASSETS/kube-apiserver is $v but kube-controller-manager/kube-scheduler are $K8S_VERSION;"
    log "         they must not be newer than the apiserver (set K8S_VERSION in test/cluster/versions.env to match)"
  fi
}

write_env() {
  mkdir -p "$STATE/bin" "$STATE/helm"
  ln -sfn "$(resolve helm)" "$STATE/bin/helm"
  if [[ -n "${HELM4_VERSION:-}" && -x "$(resolve helm4)" ]]; then ln -sfn "$(resolve helm4)" "$STATE/bin/helm4"; fi
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler etcd kwok metallb-controller; do
    ln -sfn "$(resolve "$c")" "$STATE/bin/$c"
  done
  if assets_has kubectl; then ln -sfn "$KUBEBUILDER_ASSETS/kubectl" "$STATE/bin/kubectl"; fi
  cat >"$STATE/env" <<EOF
# Generated by test/cluster/cluster.sh up. Source it: . .cluster/env
export KUBECONFIG='$STATE/kubeconfig'
export PATH='$STATE/bin':"\$PATH"
export HOMELAB_INGRESS_CLUSTER_DIR='$STATE'
export HOMELAB_INGRESS_KUBE_CONTEXT='$CONTEXT'
export HOMELAB_INGRESS_APISERVER='https://127.0.0.1:$API_PORT'
export HOMELAB_INGRESS_K8S_VERSION='$(apiserver_version)'
export HOMELAB_INGRESS_METALLB_VERSION='$METALLB_VERSION'
export HOMELAB_INGRESS_HELM='$STATE/bin/helm'
export HOMELAB_INGRESS_HELM4='$([[ -e "$STATE/bin/helm4" ]] && echo "$STATE/bin/helm4")'
# helm state kept inside the test cluster dir (no user repos/plugins leak in)
export HELM_CACHE_HOME='$STATE/helm/cache'
export HELM_CONFIG_HOME='$STATE/helm/config'
export HELM_DATA_HOME='$STATE/helm/data'
EOF
}

# ---------------------------------------------------------------------------------------------
# components
# ---------------------------------------------------------------------------------------------

kc() { kubectl --kubeconfig "$STATE/kubeconfig" --request-timeout=10s "$@"; }

start_etcd() {
  spawn etcd "$(resolve etcd)" \
    --name=homelab-test --data-dir="$STATE/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="homelab-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync=true --quota-backend-bytes=2147483648 --log-level=warn
  wait_for "etcd healthy on 127.0.0.1:$ETCD_PORT" "$UP_TIMEOUT" etcd \
    curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver_proc() { # start_apiserver_proc [EXTRA_FLAG...]
  local p="$STATE/pki"
  spawn kube-apiserver "$(resolve kube-apiserver)" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --cert-dir="$STATE/certs/kube-apiserver" "$@"
}

wait_apiserver() {
  wait_for "kube-apiserver ready on https://127.0.0.1:$API_PORT" "$UP_TIMEOUT" kube-apiserver \
    curl -fsS --max-time 2 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz"
}

start_kcm() {
  local k="$STATE/kubeconfigs/kube-controller-manager.kubeconfig"
  spawn kube-controller-manager "$(resolve kube-controller-manager)" \
    --kubeconfig="$k" --authentication-kubeconfig="$k" --authorization-kubeconfig="$k" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$STATE/certs/kube-controller-manager" \
    --leader-elect=false --cluster-name=homelab-test \
    --service-account-private-key-file="$STATE/pki/sa.key" --root-ca-file="$STATE/pki/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$STATE/pki/ca.crt" --cluster-signing-key-file="$STATE/pki/ca.key" \
    --enable-hostpath-provisioner=true
}

# kube-scheduler reads claims from one watch and PersistentVolumes from its own cache, filled by another
# event handler of the PV watch (pkg/scheduler/util/assumecache: "no coordination between different
# handlers"). A pod tried in between (its claim bound a moment after the PV was made, or an old claim of
# the same name) fails with "pvc(s) bound to non-existent pv(s)" after the PV's event has already passed,
# and nothing retries it until the scheduler's periodic retry of unschedulable pods: 5 minutes by
# default, as long as 04-verify's whole wait. Here that retry comes after 5 s (checked every 30 s).
SCHEDULER_RETRY_FLAG=--pod-max-in-unschedulable-pods-duration=5s
start_scheduler() {
  local k="$STATE/kubeconfigs/kube-scheduler.kubeconfig"
  spawn kube-scheduler "$(resolve kube-scheduler)" \
    --kubeconfig="$k" --authentication-kubeconfig="$k" --authorization-kubeconfig="$k" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --cert-dir="$STATE/certs/kube-scheduler" \
    --leader-elect=false "$SCHEDULER_RETRY_FLAG"
}
# A scheduler started by an older cluster.sh (without the short retry) is restarted by `up`.
scheduler_current() {
  local pid; pid="$(running_pid kube-scheduler)" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$SCHEDULER_RETRY_FLAG"
}

start_kwok() {
  # node IP 127.0.0.1 + kwok's server on the node port: `kubectl logs/exec` stay on loopback.
  # Fake pod IPs come from --cidr; nothing here sends traffic to them (and tests must not).
  spawn kwok "$(resolve kwok)" \
    --kubeconfig="$STATE/kubeconfigs/kwok.kubeconfig" \
    --config="$BIN/kwok-$KWOK_VERSION/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT" \
    --tls-cert-file="$STATE/pki/kwok-serving.crt" --tls-private-key-file="$STATE/pki/kwok-serving.key" \
    --cidr=10.244.0.1/16 --node-lease-duration-seconds=40
}

start_metallb() {
  # As in a pod, webhook included: it serves on 127.0.0.1:$METALLB_WEBHOOK_PORT (metallb_listen_on_loopback)
  # with the certificate metallb_state made, which controller-runtime reads from
  # $TMPDIR/k8s-webhook-server/serving-certs. MetalLB's own cert rotation is off: it certifies only the
  # Service name, which an API server calling 127.0.0.1 cannot verify. --pod-name: since 0.16 the controller
  # reads its own pod (owner of its ConfigurationState), made by metallb_objects. Metrics and health
  # probe listen on 127.0.0.1 too, on ports of this cluster.
  SPAWN_ENV=(KUBECONFIG="$STATE/kubeconfigs/metallb-controller.kubeconfig" METALLB_NAMESPACE=metallb-system
    TMPDIR="$STATE/metallb/tmp" HOMELAB_INGRESS_METALLB_WEBHOOK_PORT="$METALLB_WEBHOOK_PORT")
  spawn metallb-controller "$(resolve metallb-controller)" \
    --namespace=metallb-system --pod-name="$METALLB_POD" --disable-cert-rotation \
    --cert-dir="$STATE/metallb/tmp/k8s-webhook-server/serving-certs" \
    --health-probe-port="$METALLB_HEALTH_PORT" --port="$METALLB_METRICS_PORT" --log-level=info
}

METALLB_POD=metallb-controller

# MetalLB's part of the cluster state: two more ports (webhook, health probe; added to ports.env, also for a
# state made before they existed) and the webhook's serving certificate for 127.0.0.1, from the cluster CA.
metallb_state() {
  if [[ -z "${METALLB_WEBHOOK_PORT:-}" || -z "${METALLB_HEALTH_PORT:-}" ]]; then
    local taken p picked=()
    taken=" $(sed -n 's/^[A-Z_]*=//p' "$STATE/ports.env" | tr '\n' ' ') "
    while ((${#picked[@]} < 2)); do
      for p in $(pick_ports 2); do
        [[ "$taken" == *" $p "* || " ${picked[*]} " == *" $p "* ]] || picked+=("$p")
      done
    done
    printf 'METALLB_WEBHOOK_PORT=%s\nMETALLB_HEALTH_PORT=%s\n' "${picked[0]}" "${picked[1]}" >>"$STATE/ports.env"
    load_ports
  fi
  local certs="$STATE/metallb/tmp/k8s-webhook-server/serving-certs"
  [[ -f "$certs/tls.crt" && -f "$certs/tls.key" ]] && return 0
  mkdir -p "$certs"
  (
    cd "$certs"
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key 2>/dev/null
    openssl req -new -key tls.key -subj "/CN=metallb-webhook-service.metallb-system.svc" -out tls.csr 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:metallb-webhook-service.metallb-system.svc" >tls.ext
    openssl x509 -req -in tls.csr -CA "$STATE/pki/ca.crt" -CAkey "$STATE/pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -sha256 -days 3650 -extfile tls.ext -out tls.crt 2>/dev/null
    rm -f tls.csr tls.ext
  )
  [[ -s "$certs/tls.crt" ]] || die "could not make the MetalLB webhook certificate in $certs"
}

# The objects a MetalLB install brings besides its CRDs: the controller's ServiceAccount and pod (kwok runs
# it as a stand-in; the real process runs out of cluster, so the image is never pulled), and the validating
# webhooks of MetalLB's config/webhook/manifests.yaml with each `service:` replaced by a `url:` on
# 127.0.0.1 and the cluster CA as caBundle.
metallb_objects() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: controller, namespace: metallb-system, labels: {app: metallb}}
---
apiVersion: v1
kind: Pod
metadata:
  name: $METALLB_POD
  namespace: metallb-system
  labels: {app: metallb, component: controller}
spec:
  nodeName: ${NODE_NAMES[0]}
  serviceAccountName: controller
  automountServiceAccountToken: false
  containers:
  - name: controller
    image: metallb/controller:$METALLB_VERSION
    ports: [{name: webhook-server, containerPort: 9443}]
EOF
  awk -v base="https://127.0.0.1:$METALLB_WEBHOOK_PORT" -v ca="$(b64 "$STATE/pki/ca.crt")" '
    $0 == "  creationTimestamp: null" { next }
    $0 == "  name: validating-webhook-configuration" { print "  name: metallb-webhook-configuration"; next }
    $0 == "    service:" { svc = 1; next }
    svc && ($1 == "name:" || $1 == "namespace:") { next }
    svc && $1 == "path:" { print "    caBundle: " ca; print "    url: " base $2; svc = 0; next }
    { print }' "$BIN/metallb-controller-$METALLB_VERSION/webhook-manifests.yaml"
}

apply_metallb_objects() {
  local objects; objects="$(metallb_objects)"
  if grep -q '^ *service:' <<<"$objects" || [[ "$(grep -c '^    url: https://127\.0\.0\.1:' <<<"$objects")" != "$(grep -c '^  clientConfig:' <<<"$objects")" ]]; then
    die "could not turn $BIN/metallb-controller-$METALLB_VERSION/webhook-manifests.yaml into url webhooks; update metallb_objects"
  fi
  kc apply -f - <<<"$objects" >/dev/null
}

# The webhook answers when it serves its IPAddressPool path (any HTTP answer but 404, over TLS that the
# cluster CA verifies, as the API server will).
metallb_webhook_answers() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$STATE/pki/ca.crt" \
    "https://127.0.0.1:$METALLB_WEBHOOK_PORT/validate-metallb-io-v1beta1-ipaddresspool")" || return 1
  [[ "$code" =~ ^[1-5][0-9][0-9]$ && "$code" != 404 ]]
}

wait_metallb() {
  wait_for "MetalLB controller synced (ConfigurationState metallb-system/controller)" "$UP_TIMEOUT" metallb-controller metallb_ready
  wait_for "MetalLB webhook answering on https://127.0.0.1:$METALLB_WEBHOOK_PORT" "$UP_TIMEOUT" metallb-controller metallb_webhook_answers
}

node_manifest() {
  local n=$1
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
}

storageclass_manifest() {
  cat <<'EOF'
# Stand-in for Longhorn's StorageClass: kube-controller-manager's in-tree hostPath provisioner
# (--enable-hostpath-provisioner) creates a PV (/tmp/hostpath_pv/<uid>) for each claim and deletes it with it.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: longhorn
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: false
EOF
}

node_ready() {
  [[ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
metallb_ready() {
  # the controller records its config state once it has synced
  kc -n metallb-system get configurationstates.metallb.io controller >/dev/null
}
crds_established() {
  kc wait --for=condition=Established --timeout=5s -f "$BIN/metallb-controller-$METALLB_VERSION/crds" >/dev/null
}

cluster_up_complete() {
  local c
  for c in "${COMPONENTS[@]}"; do running_pid "$c" >/dev/null || return 1; done
  [[ -f "$STATE/.up-complete" ]]
}

cmd_up() {
  lock
  if [[ -d "$STATE" ]] && load_ports && running_pid kube-scheduler >/dev/null && ! scheduler_current; then
    log "restarting kube-scheduler (started without $SCHEDULER_RETRY_FLAG)"
    stop_components kube-scheduler
  fi
  if [[ -d "$STATE" ]] && load_ports && cluster_up_complete \
    && curl -fsS --max-time 3 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
      "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
    log "already up"
    echo "$STATE/kubeconfig"
    return 0
  fi
  command -v kubectl >/dev/null || die "kubectl is not on PATH"
  command -v openssl >/dev/null || die "openssl is not on PATH"
  all_built "${CLUSTER_PIECES[@]}" || cmd_build "${CLUSTER_PIECES[@]}"
  check_skew
  local start=$SECONDS
  local c any=""
  for c in "${COMPONENTS[@]}"; do running_pid "$c" >/dev/null && any=1; done
  if [[ -n "$any" && -f "$STATE/ports.env" && -f "$STATE/pki/ca.key" ]]; then
    log "resuming the running cluster in $STATE (starting what is not running)"
    load_ports
  else
    # nothing of ours runs (first start, or left over from an earlier session): start afresh
    [[ -d "$STATE" ]] && log "removing stale cluster state in $STATE (no component was running)"
    rm -rf "$STATE"
    log "creating cluster state in $STATE"
    init_state
  fi
  write_env
  running_pid etcd >/dev/null || start_etcd
  if ! running_pid kube-apiserver >/dev/null; then start_apiserver_proc; fi
  wait_apiserver
  running_pid kube-controller-manager >/dev/null || start_kcm
  running_pid kube-scheduler >/dev/null || start_scheduler
  running_pid kwok >/dev/null || start_kwok
  local n
  for n in "${NODE_NAMES[@]}"; do
    kc get node "$n" >/dev/null 2>&1 || node_manifest "$n" | kc create -f - >/dev/null
    wait_for "node $n Ready (kwok)" "$UP_TIMEOUT" kwok node_ready "$n"
  done
  wait_for "default ServiceAccount created (kube-controller-manager)" "$UP_TIMEOUT" kube-controller-manager \
    kc -n default get serviceaccount default
  storageclass_manifest | kc apply -f - >/dev/null
  kc get namespace metallb-system >/dev/null 2>&1 || kc create namespace metallb-system >/dev/null
  # server-side apply: some MetalLB CRDs are too large for the last-applied annotation
  kc apply --server-side --force-conflicts -f "$BIN/metallb-controller-$METALLB_VERSION/crds" >/dev/null
  wait_for "MetalLB $METALLB_VERSION CRDs established" "$UP_TIMEOUT" "" crds_established
  metallb_state
  apply_metallb_objects
  running_pid metallb-controller >/dev/null || start_metallb
  wait_metallb
  touch "$STATE/.up-complete"
  log "cluster up in $(elapsed "$start"): kubernetes $K8S_VERSION, context $CONTEXT; source $STATE/env"
  echo "$STATE/kubeconfig"
}

cleanup_hostpath_volumes() {
  # PVs made by the hostPath provisioner live in /tmp/hostpath_pv/<uid>; remove those of this cluster.
  running_pid kube-apiserver >/dev/null || return 0
  local paths p
  paths="$(kc get pv -o jsonpath='{range .items[*]}{.spec.hostPath.path}{"\n"}{end}' 2>/dev/null)" || return 0
  while read -r p; do
    [[ "$p" =~ ^/tmp/hostpath_pv/[A-Za-z0-9-]+$ ]] && rm -rf -- "$p"
  done <<<"$paths"
}

cmd_down() {
  lock
  if [[ ! -d "$STATE" ]]; then log "nothing to stop ($STATE does not exist)"; return 0; fi
  load_ports || true
  if [[ -n "${API_PORT:-}" ]]; then cleanup_hostpath_volumes || true; fi
  # clients first, then kube-apiserver, then etcd
  stop_components metallb-controller kwok kube-scheduler kube-controller-manager
  stop_components kube-apiserver
  stop_components etcd
  rm -rf "$STATE"
  log "down: removed $STATE"
}

cmd_status() {
  if [[ ! -d "$STATE" ]]; then echo "not up ($STATE does not exist)"; return 3; fi
  load_ports || true
  local c pid ok=0
  for c in "${COMPONENTS[@]}"; do
    if pid="$(running_pid "$c")"; then printf '%-24s running  pid %-8s log %s\n' "$c" "$pid" "$STATE/logs/$c.log"
    else printf '%-24s stopped\n' "$c"; ok=1; fi
  done
  if [[ -n "${API_PORT:-}" ]] && curl -fsS --max-time 3 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
    --key "$STATE/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
    echo "apiserver https://127.0.0.1:$API_PORT ready; kubeconfig $STATE/kubeconfig (context $CONTEXT)"
  else
    echo "apiserver not ready"; ok=1
  fi
  return $ok
}

cmd_stop_apiserver() {
  lock
  [[ -d "$STATE" ]] || die "not up"
  stop_components "$@" kube-apiserver
}

cmd_start_apiserver() {
  lock
  [[ -d "$STATE" ]] && load_ports || die "not up (run: $0 up)"
  running_pid etcd >/dev/null || die "etcd is not running; use '$0 up' to restart the whole cluster"
  if running_pid kube-apiserver >/dev/null; then log "kube-apiserver already running"
  else
    port_in_use "$API_PORT" && die "port $API_PORT is taken by something else"
    start_apiserver_proc "$@"
  fi
  wait_apiserver
}

cmd_stop_metallb() {
  lock
  [[ -d "$STATE" ]] || die "not up"
  stop_components metallb-controller
}

cmd_start_metallb() {
  lock
  [[ -d "$STATE" ]] && load_ports || die "not up (run: $0 up)"
  metallb_state
  if running_pid metallb-controller >/dev/null; then log "metallb-controller already running"; else start_metallb; fi
  wait_metallb
}

cmd_env() {
  [[ -f "$STATE/env" ]] || die "not up: $STATE/env does not exist (run: $0 up)"
  cat "$STATE/env"
}

LOCKED=
lock() {
  [[ -n "$LOCKED" ]] && return 0
  # one lock per state dir, kept in the cache (nothing to leave in the repo; survives `down`)
  local id
  id="$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
  mkdir -p "$CACHE/locks"
  exec 9>"$CACHE/locks/cluster-$id.lock"
  if ! flock -n 9; then log "waiting for another cluster.sh working on $STATE"; flock 9; fi
  LOCKED=1
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; }

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-apiserver)
    shift
    [[ $# -eq 0 || "$*" == --kill ]] || die "usage: $0 stop-apiserver [--kill]"
    cmd_stop_apiserver "$@" ;;
  start-apiserver) shift; cmd_start_apiserver "$@" ;;
  stop-metallb) cmd_stop_metallb ;;
  start-metallb) cmd_start_metallb ;;
  env) cmd_env ;;
  built) shift; all_built "$@" ;;
  bin) shift; [[ $# -eq 1 ]] || die "usage: $0 bin NAME"; resolve "$1" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
