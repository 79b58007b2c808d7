#!/usr/bin/env bash
# The one GPU check (issue 14): build for sm_90, kernels vs float64, CUDA vs CPU engine, HF vs our logits, decode and
# prefill speed on Llama-3.2-1B / 3.1-8B shapes against measured ceilings, bench sharegpt vs orca and HF generate.
# Writes $OUT/gpu-check.json (every part: status, seconds, result) and $OUT/gpu-check.log. Designed for < 8 minutes
# on one H200; each part has its own time limit, and a failed part is recorded, never fatal to the rest.
# usage: bash scripts/gpu/check.sh        (DRY_RUN=1: the non-GPU plumbing only, on a CPU machine)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/.cache/gpu-check}
WORK=${PAGEDLLM_CHECK_WORK:-/tmp/pagedllm-check}
PARTS=$WORK/parts
mkdir -p "$OUT" "$PARTS" "$WORK/models"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
DRY_RUN=${DRY_RUN:-0}
DEVICE=cuda
[ "$DRY_RUN" = 1 ] && DEVICE=cpu
CHECK_STARTED=$(date +%s)
echo "pagedllm GPU check, $(date -u), dry run $DRY_RUN"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv 2>/dev/null || echo "nvidia-smi: none"

# The whole check fits CHECK_BUDGET seconds (default 480): each part's limit is cut to what is left (less 20 s for the
# report), and a part that would get under 20 s is skipped and recorded so. SKIP (a regex of part names) skips parts
# a previous run already settled, so a second short run can spend its time on the rest.
CHECK_BUDGET=${CHECK_BUDGET:-480}
SKIP=${SKIP:-^$}
# Runs one part under a time limit: part NAME SECONDS COMMAND...; stdout's last JSON line is the result.
part() {
  local name=$1 limit=$2
  shift 2
  local started=$(date +%s)
  local left=$(( CHECK_BUDGET - (started - CHECK_STARTED) - 20 ))
  if [[ "$name" =~ $SKIP ]] || [ "$left" -lt 20 ]; then
    echo "=== $name: skipped ($([[ "$name" =~ $SKIP ]] && echo "SKIP=$SKIP" || echo "budget spent"))"
    echo '{"status": "skipped", "seconds": 0}' > "$PARTS/$name.meta"
    return 99
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo; echo "=== $name (limit ${limit}s): $*"
  # PART_SECONDS: the limit this part got, for parts that budget their own work inside it (hf-generate.py).
  PART_SECONDS=$limit timeout --kill-after=10 "$limit" "$@" > "$PARTS/$name.out" 2> >(tee "$PARTS/$name.err" >&2)
  local status=$?
  cat "$PARTS/$name.out"
  echo "{\"status\": $status, \"seconds\": $(( $(date +%s) - started ))}" > "$PARTS/$name.meta"
  echo "=== $name: exit $status in $(( $(date +%s) - started )) s"
  return $status
}

# --- Node: the tree's own (carried, see docs/CUDA.md) before any on PATH --------------------------------------
if [ -f .carry/node.xz ] && [ ! -x "$WORK/node" ]; then xz -dc .carry/node.xz > "$WORK/node" && chmod +x "$WORK/node"; fi
NODE=${NODE:-}
[ -z "$NODE" ] && [ -x "$WORK/node" ] && NODE=$WORK/node
[ -z "$NODE" ] && NODE=$(command -v node || true)
if [ -z "$NODE" ]; then echo "no node binary: carry .carry/node.xz (docs/CUDA.md)"; fi
# CMake asks `node` for node-addon-api's include dir, and npm-style tools spawn `node`: the chosen one comes first.
[ -n "$NODE" ] && export PATH="$(dirname "$NODE"):$PATH"
if [ ! -d node_modules ] && [ -f .carry/runtime.tar.xz ]; then tar -xJf .carry/runtime.tar.xz; fi
if [ ! -d dist ] && [ -f .carry/runtime.tar.xz ]; then tar -xJf .carry/runtime.tar.xz dist; fi
PYTHON=${PYTHON:-python3}
echo "node: ${NODE:-none} $($NODE --version 2>/dev/null); python: $($PYTHON -c 'import sys, torch, transformers; print(sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__)' 2>&1 | tail -1)"

# --- The addon: the carried sm_90 build (.carry/native-sm90.tar.xz, made by pack-carry.sh) when it loads and finds
# the GPU here; else build for sm_90 (Hopper) only: one architecture keeps the build about a minute on 16 cores ------
if [ "$DRY_RUN" != 1 ] && [ -f .carry/native-sm90.tar.xz ] && [ ! -f native/build/Release/pagedllm.node ]; then
  mkdir -p native/build && tar -C native/build -xJf .carry/native-sm90.tar.xz
fi
ADDON_OK=1
[ "$DRY_RUN" != 1 ] && { "$NODE" -e "const a = require('./native/build/Release/pagedllm.node'); const s = a.cudaStatus();
  console.log('carried addon:', JSON.stringify(a.buildInfo()), JSON.stringify(s)); process.exit(a.buildInfo().cuda && s.available ? 0 : 1)" || ADDON_OK=0; }
if [ "$DRY_RUN" != 1 ] && [ "$ADDON_OK" = 0 ]; then
  rm -rf native/build
  part build 300 env CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)} \
    "$NODE" node_modules/cmake-js/bin/cmake-js build -d native --CDPAGEDLLM_CUDA=ON --CDCMAKE_CUDA_ARCHITECTURES=90-real
fi

# Parts run in order of what is still open: the kernels against float64 first (a wrong kernel voids every timing),
# then the targets (ShareGPT against orca and HF, the 8B shape's decode speed), then the engine-level correctness
# checks (passed in every earlier run; they re-check the code since), then the diagnostics. A short budget cuts from the end.
# --- Kernels against float64, kernel speed against the copy bandwidth (WMMA and cuBLAS GEMMs side by side) --------
[ "$DRY_RUN" != 1 ] && part kernels 120 "$NODE" --import tsx scripts/gpu/kernels-json.ts
# --- Ceilings through PyTorch: copy bandwidth (the decode roofline) and the bf16 GEMM rate (the prefill peak) -------
[ "$DRY_RUN" != 1 ] && part ceilings 60 $PYTHON scripts/gpu/torch-ceilings.py

# --- Models: a project-made one (bench shape, llama3 flavour, bf16) and the two real shapes with seeded weights --
PROJECT_MODEL=$WORK/models/bench-llama3
part make_project_model 60 "$NODE" bin/run.js make-test-model --preset bench --variant llama3 --dtype bf16 --out "$PROJECT_MODEL"
make_shape() {
  [ "$DRY_RUN" = 1 ] || [ -f "$WORK/models/$1/config.json" ] ||
    part "make_$1" 150 $PYTHON scripts/gpu/make-shape-model.py "$1" "$WORK/models/$1" "$PROJECT_MODEL"
}
[ "$DRY_RUN" != 1 ] && make_shape llama-3.2-1b

# --- ShareGPT: paged vs orca-max / orca-oracle through pagedllm bench at equal KV memory, contexts up to 2048 as in
# the paper. Two memories on the 1B shape: 2 GiB (64K tokens: what HF's static batch of 32 at 2,048 tokens needs) and
# 512 MiB (16K tokens: the paper's regime, where Orca (Max) batches 7 requests of OPT-13B on ShareGPT). HF generate
# static batching runs the same requests at batch 32 ----------------------------------------------------------------
BENCH_MODEL=$WORK/models/llama-3.2-1b
[ "$DRY_RUN" = 1 ] && BENCH_MODEL=$PROJECT_MODEL
BENCH_PROMPTS=${BENCH_PROMPTS:-400}
[ "$DRY_RUN" = 1 ] && BENCH_PROMPTS=4
bench() {  # bench PART KV_MEMORY
  part "$1" 200 "$NODE" bin/run.js bench --device $DEVICE -m "$BENCH_MODEL" --trace sharegpt \
    --num-prompts $BENCH_PROMPTS $([ "$DRY_RUN" = 1 ] || echo --kv-memory $2 --max-model-len 2048 --max-num-seqs 256) \
    --policies paged,orca-max,orca-oracle --json "$PARTS/$1.json"
}
bench bench_sharegpt 2GiB
# HF runs bench's own requests (its --json lists them), or the trace's first ones when bench left no JSON.
HF_TRACE=$PARTS/bench_sharegpt.json
[ -f "$HF_TRACE" ] || HF_TRACE=datasets/sharegpt.jsonl
part hf_generate_sharegpt 90 $PYTHON scripts/gpu/hf-generate.py "$BENCH_MODEL" "$HF_TRACE" \
  --num-prompts $BENCH_PROMPTS --batch 32 --max-seconds $([ "$DRY_RUN" = 1 ] && echo 5 || echo 40)
bench bench_sharegpt_16k_tokens 512MiB

# --- Decode tok/s at batch 1/32/256 and prefill TFLOP/s, --gemm auto: the 8B shape (its batch-1 target) here, the 1B
# shape after the correctness checks, cuBLAS-only and WMMA with the diagnostics ------------------------------------
speed() {  # speed SHAPE GEMM
  part "speed_$1_$2" 150 "$NODE" --import tsx scripts/gpu/step-speed.ts "$WORK/models/$1" --gemm $2 --batches 1,32,256 \
    --context 512 --prefill-tokens 4096
}
if [ "$DRY_RUN" != 1 ]; then
  make_shape llama-3.1-8b && speed llama-3.1-8b auto
else
  part speed_dry 120 "$NODE" --import tsx scripts/gpu/step-speed.ts "$PROJECT_MODEL" --device cpu --batches 1,4 \
    --context 64 --prefill-tokens 64 --steps 2
fi

# --- CUDA backend vs CPU backend, step by step; the device sampler on the same logits; the engine end to end -------
[ "$DRY_RUN" != 1 ] && part engine_vs_cpu 180 "$NODE" --import tsx scripts/gpu/engine-check.ts 1
# Where a model's end-to-end check failed: graphs on/off, GEMM auto/cuBLAS, batched or one by one, each vs the CPU and
# vs CUDA's own prefill of its output, so one run says which path is off.
grep -q '^FAIL engine ' "$PARTS/engine_vs_cpu.out" 2>/dev/null &&
  part engine_diag 90 "$NODE" --import tsx scripts/gpu/engine-diag.ts "$PARTS/engine_vs_cpu.out"
# --- One CUDA-vs-reference case per backend bug found by reading the code (graph logits, split-K workspace, GGUF q/k)
[ "$DRY_RUN" != 1 ] && part regression 120 "$NODE" --import tsx scripts/gpu/regression-check.ts
[ "$DRY_RUN" != 1 ] && speed llama-3.2-1b auto
# --- Our logits and transformers' bf16 run, each against transformers in float32 on the same weights -------------
IDS=$($PYTHON -c 'import random; r = random.Random(7); print(",".join(str(r.randrange(10, 4000)) for _ in range(64)))')
for model in "$ROOT/models/tinychat" "$PROJECT_MODEL"; do
  name=$(basename "$model")
  part "ours_logits_$name" 120 "$NODE" --import tsx scripts/gpu/step-speed.ts "$model" --device $DEVICE --batches '' \
    --logits-ids "$IDS" --logits-out "$WORK/ours-$name.f32" &&
  part "hf_vs_ours_$name" 120 $PYTHON scripts/gpu/hf-logits.py "$model" "$IDS" "$WORK/ours-$name.f32"
done

# Diagnostics after the targets: the backend's idle time between steps under each hostOverlap (none, outputs, async scheduling).
part host_work 60 "$NODE" --import tsx scripts/bench-host-work.ts --device $DEVICE --model "$BENCH_MODEL" --rounds 1 \
  $([ "$DRY_RUN" = 1 ] && echo --batch 4 --prompt-len 16 --output-len 8)
if [ "$DRY_RUN" != 1 ]; then
  speed llama-3.1-8b cublas  # cuBLAS at every size: what the GEMV kernel for 1-4 rows changes
  speed llama-3.2-1b wmma
  # Last: where a batch-1 8B decode step's time goes, kernel by kernel (ncu reads only each kernel's duration; clocks
  # left alone): the per-kernel summary lands in the parts folder.
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  [ -n "$NCU" ] && part profile_8b_batch1 90 "$NCU" --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
    --csv "$NODE" --import tsx scripts/gpu/step-speed.ts "$WORK/models/llama-3.1-8b" --batches 1 --context 512 --steps 2
fi

# --- One report ---------------------------------------------------------------------------------------------------
echo; echo "total $(( $(date +%s) - CHECK_STARTED )) s"
$PYTHON scripts/gpu/check-report.py "$PARTS" "$OUT/gpu-check.json"
