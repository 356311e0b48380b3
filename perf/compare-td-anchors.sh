#!/usr/bin/env bash
# TdxSim's TD round trips beside a real KVM exit on this machine, as ratios.
#   perf/compare-td-anchors.sh [COUNT]
# Builds the anchors (gcc), runs kvm_exit_latency pio/mmio when /dev/kvm is usable, then
# `tdxsim stress` for pio and mmio over #VE and paravirt, and prints p50 latencies and ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-200000}
shared=${TDXSIM_SHARED:-$here/../shared}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$shared/anchors/build.sh" "$out" >/dev/null
dotnet build "$here/src/TdxSim.Cli" -c Release -v quiet -nologo >/dev/null
tdxsim() { dotnet "$here/src/TdxSim.Cli/bin/Release/net10.0/tdxsim.dll" "$@"; }

kvm_ns() {
  local line
  if line=$("$out/kvm_exit_latency" "$1" 2>/dev/null); then
    echo "$line" | sed -n 's/.*round trip: \([0-9]*\) ns.*/\1/p'
  else
    echo ""
  fi
}

printf '%-6s %-9s %12s %12s %12s %14s\n' op path "p50 (ns)" "ops/s" "KVM exit (ns)" "KVM / TdxSim"
for op in pio mmio; do
  kvm=$(kvm_ns "$op")
  for path in ve paravirt; do
    json=$(tdxsim stress --op "$op" --path "$path" --count "$count" --json)
    p50=$(echo "$json" | sed -n 's/.*"latency_ns":{"p50":\([0-9]*\).*/\1/p')
    ops=$(echo "$json" | sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p')
    # Shown as "unavailable" without /dev/kvm, but kept empty for the next path's test.
    if [ -n "$kvm" ]; then
      ratio=$(awk -v k="$kvm" -v t="$p50" 'BEGIN { printf "%.1fx", k / t }'); shown=$kvm
    else
      ratio="-"; shown="unavailable"
    fi
    printf '%-6s %-9s %12s %12s %12s %14s\n' "$op" "$path" "$p50" "$ops" "$shown" "$ratio"
  done
done
