#!/usr/bin/env bash
# A real authoritative DNS server for tests: Knot DNS (knotd, Debian's `knot` package) on a loopback address,
# serving one zone, accepting RFC 2136 dynamic updates signed with a TSIG key (what cert-manager's rfc2136
# DNS-01 solver sends) and answering Pebble's DNS-01 and HTTP-01 lookups.
#
#   test/cluster/dns.sh install              apt-get install knot when knotd is missing (Debian, as root)
#   eval "$(test/cluster/dns.sh start)"      start knotd in a new temporary directory; prints `export DNS_...`
#                                            lines (see below). `start DIR` uses DIR (created, must be empty).
#   test/cluster/dns.sh add DIR NAME TYPE DATA   add a record, e.g. `add "$DNS_DIR" app A 127.0.0.201`,
#                                            `add "$DNS_DIR" '*' A 127.0.0.201` (NAME relative to the zone,
#                                            `@` for the apex, or absolute with a trailing dot)
#   test/cluster/dns.sh del DIR NAME [TYPE]  remove the records of NAME (of TYPE only, when given)
#   test/cluster/dns.sh read DIR [NAME [TYPE]]   print the zone's records (all, or those of NAME; nothing when
#                                            there are none)
#   test/cluster/dns.sh status DIR           exit 0 when that knotd runs and serves the zone
#   test/cluster/dns.sh stop DIR             stop that knotd and remove DIR
#
# `start` prints (and writes to DIR/dns.env):
#   DNS_DIR             the directory (config, zone file, journal, control socket, knotd.log)
#   DNS_SERVER          127.0.0.1:<port>: give it to Pebble (-dnsserver), pebble-challtestsrv, cert-manager
#                       (--dns01-recursive-nameservers, the rfc2136 solver's `nameserver`)
#   DNS_ZONE            the zone (default home.example)
#   DNS_TSIG_KEY_NAME, DNS_TSIG_ALGORITHM (hmac-sha256; cert-manager calls it HMACSHA256), DNS_TSIG_SECRET
#                       (base64, new at each start)
#   DNS_PID             knotd's PID
# Environment for `start`: DNS_ZONE (home.example), DNS_ADDRESS (127.0.0.1; must be in 127.0.0.0/8),
# DNS_PORT (default: a free port), DNS_START_TIMEOUT (seconds, 20).
#
# Records added with `add` go through knotd's control socket (knotc), not through DNS: no key needed. Dynamic
# updates over DNS need the TSIG key (RFC 2136). knotd runs in the foreground of its own session (setsid), not
# as a system service; nothing is written outside DIR.
set -euo pipefail

log() { printf '[dns] %s\n' "$*" >&2; }
die() { printf '[dns] ERROR: %s\n' "$*" >&2; exit 1; }

KNOTD="${KNOTD:-knotd}"
KNOTC="${KNOTC:-knotc}"
MARKER="# homelab-ingress test/cluster/dns.sh"

cmd_install() {
  if command -v "$KNOTD" >/dev/null && command -v "$KNOTC" >/dev/null; then
    log "knotd present: $("$KNOTD" --version 2>&1 | head -n1)"
    return 0
  fi
  command -v apt-get >/dev/null || die "knotd is missing and there is no apt-get: install Knot DNS (knotd, knotc) >= 3.0"
  ((EUID == 0)) || die "knotd is missing; install it as root: apt-get install -y --no-install-recommends knot"
  log "installing knot (apt-get)"
  # On a machine with systemd the package also enables its own knot.service (port 53, /etc/knot/knot.conf);
  # these tests never use that one.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends knot >/tmp/homelab-ingress-apt-knot.log 2>&1; then
    log "apt-get install failed; updating the package lists once and retrying"
    apt-get update >>/tmp/homelab-ingress-apt-knot.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends knot >>/tmp/homelab-ingress-apt-knot.log 2>&1 \
      || { tail -n 20 /tmp/homelab-ingress-apt-knot.log >&2; die "apt-get install knot failed (log: /tmp/homelab-ingress-apt-knot.log)"; }
  fi
  command -v "$KNOTD" >/dev/null || die "knot installed but knotd is not on PATH"
  log "installed: $("$KNOTD" --version 2>&1 | head -n1)"
}

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

load_env() { # load_env DIR
  [[ -f "$1/dns.env" ]] || die "$1 is not a dns.sh directory (no dns.env; was it started?)"
  # shellcheck disable=SC1091
  source "$1/dns.env"
}

running() { # running DIR: knotd of DIR is alive
  local pid
  [[ -f "$1/knotd.pid" ]] || return 1
  read -r pid <"$1/knotd.pid" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(basename "$(readlink -f "/proc/$pid/exe" 2>/dev/null)")" == knotd ]]
}

kc() { "$KNOTC" -s "$DNS_DIR/knot.sock" -t 5 "$@"; }

write_config() { # write_config DIR ADDRESS PORT ZONE KEYNAME SECRET
  local dir=$1 addr=$2 port=$3 zone=$4 key=$5 secret=$6
  cat >"$dir/knot.conf" <<EOF
$MARKER (generated; removed by \`dns.sh stop\`)
server:
    rundir: "$dir"
    listen: $addr@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$dir/db"
control:
    listen: "$dir/knot.sock"
key:
  - id: $key
    algorithm: hmac-sha256
    secret: $secret
acl:
  - id: tsig-update
    key: $key
    action: update
template:
  - id: default
    storage: "$dir/zones"
    # the journal keeps the updates; the zone file stays as written here
    zonefile-sync: -1
    semantic-checks: on
zone:
  - domain: $zone
    file: $zone.zone
    acl: tsig-update
EOF
  cat >"$dir/zones/$zone.zone" <<EOF
\$ORIGIN $zone.
\$TTL 60
@    SOA ns1.$zone. hostmaster.$zone. 1 3600 600 86400 60
@    NS  ns1.$zone.
ns1  A   $addr
EOF
}

cmd_start() {
  local dir=${1:-} zone="${DNS_ZONE:-home.example}" addr="${DNS_ADDRESS:-127.0.0.1}" timeout="${DNS_START_TIMEOUT:-20}"
  zone="${zone%.}"
  [[ "$addr" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "DNS_ADDRESS must be a loopback address (127.0.0.0/8), not '$addr'"
  command -v "$KNOTD" >/dev/null || die "knotd is not installed; run: $0 install"
  if [[ -z "$dir" ]]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/homelab-ingress-dns.XXXXXX")"
  else
    mkdir -p "$dir"
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty"
  fi
  dir="$(cd "$dir" && pwd)"
  mkdir -p "$dir/zones" "$dir/db"
  local key=homelab-test-tsig secret port pid
  secret="$(openssl rand -base64 32)"
  for _ in 1 2 3; do
    port="${DNS_PORT:-$(free_port)}"
    write_config "$dir" "$addr" "$port" "$zone" "$key" "$secret"
    cat >"$dir/dns.env" <<EOF
DNS_DIR='$dir'
DNS_SERVER='$addr:$port'
DNS_ADDRESS='$addr'
DNS_PORT='$port'
DNS_ZONE='$zone'
DNS_TSIG_KEY_NAME='$key'
DNS_TSIG_ALGORITHM='hmac-sha256'
DNS_TSIG_SECRET='$secret'
EOF
    : >"$dir/knotd.log"
    setsid "$KNOTD" -c "$dir/knot.conf" </dev/null >>"$dir/knotd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/knotd.pid"
    echo "DNS_PID='$pid'" >>"$dir/dns.env"
    load_env "$dir"
    local end=$((SECONDS + timeout))
    while ((SECONDS < end)); do
      kill -0 "$pid" 2>/dev/null || break
      if kc zone-status "$zone" 2>/dev/null | grep -q 'serial: [0-9]'; then
        log "knotd $("$KNOTD" --version 2>&1 | awk '{ print $NF; exit }') serving $zone. on $addr:$port (pid $pid, dir $dir)"
        sed 's/^/export /' "$dir/dns.env"
        return 0
      fi
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      tail -n 20 "$dir/knotd.log" >&2
      die "knotd did not serve $zone within ${timeout}s (log: $dir/knotd.log)"
    fi
    if grep -qi 'address already in use' "$dir/knotd.log" && [[ -z "${DNS_PORT:-}" ]]; then
      log "port $port was taken meanwhile; trying another"
      continue
    fi
    tail -n 20 "$dir/knotd.log" >&2
    grep -qi 'permission denied' "$dir/knotd.log" && die "knotd may not bind $addr:$port (permission denied; ports below 1024 need root)"
    grep -qi 'address already in use' "$dir/knotd.log" && die "knotd: $addr:$port is already in use"
    die "knotd exited (log: $dir/knotd.log)"
  done
  die "knotd could not bind a free port after 3 attempts (log: $dir/knotd.log)"
}

cmd_stop() {
  local dir=${1:?usage: $0 stop DIR}
  [[ -d "$dir" ]] || { log "nothing to stop ($dir does not exist)"; return 0; }
  grep -qF "$MARKER" "$dir/knot.conf" 2>/dev/null || die "$dir was not made by dns.sh; not touching it"
  local pid i
  if running "$dir"; then
    read -r pid <"$dir/knotd.pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "stopped knotd (pid $pid)"
  fi
  rm -rf -- "$dir"
}

cmd_status() {
  local dir=${1:?usage: $0 status DIR}
  load_env "$dir"
  running "$dir" || { echo "knotd not running ($dir)"; return 1; }
  kc zone-status "$DNS_ZONE"
  echo "serving $DNS_ZONE. on $DNS_SERVER"
}

cmd_add() {
  local dir=${1:?usage: $0 add DIR NAME TYPE DATA...} name=${2:?NAME} type=${3:?TYPE}; shift 3
  (($#)) || die "usage: $0 add DIR NAME TYPE DATA..."
  load_env "$dir"
  running "$dir" || die "knotd of $dir is not running"
  kc zone-begin "$DNS_ZONE" >/dev/null || die "knotc zone-begin $DNS_ZONE failed"
  if ! kc zone-set "$DNS_ZONE" "$name" 60 "$type" "$@" >/dev/null; then
    kc zone-abort "$DNS_ZONE" >/dev/null 2>&1 || true
    die "could not add $name $type $* to $DNS_ZONE"
  fi
  kc zone-commit "$DNS_ZONE" >/dev/null || { kc zone-abort "$DNS_ZONE" >/dev/null 2>&1 || true; die "zone-commit $DNS_ZONE failed"; }
}

cmd_del() {
  local dir=${1:?usage: $0 del DIR NAME [TYPE]} name=${2:?NAME} type=${3:-}
  load_env "$dir"
  running "$dir" || die "knotd of $dir is not running"
  kc zone-begin "$DNS_ZONE" >/dev/null || die "knotc zone-begin $DNS_ZONE failed"
  if ! kc zone-unset "$DNS_ZONE" "$name" ${type:+"$type"} >/dev/null; then
    kc zone-abort "$DNS_ZONE" >/dev/null 2>&1 || true
    die "could not remove $name ${type} from $DNS_ZONE"
  fi
  kc zone-commit "$DNS_ZONE" >/dev/null || { kc zone-abort "$DNS_ZONE" >/dev/null 2>&1 || true; die "zone-commit $DNS_ZONE failed"; }
}

cmd_read() {
  local dir=${1:?usage: $0 read DIR [NAME [TYPE]]}; shift
  load_env "$dir"
  running "$dir" || die "knotd of $dir is not running"
  local out rc=0
  out="$(kc zone-read "$DNS_ZONE" "$@" 2>&1)" || rc=$?
  # no records: knotc says "error: (no such node in zone found)"; that is an empty answer, not a failure
  if [[ "$out" == *"no such node in zone"* || "$out" == *"no such record in zone"* ]]; then return 0; fi
  ((rc == 0)) || die "knotc zone-read: $out"
  # knotc prefixes each line with "[zone.] "
  [[ -z "$out" ]] || sed 's/^\[[^]]*\] //' <<<"$out"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; }

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  add) shift; cmd_add "$@" ;;
  del) shift; cmd_del "$@" ;;
  read) shift; cmd_read "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
