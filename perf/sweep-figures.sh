#!/usr/bin/env bash
# Sweep figures for the README (issue 12): runs/s in process and over 2 worker processes on this machine, the
# cluster's per-run overhead, and seeds/hour for configs/smp-hello.yaml at 2 and 8 vCPUs.
# Usage: perf/sweep-figures.sh [SEEDS]   (default 120 seeds per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-120}
dotnet build src/TdxSim.Cli -c Release -m:1 -v q -nologo >/dev/null
T=(dotnet src/TdxSim.Cli/bin/Release/net10.0/tdxsim.dll)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# runs/s from --json, and the per-run overhead: wall time x worker threads / runs - the runs' own mean wall time
figures() { python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); threads = int(sys.argv[2]); s = d["summary"]
runs = d["runs"]; mean = sum(r["wall_ms"] for r in runs) / len(runs)
per = s["seconds"] * 1000 * threads / s["runs"]
print(f'{s["runs"]} runs in {s["seconds"]:.2f} s: {s["runs_per_sec"]:.2f} runs/s, {s["runs_per_sec"]*3600:,.0f} seeds/hour; '
      f'a run {mean:.1f} ms on its worker, {per:.1f} ms of a worker thread per run: overhead {per-mean:.1f} ms/run')
PY
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"${T[@]}" sweep configs/smp-hello.yaml --seeds 1..$N --vcpus 2 --workers 2 --json > "$tmp/local2.json" 2>/dev/null || true
echo "in process, 2 workers, 2 vCPUs: $(figures "$tmp/local2.json" 2)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${T[@]}" sweep configs/smp-hello.yaml --seeds 1..$N --vcpus 2 --cluster 127.0.0.1:$port --min-workers 2 --json > "$tmp/cluster2.json" 2>"$tmp/coord.err" &
coord=$!
sleep 1
"${T[@]}" worker --join 127.0.0.1:$port --slots 1 2>/dev/null &
w1=$!
"${T[@]}" worker --join 127.0.0.1:$port --slots 1 2>/dev/null &
w2=$!
wait $coord $w1 $w2 || true
echo "cluster, 2 worker processes x 1 slot, 2 vCPUs: $(figures "$tmp/cluster2.json" 2)"

"${T[@]}" sweep configs/smp-hello.yaml --seeds 1..$N --vcpus 8 --workers 2 --json > "$tmp/local8.json" 2>/dev/null || true
echo "in process, 2 workers, 8 vCPUs: $(figures "$tmp/local8.json" 2)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
