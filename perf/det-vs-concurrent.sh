#!/usr/bin/env bash
# Deterministic mode against the concurrent mode on the default scenario (smp-hello), by vCPU count: wall time of
# `tdxsim run --vcpus N` and `tdxsim run --vcpus N --deterministic --seed 1`, best of RUNS each, taken alternately so
# that both see the same load. Prints a Markdown table (README, "Deterministic mode at scale").
#   perf/det-vs-concurrent.sh [RUNS] [VCPUS...]      (defaults: 3; 16 64 128 256)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(16 64 128 256)
dotnet build "$here/src/TdxSim.Cli" -c Release -v quiet -nologo >/dev/null
tdxsim="$here/src/TdxSim.Cli/bin/Release/net10.0/tdxsim"

wall() {  # prints seconds, or "timeout"
  local start end
  start=$(date +%s.%N)
  if ! timeout -k 5 600 "$tdxsim" run --quiet "$@" >/dev/null 2>&1; then echo timeout; return; fi
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

best() { printf '%s\n' "$@" | grep -v timeout | sort -n | head -1; }

echo "| vCPUs | concurrent (best of $runs) | deterministic, seed 1 (best of $runs) | det / conc |"
echo "|---|---|---|---|"
for n in "${sizes[@]}"; do
  conc=(); det=()
  for _ in $(seq "$runs"); do
    conc+=("$(wall --vcpus "$n")")
    det+=("$(wall --vcpus "$n" --deterministic --seed 1)")
  done
  c=$(best "${conc[@]}"); d=$(best "${det[@]}")
  ratio=$(awk -v c="${c:-0}" -v d="${d:-0}" 'BEGIN { if (c > 0 && d > 0) printf "%.2fx", d / c; else print "-" }')
  echo "| $n | ${c:-timeout} s | ${d:-timeout} s | $ratio |"
  echo "vCPUs $n: concurrent ${conc[*]}; deterministic ${det[*]}" >&2
done
