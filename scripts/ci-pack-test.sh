#!/usr/bin/env bash
# Packs pagedllm, installs the tarball globally into a temp prefix (no dev dependencies) and runs the CLI from there.
# Usage: scripts/ci-pack-test.sh [--build]   (PAGEDLLM_CUDA=OFF is the default here: a CPU build is enough to prove the install.)
# By default the install's native build is skipped and this checkout's built addon copied in: CI has just built it
# with the same install script (npm ci), and a second compile cost ~80 s of CI's 15 minutes. The tarball is checked to
# hold every tracked native source instead; --build runs the install script as a user's install does.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "npm pack"
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/pagedllm-*.tgz)
contents=$(tar tzf "$tarball")
for needed in package/bin/run.js package/oclif.manifest.json package/dist/commands/generate.js package/native/CMakeLists.txt package/scripts/build-native.js package/datasets/sharegpt.jsonl package/models/tinychat/model.safetensors; do
  grep -qx "$needed" <<<"$contents" || { echo "missing from the tarball: $needed"; exit 1; }
done
if grep -qE '^package/(test|native/build|out|\.cache|src)/' <<<"$contents"; then
  echo "the tarball holds files that are not for users:"; grep -E '^package/(test|native/build|out|\.cache|src)/' <<<"$contents" | head; exit 1
fi
# What the install's build compiles: every tracked source under the packaged native folders (bench/ is a dev tool).
missing=$(git -C "$root" ls-files native | grep -vE '^native/bench/' | while read -r file; do grep -qx "package/$file" <<<"$contents" || echo "$file"; done)
[ -z "$missing" ] || { echo "native sources missing from the tarball:"; echo "$missing"; exit 1; }
echo "$(wc -l <<<"$contents") files, $(du -k "$tarball" | cut -f1) KiB"

prefix="$work/prefix"
package_dir="$prefix/lib/node_modules/pagedllm"
if [ "${1:-}" = --build ]; then
  step "npm install -g (temp prefix; builds the native addon)"
  # npm 11 warns about (and is to block) install scripts not approved with --allow-scripts: approve ours.
  PAGEDLLM_CUDA=${PAGEDLLM_CUDA:-OFF} npm install -g "$tarball" --prefix "$prefix" --allow-scripts=pagedllm --no-audit --no-fund --loglevel=error
else
  step "npm install -g (temp prefix; install script skipped, this checkout's addon copied in)"
  built="$root/native/build/Release/pagedllm.node"
  [ -f "$built" ] || { echo "no built addon at $built: run npm install first, or pass --build"; exit 1; }
  npm install -g "$tarball" --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error
  mkdir -p "$package_dir/native/build/Release"
  cp "$built" "$package_dir/native/build/Release/"
fi
for dev in tsx typescript fast-check openai; do
  [ ! -e "$package_dir/node_modules/$dev" ] || { echo "dev dependency installed: $dev"; exit 1; }
done
[ -f "$package_dir/native/build/Release/pagedllm.node" ] || { echo "the install left no native addon"; exit 1; }
pagedllm="$prefix/bin/pagedllm"
cd "$work" # away from the repo: nothing may come from its node_modules or dist

step "pagedllm --version"
"$pagedllm" --version

step "generate (the built-in model)"
"$pagedllm" generate --max-tokens 8 --chat "Hello" 2>"$work/generate-builtin.log" || { cat "$work/generate-builtin.log"; exit 1; }

step "generate (a made checkpoint)"
"$pagedllm" make-test-model --out "$work/model"
"$pagedllm" generate -m "$work/model" --max-tokens 8 --ignore-eos "hello from the installed package" 2>"$work/generate.log" \
  || { cat "$work/generate.log"; exit 1; }

step "serve: start, one request, stop"
"$pagedllm" serve -m "$work/model" --port 0 2>"$work/serve.log" &
server_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's|^ready: model "[^"]*" at \(http://[^ ]*\)/v1 .*|\1|p' "$work/serve.log")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "serve did not get ready"; cat "$work/serve.log"; exit 1; }
node -e '
  const reply = await fetch(process.argv[1] + "/v1/completions", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({prompt: "hello", max_tokens: 4, ignore_eos: true})})
  const body = await reply.json()
  if (reply.status !== 200 || body.usage?.completion_tokens !== 4) { console.error(reply.status, JSON.stringify(body)); process.exit(1) }
  console.log(`POST /v1/completions: 200, ${body.usage.completion_tokens} tokens`)
' --input-type=module "$url"
kill -TERM "$server_pid"
wait "$server_pid" || { echo "serve exited with status $? on SIGTERM"; cat "$work/serve.log"; exit 1; }
server_pid=

step "bench kernels (short)"
"$pagedllm" bench kernels --only linear --time-ms 20 --layers 1 --vocab 4096 --batch 8 --prefill-tokens 32

step "ok: the packed CLI installs and runs without dev dependencies"
