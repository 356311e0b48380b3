#!/usr/bin/env bash
# Puts the interpreter's crc32 figure beside the native program and qemu-x86_64 (TCG) on the same kernel, as ratios.
#   perf/TdxSim.Benchmarks/Cpu/compare-anchors.sh            (needs hyperfine or falls back to a timing loop;
#                                                             qemu-user: apt-get install -y qemu-user)
# The machines are shared and noisy: all three are measured in one run and compared as ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
shared=${TDXSIM_SHARED:-$(cd "$repo/.." && pwd)/shared}
bin="$shared/anchors/bin"
export TDXSIM_SHARED="$shared"
runs=${RUNS:-10}

[ -x "$bin/crc32-host" ] || { echo "missing $bin/crc32-host" >&2; exit 1; }

# Mean wall time in seconds of a command, over $runs runs after one warm-up.
mean_seconds() {
  if command -v hyperfine >/dev/null 2>&1; then
    local json; json=$(mktemp)
    hyperfine --warmup 1 --runs "$runs" --style none --export-json "$json" "$*" >/dev/null
    grep -o '"mean": *[0-9.eE+-]*' "$json" | head -n 1 | sed 's/.*: *//'
    rm -f "$json"
  else
    "$@" >/dev/null
    local start end; start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" >/dev/null; done
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" -v n="$runs" 'BEGIN { printf "%.6f", (e - s) / 1e9 / n }'
  fi
}

echo "== native: $bin/crc32-host"
"$bin/crc32-host"
native=$(mean_seconds "$bin/crc32-host")

qemu=""
if command -v qemu-x86_64 >/dev/null 2>&1; then
  echo "== qemu-x86_64 (TCG): $bin/crc32-host"
  qemu-x86_64 "$bin/crc32-host"
  qemu=$(mean_seconds qemu-x86_64 "$bin/crc32-host")
else
  echo "qemu-x86_64 not installed (apt-get install -y qemu-user): skipping that column" >&2
fi

echo "== interpreter: BenchmarkDotNet, perf/TdxSim.Benchmarks"
artifacts=$(mktemp -d)
(cd "$repo" && dotnet run -c Release --project perf/TdxSim.Benchmarks -- \
  --filter '*InterpreterBenchmarks*' --exporters json --artifacts "$artifacts") > "$artifacts/run.log"
grep -E '^\|' "$artifacts/run.log" || tail -n 30 "$artifacts/run.log"
report=$(ls "$artifacts"/results/*InterpreterBenchmarks*-report-full-compressed.json 2>/dev/null | head -n 1 || true)
[ -n "$report" ] || report=$(ls "$artifacts"/results/*InterpreterBenchmarks*.json | head -n 1)
interp_ns=$(grep -o '"Mean":[0-9.eE+-]*' "$report" | head -n 1 | sed 's/.*://')
alloc=$(grep -o '"BytesAllocatedPerOperation":[0-9]*' "$report" | head -n 1 | sed 's/.*://')
rm -rf "$artifacts"

# Instructions retired by the kernel (guest build; the host build runs the same loops): the interpreter counts them.
instructions=${INSTRUCTIONS:-186646939}
awk -v n="$instructions" -v nat="$native" -v q="${qemu:-0}" -v ins="$interp_ns" -v alloc="${alloc:-?}" 'BEGIN {
  it = ins / 1e9
  printf "\n%-28s %12s %14s %16s\n", "program", "time", "M instr/s", "vs native"
  printf "%-28s %10.1f ms %14.0f %15.3fx\n", "crc32-host (native)", nat * 1e3, n / nat / 1e6, 1
  if (q > 0) printf "%-28s %10.1f ms %14.0f %15.3fx\n", "qemu-x86_64 crc32-host", q * 1e3, n / q / 1e6, nat / q
  printf "%-28s %10.1f ms %14.1f %15.4fx\n", "TdxSim interpreter", it * 1e3, n / it / 1e6, nat / it
  printf "\ninterpreter MIPS / native MIPS = %.4f\n", nat / it
  if (q > 0) printf "interpreter time / qemu time   = %.2f\n", it / q
  printf "allocated per run               = %s B\n", alloc
}'
