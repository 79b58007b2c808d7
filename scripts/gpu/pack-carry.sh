#!/usr/bin/env bash
# Packs what scripts/gpu/check.sh needs on a GPU machine that has no Node.js: .carry/native-sm90.tar.xz (the addons
# built here for sm_90, so the GPU machine's time is not spent compiling), .carry/node.xz (this machine's node binary)
# and .carry/runtime.tar.xz (node_modules without the build-only packages, tsx kept, and dist/).
# Run in the repository root after `npm run build:ts`; then carry `.carry` (docs/CUDA.md, "The one GPU check").
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d dist/commands ] || { echo "dist/ is not built: npm run build:ts first"; exit 1; }
grep -qx '/.carry/' .git/info/exclude 2>/dev/null || echo '/.carry/' >> "$(git rev-parse --git-path info/exclude)"
mkdir -p .carry
CUDACXX=${CUDACXX:-$(command -v nvcc)} node node_modules/cmake-js/bin/cmake-js build -d native -O .cache/build-sm90 \
  --CDPAGEDLLM_CUDA=ON --CDCMAKE_CUDA_ARCHITECTURES=90-real
tar -C .cache/build-sm90 -cJf .carry/native-sm90.tar.xz Release/pagedllm.node Release/pagedllm_cuda_tests.node
xz -T0 -6 -c "$(command -v node)" > .carry/node.xz
# typescript, openai, fast-check and the @types are for building and testing here, not for running the check.
tar --exclude=node_modules/typescript --exclude=node_modules/openai --exclude=node_modules/fast-check \
  --exclude=node_modules/@types --exclude='node_modules/.cache' -cf - node_modules dist | xz -T0 -6 > .carry/runtime.tar.xz
du -h .carry/*
echo "carry: [\".carry\"]  (64 MiB in all with the tree; the tree alone is about $(du -sh --exclude=node_modules --exclude=.git --exclude=native/build --exclude=dist --exclude=.carry --exclude=.cache . | cut -f1))"
