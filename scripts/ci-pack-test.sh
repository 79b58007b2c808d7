#!/usr/bin/env bash
# Packs pagedllm, installs the tarball globally into a temp prefix (no dev dependencies, addon built at install) and runs the CLI from there.
# Usage: scripts/ci-pack-test.sh   (PAGEDLLM_CUDA=OFF is the default here: a CPU build is enough to prove the install.)
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
echo "$(wc -l <<<"$contents") files, $(du -k "$tarball" | cut -f1) KiB"

step "npm install -g (temp prefix; builds the native addon)"
prefix="$work/prefix"
# npm 11 warns about (and is to block) install scripts not approved with --allow-scripts: approve ours.
PAGEDLLM_CUDA=${PAGEDLLM_CUDA:-OFF} npm install -g "$tarball" --prefix "$prefix" --allow-scripts=pagedllm --no-audit --no-fund --loglevel=error
package_dir="$prefix/lib/node_modules/pagedllm"
for dev in tsx typescript fast-check openai; do
  [ ! -e "$package_dir/node_modules/$dev" ] || { echo "dev dependency installed: $dev"; exit 1; }
done
[ -f "$package_dir/native/build/Release/pagedllm.node" ] || { echo "the install did not build the native addon"; exit 1; }
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
