#!/usr/bin/env bash
# Debian packages some tests need, installed by `make test` when missing: the DNS servers that
# test/integration/dns-servers.test.ts loads 04-verify's records into (dnsmasq, Unbound), and the
# headless Chromium that test/integration/dashboard-browser.test.ts and make demo open the Traefik
# dashboard in.
# Installs only as root on a machine with apt-get; otherwise it says so and those tests skip.
set -uo pipefail

# command -> package
declare -A PACKAGE=([dnsmasq]=dnsmasq-base [unbound]=unbound [chromium]=chromium)

have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }

missing=()
for cmd in "${!PACKAGE[@]}"; do have "$cmd" || missing+=("${PACKAGE[$cmd]}"); done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "==> Not installing ${missing[*]} (needs root): the tests that use them will skip and say so."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "==> Not installing ${missing[*]}: no apt-get here; the tests that use them will skip and say so."
  exit 0
fi

if [[ " ${missing[*]} " == *" chromium "* ]]; then took="chromium: a minute or two, about 130 packages"; else took="a few seconds"; fi
echo "==> Installing ${missing[*]} (Debian packages for the DNS server and browser tests; $took)"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
# a machine whose package lists were never fetched (a fresh container) needs them once
if ! install >/tmp/homelab-ingress-apt.log 2>&1; then
  apt-get update >>/tmp/homelab-ingress-apt.log 2>&1
  install >>/tmp/homelab-ingress-apt.log 2>&1 ||
    { echo "    could not install them (see /tmp/homelab-ingress-apt.log); the tests that use them will skip"; exit 0; }
fi

# The tests start their own servers on a loopback address. On a machine run by systemd the unbound
# package also starts and enables its system service (and unbound-resolvconf, which can point the
# machine's resolver at it): the machine did not have it before, so it is stopped and disabled.
if [[ " ${missing[*]} " == *" unbound "* && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now unbound.service unbound-resolvconf.service >/dev/null 2>&1 || true
  echo "    (the unbound system service the package started is stopped and disabled again)"
fi
exit 0
