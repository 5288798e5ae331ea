#!/usr/bin/env bash
# Healing benchmark: the client-visible success rate through rotor against a
# plain single-proxy path, under the same fault mix (rotor lab's `mixed`
# scenario: dead, bad-credential, out-of-quota, blackholed, flaky and
# truncating proxies; targets that rate-limit, ban, challenge and fail).
# It is the demo's comparison with more traffic; everything runs on
# 127.0.0.1 and stops by itself.
#
#   bash bench/healing.sh PATH_TO_ROTOR [REQUESTS] [CONCURRENCY]
set -euo pipefail
rotor=${1:?usage: bench/healing.sh PATH_TO_ROTOR [REQUESTS] [CONCURRENCY]}
requests=${2:-2000}
concurrency=${3:-16}
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$(dirname "$0")/.."
ROTOR_DEMO_PORT=$port ROTOR_DEMO_REQUESTS=$requests ROTOR_DEMO_CONCURRENCY=$concurrency \
  bash scripts/demo.sh "$rotor" | sed -n '/== client-visible success rate/,$p'
