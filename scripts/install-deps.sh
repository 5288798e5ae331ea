#!/usr/bin/env bash
# Install the Debian packages rotor's build, tests, demo and benchmarks need,
# and only those that are missing. Called by the Makefile targets; safe to run
# again. Services packaged with a daemon (squid, nginx, tinyproxy) must never
# start on their packaged public ports: a temporary policy-rc.d forbids it and
# any instance that still started is stopped. Tests start their own instances
# on free loopback ports.
#
# usage: scripts/install-deps.sh [build|check|bench]   (default: check)
set -euo pipefail

profile=${1:-check}
build_pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev libcmocka-dev)
check_pkgs=(clang python3-pytest python3-requests curl openssl squid tinyproxy nginx-light valgrind chromium wrk haproxy)
bench_pkgs=(socat)

want=("${build_pkgs[@]}")
case "$profile" in
  build) ;;
  check) want+=("${check_pkgs[@]}") ;;
  bench) want+=("${check_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "install-deps: unknown profile '$profile' (use build, check or bench)" >&2; exit 2 ;;
esac

missing=()
# Node.js and npm (for the proxy-chain contender) may come from outside dpkg.
if [ "$profile" = bench ] && ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
restore_policy=""
if [ -e "$policy" ]; then restore_policy=$(mktemp); cp -p "$policy" "$restore_policy"; fi
cleanup() {
  if [ -n "$restore_policy" ]; then mv -f "$restore_policy" "$policy"; else rm -f "$policy"; fi
}
trap cleanup EXIT
printf '#!/bin/sh\n# rotor install-deps: do not start services during install\nexit 101\n' > "$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/rotor-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")"; touch "$stamp"
fi
daemons="squid nginx tinyproxy haproxy"
before=" $(pgrep -d ' ' -x "${daemons// /|}" 2>/dev/null || true) "
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces: a daemon this install just started (policy-rc.d ignored)
# must not stay up on its packaged public port. Only packages installed now,
# and only processes that did not exist before: other instances on this
# machine (a user's squid, a test run's nginx) are left alone.
for svc in $daemons; do
  case " ${missing[*]} " in *" $svc"*) ;; *) continue ;; esac  # nginx-light too
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  for pid in $(pgrep -x "$svc" 2>/dev/null || true); do
    case "$before" in *" $pid "*) ;; *) kill "$pid" 2>/dev/null || true ;; esac
  done
done
echo "install-deps: done"
