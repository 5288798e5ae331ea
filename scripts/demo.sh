#!/usr/bin/env bash
# rotor demo: the gateway in front of a simulated, misbehaving proxy pool.
#
#   bash scripts/demo.sh PATH_TO_ROTOR        (what `make demo` runs)
#
# 1. starts `rotor lab --scenario mixed` (dead, bad-credential, quota and
#    flaky proxies; targets with rate limits, bans and 503s) on free ports;
# 2. starts `rotor serve` on 127.0.0.1:${ROTOR_DEMO_PORT:-8899} with the lab's pool;
# 3. drives the same bounded request stream through rotor and then through a
#    single lab proxy, and compares what the client saw.
# Everything it starts is stopped on exit, Ctrl-C included.
set -uo pipefail

rotor=${1:?usage: demo.sh PATH_TO_ROTOR}
port=${ROTOR_DEMO_PORT:-8899}
requests=${ROTOR_DEMO_REQUESTS:-400}
concurrency=${ROTOR_DEMO_CONCURRENCY:-8}
python=${PYTHON:-/usr/bin/python3}

work=$(mktemp -d "${TMPDIR:-/tmp}/rotor-demo.XXXXXX")
pids=()

cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_open "$port"; then
  echo "demo: 127.0.0.1:$port is already in use; set ROTOR_DEMO_PORT to a free port" >&2
  exit 1
fi

say "starting the lab: rotor lab --scenario mixed"
"$rotor" lab --scenario mixed --port-base 0 --pool-out "$work/pool.txt" \
  --state-out "$work/lab.json" >"$work/lab.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$work/lab.json" ] && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    cat "$work/lab.out" >&2
    echo "demo: rotor lab did not start" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$work/lab.json" ] || { echo "demo: rotor lab did not become ready" >&2; exit 1; }
sed -n '1,/paths:/p' "$work/lab.out"

cat >"$work/urls.txt" <<'EOF'
# a scraper's mix: plain pages, an IP echo, rate-limited, banning and flaky sites
http://ok.lab/
http://ok.lab/ip
http://ratelimit.lab/
http://bans.lab/
http://flaky.lab/1k
http://challenge.lab/
http://ok.lab/chunked/4000
http://slow.lab/
EOF

gateway_ok=0
say "starting the gateway: rotor serve --listen 127.0.0.1:$port"
# Short hop timeouts suit a pool on loopback: a blackholed proxy should cost
# seconds, not the 30 s default meant for slow providers and far targets.
"$rotor" serve --listen "127.0.0.1:$port" --pool "$work/pool.txt" --log "$work/access.log" \
  --connect-timeout 2000 --read-timeout 4000 \
  >"$work/serve.out" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 1 100); do
  if port_open "$port"; then gateway_ok=1; break; fi
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done

if [ "$gateway_ok" = 1 ]; then
  say "driving $requests requests through rotor (concurrency $concurrency)"
  "$rotor" lab --drive "$work/urls.txt" --proxy "http://127.0.0.1:$port" \
    --requests "$requests" --concurrency "$concurrency" --timeout-ms 30000 \
    --title "through rotor" --summary-json "$work/rotor.json"
else
  echo "demo: rotor serve did not start listening on 127.0.0.1:$port:" >&2
  sed 's/^/  serve: /' "$work/serve.out" >&2
  echo "demo: continuing with the single-proxy run only" >&2
fi

# The scraper without rotor: one proxy from the pool, used as-is.
direct=$(grep -v '^#' "$work/pool.txt" | head -1 | cut -d' ' -f1)
label=$(grep -v '^#' "$work/pool.txt" | head -1 | sed 's/.*#//')
say "driving the same $requests requests through one lab proxy ($label), no gateway"
"$rotor" lab --drive "$work/urls.txt" --proxy "$direct" \
  --requests "$requests" --concurrency "$concurrency" --timeout-ms 30000 \
  --title "one proxy ($label)" --summary-json "$work/direct.json"

say "client-visible success rate"
"$python" - "$work/rotor.json" "$work/direct.json" <<'EOF'
import json, os, sys
rows = []
for path in sys.argv[1:]:
    if os.path.exists(path):
        with open(path) as f:
            rows.append(json.load(f))
for r in rows:
    fails = sorted(r["by_error"].items(), key=lambda kv: -kv[1])[:3]
    top = ", ".join(f"{k} {v}" for k, v in fails) or "none"
    print(f"  {r['title']:<24} {100 * r['success_rate']:5.1f}%  ({r['ok']}/{r['requests']}, "
          f"retries {r['retries']})  top failures: {top}")
if len(rows) == 2:
    d = 100 * (rows[0]["success_rate"] - rows[1]["success_rate"])
    print(f"\n  rotor changed the success rate by {d:+.1f} points on the same traffic.")
EOF

if [ "$gateway_ok" != 1 ]; then
  echo
  echo "demo: the gateway part did not run (rotor serve is not available yet)." >&2
  exit 1
fi
echo
echo "access log: one JSON line per request was written by rotor serve (removed with the demo's temp dir)."
exit 0
