#!/bin/bash
# Message log cost: N alternated pairs of `tdxsim stress --op pio --count 500000 --json`, without and with
# `--log`, for the #VE and the paravirt path; prints ops/s, p50 and the off/on ratio of each pair, and the median.
# Usage: perf/log-ratio.sh [N=6] [LOG=/tmp/tdxsim-log-ratio.jsonl]. Builds the CLI (Release) first.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-6}
log=${2:-/tmp/tdxsim-log-ratio.jsonl}
dotnet build src/TdxSim.Cli -c Release -v quiet -nologo >/dev/null
bin=src/TdxSim.Cli/bin/Release/net10.0/tdxsim
for path in ve paravirt; do
  python3 - "$bin" "$path" "$n" "$log" <<'PY'
import json, statistics, subprocess, sys
binary, path, n, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def run(with_log):
    args = [binary, 'stress', '--op', 'pio', '--path', path, '--count', '500000', '--json']
    if with_log:
        args += ['--log', log]
    d = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    return d['ops_per_sec'], d['latency_ns']['p50']
ratios = []
for i in range(n):
    off, on = run(False), run(True)
    ratios.append(off[0] / on[0])
    print(f'{path} pair {i + 1}: off {off[0] / 1e3:.0f}k ops/s p50 {off[1]} ns | on {on[0] / 1e3:.0f}k ops/s p50 {on[1]} ns | {ratios[-1]:.2f}x')
print(f'{path}: median {statistics.median(ratios):.2f}x, met (<= 2x) in {sum(r <= 2 for r in ratios)} of {n}')
PY
done
rm -f "$log"
