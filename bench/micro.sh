#!/usr/bin/env bash
# Selection micro-benchmark: nanoseconds per rt_pick for pools of 10 to
# 100,000 entries (bench/bench_select.c), linked against the core library of
# an optimised build.
#
# usage: bench/micro.sh [BUILD_DIR]    (default: build)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=${1:-$repo/build}
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac

if [ ! -f "$build/librotor_core.a" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target rotor_core >/dev/null
mkdir -p "$build/bench-tools"
cc -O2 -std=c17 -Wall -Wextra -Werror -I "$repo/src" -o "$build/bench-tools/bench_select" \
  "$here/bench_select.c" "$build/librotor_core.a"
"$build/bench-tools/bench_select"
