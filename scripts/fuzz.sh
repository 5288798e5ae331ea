#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time
# over its checked-in corpus. Any crash, leak or sanitizer report fails.
# usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-20}
ls tests/fuzz/fuzz_*.c >/dev/null 2>&1 || { echo "fuzz: no targets"; exit 0; }
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DROTOR_FUZZ=ON -DROTOR_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
fail=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p "$corpus"
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  if "$build/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/$name-" "$work" >"$build/$name.log" 2>&1; then
    echo "fuzz: $name ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/$name.log" | awk '{print $2}' || true) runs in ${secs}s)"
  else
    echo "fuzz: $name FAILED, see $build/$name.log"; tail -30 "$build/$name.log"; fail=1
  fi
  rm -rf "$work"
done
exit $fail
