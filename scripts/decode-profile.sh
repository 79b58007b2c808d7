#!/usr/bin/env bash
# Builds native/bench/decode_profile.cpp against the CPU kernels (into native/build-profile/) and runs it:
# per-op timing of batch-1 decode steps. Usage: scripts/decode-profile.sh [format] [threads] [context] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
out=native/build-profile
mkdir -p "$out"
flags=(-O3 -std=c++17 -fno-math-errno -Inative/include -Inative/cpu -pthread)
objects=()
for src in native/cpu/*.cpp native/bench/decode_profile.cpp; do
  obj="$out/$(basename "${src%.cpp}").o"
  march=x86-64
  [[ "$src" == *_avx2.cpp ]] && march=x86-64-v3
  if [[ ! -f "$obj" || "$src" -nt "$obj" || -n "$(find native/cpu -name '*.h' -newer "$obj" -print -quit)" ]]; then
    g++ "${flags[@]}" -march=$march -c "$src" -o "$obj" &
  fi
  objects+=("$obj")
done
wait
g++ -pthread -static -o "$out/decode_profile" "${objects[@]}"
exec "$out/decode_profile" "$@"
