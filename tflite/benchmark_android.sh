#!/usr/bin/env bash
# Per-exit latency of a converted MSDNet on an Android phone, with LiteRT's benchmark_model
# over adb, written as latency.json for `msdnet_tf.evaluate --budget-ms`.
#
#   tflite/benchmark_android.sh --models OUT --benchmark-model ./benchmark_model \
#       [--threads 4] [--gpu] [--runs 50] [--warmup 5] [--taskset f0] [--serial ID] \
#       [--no-truncated] [--output OUT/latency_phone_4t.json] [-- EXTRA_TOOL_FLAGS...]
#
# OUT is a tflite/convert.py output directory. For every stage k the tool times
# `--graph=cascade.tflite --signature_to_run_for=stage_k` (one signature per run), and,
# unless --no-truncated, each exit_k.tflite on its own. benchmark_model is the Android
# arm64 binary of LiteRT (prebuilt nightly: see android_demo/README.md). Raw logs are kept
# next to the output (<output>.logs/); tflite/benchmark_parse.py turns them into JSON.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "benchmark_android.sh: error: $*" >&2; exit 2; }

ADB=${ADB:-adb}
MODELS="" TOOL="" THREADS=4 GPU=0 RUNS=50 WARMUP=5 TASKSET="" SERIAL="" TRUNCATED=1 OUTPUT=""
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --benchmark-model) TOOL=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --taskset) TASKSET=$2; shift 2 ;;
    --serial) SERIAL=$2; shift 2 ;;
    --no-truncated) TRUNCATED=0; shift ;;
    --output) OUTPUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "benchmark_android.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[ -n "$MODELS" ] || die "--models OUT is required (a tflite/convert.py output directory)"
[ -f "$MODELS/manifest.json" ] || die "$MODELS/manifest.json not found: is $MODELS the --output of tflite/convert.py?"
[ -n "$TOOL" ] || die "--benchmark-model PATH is required (LiteRT's Android arm64 benchmark_model binary; see android_demo/README.md)"
[ -f "$TOOL" ] || die "benchmark_model binary $TOOL not found"
for n in "$THREADS" "$RUNS" "$WARMUP"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "--threads, --runs and --warmup take integers. Received: $n"
done
command -v "$ADB" >/dev/null || die "adb not found: install Android platform-tools (or set ADB=/path/to/adb)"

HERE=$(cd "$(dirname "$0")" && pwd)
read -r NUM_EXITS CASCADE < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["num_exits"], m["cascade"]["file"])' "$MODELS/manifest.json") \
  || die "cannot read $MODELS/manifest.json"
[ -f "$MODELS/$CASCADE" ] || die "$MODELS/$CASCADE not found"
ACCEL=cpu; [ "$GPU" = 1 ] && ACCEL=gpu
OUTPUT=${OUTPUT:-$MODELS/latency_phone_${THREADS}t_${ACCEL}.json}
LOGS="$OUTPUT.logs"
rm -rf "$LOGS"; mkdir -p "$LOGS"

adb_() { if [ -n "$SERIAL" ]; then "$ADB" -s "$SERIAL" "$@"; else "$ADB" "$@"; fi; }
state=$(adb_ get-state 2>/dev/null || true)
[ "$state" = device ] || die "no phone ready over adb (state: ${state:-none}); connect one with USB debugging on, or pass --serial"

REMOTE=/data/local/tmp/msdnet_benchmark
adb_ shell "mkdir -p $REMOTE" >/dev/null
adb_ push "$TOOL" "$REMOTE/benchmark_model" >/dev/null
adb_ shell "chmod +x $REMOTE/benchmark_model"
adb_ push "$MODELS/$CASCADE" "$REMOTE/$CASCADE" >/dev/null
DEVICE="$(adb_ shell getprop ro.product.manufacturer | tr -d '\r') $(adb_ shell getprop ro.product.model | tr -d '\r')"
SOC=$(adb_ shell getprop ro.soc.model | tr -d '\r')
[ -n "$SOC" ] && DEVICE="$DEVICE ($SOC)"

FLAGS=(--num_threads="$THREADS" --num_runs="$RUNS" --warmup_runs="$WARMUP")
[ "$GPU" = 1 ] && FLAGS+=(--use_gpu=true)
FLAGS+=("${EXTRA[@]+"${EXTRA[@]}"}")
PIN=""; [ -n "$TASKSET" ] && PIN="taskset $TASKSET "

run_tool() {  # run_tool LOG GRAPH [FLAG...]
  local log=$1 graph=$2; shift 2
  echo "  benchmark_model --graph=$graph $*" >&2
  adb_ shell "${PIN}$REMOTE/benchmark_model --graph=$REMOTE/$graph $*" >"$log" 2>&1 || true
}

echo "benchmarking $MODELS on $DEVICE: $NUM_EXITS stages, $THREADS thread(s), $ACCEL" >&2
for ((k = 0; k < NUM_EXITS; k++)); do
  run_tool "$LOGS/stage_$k.log" "$CASCADE" --signature_to_run_for="stage_$k" "${FLAGS[@]}"
done
if [ "$TRUNCATED" = 1 ]; then
  for ((k = 0; k < NUM_EXITS; k++)); do
    file=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exits"][int(sys.argv[2])]["file"] or "")' \
           "$MODELS/manifest.json" "$k")
    if [ -n "$file" ] && [ -f "$MODELS/$file" ]; then
      adb_ push "$MODELS/$file" "$REMOTE/$file" >/dev/null
      run_tool "$LOGS/exit_$k.log" "$file" "${FLAGS[@]}"
    fi
  done
fi
adb_ shell "rm -rf $REMOTE" >/dev/null || true

python3 "$HERE/benchmark_parse.py" --manifest "$MODELS/manifest.json" --logs "$LOGS" \
  --device "$DEVICE" --threads "$THREADS" --accelerator "$ACCEL" --output "$OUTPUT"
