#!/usr/bin/env bash
# make bench: compare rotor with the forward proxies users would pick instead
# (HAProxy, Squid, tinyproxy, Apify proxy-chain), every one in the same chained
# role: client -> contender -> shared upstream proxy -> nginx / echo server.
# docs/performance.md explains the method and how to read the figures.
#
# usage: bench/run.sh /abs/path/to/build/rotor
#   BENCH_ARGS="--duration 2 --rounds 1"   shorter runs (see bench/bench.py --help)
#
# Everything runs on 127.0.0.1 on ports the kernel reports free, for bounded
# durations (about 8 minutes on 2 CPUs); every process started here is stopped
# on exit, and the temporary directory is removed.
set -euo pipefail

t0=$(date +%s.%N)
rotor=${1:?usage: bench/run.sh /abs/path/to/build/rotor}
case "$rotor" in /*) ;; *) rotor="$PWD/$rotor" ;; esac
[ -x "$rotor" ] || { echo "bench: $rotor is not an executable" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(dirname "$rotor")
py=/usr/bin/python3

for tool in wrk nginx curl openssl cc socat; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 2; }
done

# 10,000 idle tunnels need two descriptors each in the proxy: ask for more
# than that, or take the hard limit when it is lower.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

workdir=$(mktemp -d /tmp/rotor-bench.XXXXXX)
chmod 755 "$workdir"   # squid and tinyproxy drop to unprivileged users
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # bench.py stops what it started; this catches what a crash left behind.
  # Only process groups still led by a pid this run recorded are signalled.
  if [ -f "$workdir/pids" ]; then
    local pid
    for sig in TERM KILL; do
      while read -r pid; do
        local stat pgid
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        pgid=$(echo "${stat##*) }" | cut -d' ' -f3)   # fields after the name: state ppid pgrp
        if [ "$pgid" = "$pid" ]; then
          kill -s "$sig" -- "-$pid" 2>/dev/null || true
        fi
      done <"$workdir/pids"
      [ "$sig" = TERM ] && sleep 1
    done
  fi
  # Keep the processes' own output for a post-mortem (small files).
  rm -rf "$build/bench/logs"
  mkdir -p "$build/bench/logs"
  cp "$workdir"/log-*.txt "$workdir"/nginx-error.log "$build/bench/logs/" 2>/dev/null || true
  cp "$workdir/squid/cache.log" "$build/bench/logs/squid-cache.log" 2>/dev/null || true
  rm -rf "$workdir"
  local now
  now=$(date +%s.%N)
  awk -v a="$t0" -v b="$now" 'BEGIN { s = b - a; printf "bench: elapsed %d min %02d s\n", s / 60, s % 60 }'
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The CONNECT load tool: plain C, libc only.
tools="$build/bench-tools"
mkdir -p "$tools"
cc -O2 -std=c17 -Wall -Wextra -o "$tools/tunnel_load" "$here/tunnel_load.c"

# proxy-chain comes from npm into a cache inside the build tree.
node_modules=""
cache="$build/bench-node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "bench: proxy-chain skipped: node or npm is not installed"
elif [ -f "$cache/node_modules/proxy-chain/package.json" ]; then
  node_modules="$cache/node_modules"
else
  mkdir -p "$cache"
  echo "bench: installing proxy-chain@2 from npm into $cache"
  if timeout 240 npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error \
      proxy-chain@2 >"$cache/npm.log" 2>&1; then
    node_modules="$cache/node_modules"
  else
    echo "bench: proxy-chain skipped: npm install failed: $(tail -n 3 "$cache/npm.log" | tr '\n' ' ')"
  fi
fi

# shellcheck disable=SC2086  # BENCH_ARGS is a list of options by design
"$py" "$here/bench.py" --rotor "$rotor" --workdir "$workdir" --tunnel-load "$tools/tunnel_load" \
  --node-modules "$node_modules" --out-json "$build/bench/results.json" --t0 "$t0" ${BENCH_ARGS:-}
