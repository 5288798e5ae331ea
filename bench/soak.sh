#!/usr/bin/env bash
# Soak: rotor serve in front of the `mixed` lab pool (refused, bad
# credentials, flaky, black-hole and out-of-quota proxies; rate limits, bans,
# challenges, slow and down sites) at high concurrency for a bounded time,
# with side traffic (CONNECT tunnels, abandoned downloads, half-sent heads),
# a SIGHUP every 30 s that alternately shrinks and restores the pool and
# rotates the access log, and /proc samples of rotor's RSS and descriptors
# every 5 s. Not part of `make check`.
#
# usage: bench/soak.sh [--minutes N] [--concurrency C] [--rotor PATH] [--out DIR]
#                      [--serve-args "ARGS"]
#   --minutes N       duration (default 10)
#   --concurrency C   wrk connections (default 500)
#   --rotor PATH      the binary (default build/rotor; built if missing)
#   --out DIR         where logs, samples and report.md go (default a new temp dir)
#   --serve-args ARGS extra `rotor serve` flags (default none: rotor's defaults)
#
# Exit status: 0 when rotor served, exited 0 on SIGTERM and neither its RSS
# nor its descriptor count grew without bound (mean of the last quarter of
# the samples against the mean of the second quarter: at most +25% and
# +16 MiB for RSS, +25% and +64 for descriptors); 1 otherwise.
set -euo pipefail

minutes=10 conc=500 rotor="" out="" serve_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --rotor) rotor=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --serve-args) serve_args=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$minutes" in ''|*[!0-9]*) echo "soak: --minutes wants a whole number" >&2; exit 2 ;; esac
[ "$minutes" -ge 1 ] || { echo "soak: --minutes must be at least 1" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
command -v wrk >/dev/null || { echo "soak: wrk is missing (scripts/install-deps.sh check)" >&2; exit 2; }
if [ -z "$rotor" ]; then
  rotor=$root/build/rotor
  [ -x "$rotor" ] || make -C "$root" build >/dev/null
fi
[ -n "$out" ] || out=$(mktemp -d /tmp/rotor-soak.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the lab and rotor ------------------------------------------------------
"$rotor" lab --scenario mixed --targets 4 --seed 7 --port-base 0 --pool-out "$out/pool.full" \
  --state-out "$out/lab.json" --quiet >"$out/lab.stdout" 2>"$out/lab.stderr" &
lab_pid=$!; pids+=("$lab_pid")
for _ in $(seq 100); do [ -s "$out/lab.json" ] && break; sleep 0.1; done
[ -s "$out/lab.json" ] || { echo "soak: the lab did not start:" >&2; cat "$out/lab.stderr" >&2; exit 1; }
cp "$out/pool.full" "$out/pool.txt"
# The shrunk pool: every other entry, so each reload changes the pool.
awk '/^#/ || NR % 2 == 0' "$out/pool.full" >"$out/pool.half"

port=$(free_port)
# shellcheck disable=SC2086 # serve_args is a list of flags
"$rotor" serve --listen "127.0.0.1:$port" --pool "$out/pool.txt" --log "$out/access.log" --quiet $serve_args \
  >"$out/rotor.stdout" 2>"$out/rotor.stderr" &
rotor_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$out/rotor.stderr" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on" "$out/rotor.stderr" || { echo "soak: rotor did not start:" >&2; cat "$out/rotor.stderr" >&2; exit 1; }
proxy=http://127.0.0.1:$port

# ---- load: wrk with absolute-form URLs to the lab's hosts --------------------
cat >"$out/soak.lua" <<'EOF'
local reqs = {}
local function add(n, method, url, body)
  local host = url:match("^http://([^/]+)")
  for _ = 1, n do reqs[#reqs + 1] = wrk.format(method, url, { Host = host }, body) end
end
add(6, "GET", "http://ok.lab/1k")
add(2, "GET", "http://ok.lab/")
add(1, "GET", "http://ok.lab/bytes/262144")
add(1, "GET", "http://ok.lab/chunked/65536")
add(1, "POST", "http://ok.lab/echo", string.rep("p", 2048))
add(2, "GET", "http://t1.lab/1k")
add(2, "GET", "http://t2.lab/1k")
add(1, "GET", "http://t3.lab/status/404")
add(2, "GET", "http://ratelimit.lab/1k")
add(2, "GET", "http://bans.lab/")
add(1, "GET", "http://challenge.lab/")
add(2, "GET", "http://flaky.lab/1k")
add(1, "GET", "http://slow.lab/")
add(1, "GET", "http://down.lab/")
add(1, "GET", "http://nowhere.lab/")
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
EOF
wrk -t2 -c"$conc" -d"${minutes}m" --timeout 60s -s "$out/soak.lua" "$proxy" >"$out/wrk.txt" 2>&1 &
wrk_pid=$!; pids+=("$wrk_pid")

# ---- side traffic: tunnels, abandoned downloads, half-sent heads ------------
ca=$(dirname "$out/pool.full")/lab-ca.pem
side() {
  while kill -0 "$wrk_pid" 2>/dev/null; do
    curl -s --noproxy '' -x "$proxy" --cacert "$ca" -o /dev/null --max-time 5 https://ok.lab/1k || true
    curl -s --noproxy '' -x "$proxy" -o /dev/null --max-time 0.3 http://ok.lab/bytes/50000000 || true
    "$py" - "$port" <<'EOF' || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"GET http://ok.lab/ HTTP/1.1\r\nHost: ok")
s.close()
EOF
    sleep 0.5
  done
}
side >"$out/side.log" 2>&1 &
side_pid=$!; pids+=("$side_pid")

# ---- samples every 5 s, SIGHUP every 30 s ------------------------------------
echo -e "t_s\trss_kib\tfds" >"$out/samples.tsv"
t0=$(date +%s); next_hup=30; n_hup=0; piece=0
while kill -0 "$wrk_pid" 2>/dev/null; do
  sleep 5
  now=$(( $(date +%s) - t0 ))
  kill -0 "$rotor_pid" 2>/dev/null || { echo "soak: rotor died" >&2; break; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$rotor_pid/status")
  fds=$(ls "/proc/$rotor_pid/fd" | wc -l)
  echo -e "$now\t$rss\t$fds" >>"$out/samples.tsv"
  if [ "$now" -ge "$next_hup" ]; then
    next_hup=$(( next_hup + 30 )); n_hup=$(( n_hup + 1 ))
    # Alternate the pool, and rotate the log the way logrotate would.
    if [ $(( n_hup % 2 )) -eq 1 ]; then cp "$out/pool.half" "$out/pool.tmp"; else cp "$out/pool.full" "$out/pool.tmp"; fi
    mv "$out/pool.tmp" "$out/pool.txt"
    piece=$(( piece + 1 ))
    mv "$out/access.log" "$out/access.log.$piece"
    kill -HUP "$rotor_pid"
  fi
done
wait "$wrk_pid" || true
wait "$side_pid" || true
# Every client is gone now: rotor must have ended their requests.
sleep 1

# ---- stop: SIGTERM must drain and exit 0 ---------------------------------------
t_term=$(date +%s.%N)
kill -TERM "$rotor_pid"
rc=0; wait "$rotor_pid" || rc=$?
t_done=$(date +%s.%N)
kill -TERM "$lab_pid" 2>/dev/null || true

# ---- report ----------------------------------------------------------------
"$py" - "$out" "$minutes" "$conc" "$rc" "$n_hup" "$t_term" "$t_done" "$serve_args" <<'EOF'
import collections, glob, json, os, re, sys
out, minutes, conc, rc, n_hup, t_term, t_done, serve_args = sys.argv[1:9]
rc = int(rc)
by_status, by_code, by_origin = collections.Counter(), collections.Counter(), collections.Counter()
records = attempts = bad = 0
for path in sorted(glob.glob(os.path.join(out, "access.log*"))):
    with open(path, "rb") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if "event" in r:
                continue
            records += 1
            by_status[r["status"]] += 1
            by_code[r["code"]] += 1
            by_origin[r["origin"]] += 1
            attempts += len(r.get("attempts", []))
samples = []
with open(os.path.join(out, "samples.tsv")) as f:
    next(f)
    for line in f:
        t, rss, fds = line.split()
        samples.append((int(t), int(rss), int(fds)))
wrk = open(os.path.join(out, "wrk.txt")).read()
m = re.search(r"(\d+) requests in ([\d.]+\w+)", wrk)
rps = re.search(r"Requests/sec:\s*([\d.]+)", wrk)
lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", wrk)
errs = re.search(r"Socket errors: (.*)", wrk)

def mean(xs):
    return sum(xs) / len(xs) if xs else 0.0

verdict, notes = "PASS", []
q = len(samples) // 4
if q >= 1:
    second, last = samples[q:2 * q], samples[3 * q:]
    for name, i, pct, slack, unit in (("RSS", 1, 25, 16 * 1024, "KiB"), ("descriptors", 2, 25, 64, "")):
        a, b = mean([s[i] for s in second]), mean([s[i] for s in last])
        limit = a * (1 + pct / 100.0) + slack
        ok = b <= limit
        notes.append("%s: second-quarter mean %.0f%s, last-quarter mean %.0f%s, limit %.0f%s: %s"
                     % (name, a, unit and " " + unit, b, unit and " " + unit, limit, unit and " " + unit,
                        "ok" if ok else "GREW"))
        if not ok:
            verdict = "FAIL"
else:
    notes.append("too few samples to judge growth")
if rc != 0:
    verdict = "FAIL"
    notes.append("rotor exited %d after SIGTERM" % rc)
if records == 0:
    verdict = "FAIL"
    notes.append("no requests logged")

lines = []
lines.append("soak: %s minutes, wrk -t2 -c%s, rotor serve %s, `rotor lab --scenario mixed --targets 4 --seed 7`, SIGHUP every 30 s (%s reloads, pool alternating full/half, log rotated each time)" % (minutes, conc, ("`" + serve_args + "`") if serve_args else "with its defaults", n_hup))
lines.append("")
lines.append("| figure | value |")
lines.append("|---|---|")
if m:
    lines.append("| wrk requests | %s in %s (%s req/s) |" % (m.group(1), m.group(2), rps.group(1) if rps else "?"))
if lat:
    lines.append("| wrk latency avg / stdev / max | %s / %s / %s |" % lat.groups())
lines.append("| wrk socket errors | %s |" % (errs.group(1) if errs else "none"))
lines.append("| access-log records | %d (%d attempts, %.2f per request; %d unparsable lines) |" % (records, attempts, attempts / max(records, 1), bad))
lines.append("| SIGTERM to exit | %.2f s, exit status %d |" % (float(t_done) - float(t_term), rc))
if samples:
    lines.append("| RSS first / max / last | %d / %d / %d KiB |" % (samples[0][1], max(s[1] for s in samples), samples[-1][1]))
    lines.append("| descriptors first / max / last | %d / %d / %d |" % (samples[0][2], max(s[2] for s in samples), samples[-1][2]))
lines.append("")
lines.append("Final status by count: " + ", ".join("%s %d" % (k, v) for k, v in sorted(by_status.items())))
lines.append("")
lines.append("| code | requests | share |")
lines.append("|---|---|---|")
for code, n in by_code.most_common():
    lines.append("| %s | %d | %.1f%% |" % (code, n, 100.0 * n / max(records, 1)))
lines.append("")
lines.append("Origin of the final answer: " + ", ".join("%s %d" % (k or "none", v) for k, v in by_origin.most_common()))
lines.append("")
lines.append("RSS and descriptors over time (every 5 s sample, thinned to at most 24 rows):")
lines.append("")
lines.append("| t (s) | RSS (KiB) | fds |")
lines.append("|---|---|---|")
step = max(1, len(samples) // 24)
for s in samples[::step]:
    lines.append("| %d | %d | %d |" % s)
lines.append("")
for n in notes:
    lines.append("- " + n)
lines.append("")
lines.append("verdict: " + verdict)
report = "\n".join(lines) + "\n"
open(os.path.join(out, "report.md"), "w").write(report)
print(report)
sys.exit(0 if verdict == "PASS" else 1)
EOF
