#!/bin/sh
# Long soak (issue 13): the CI soak's 32-vCPU #VE port-I/O TD with the message log on, run back to back for
# SECONDS (default 240), the process RSS sampled every second into soak-rss.csv, drawn as soak-rss.png, summary in
# soak-summary.txt. Fails if RSS climbs by 96 MiB or more over the second half, or if any run loses a request.
#   perf/soak.sh [SECONDS] [OUT_DIR]      (OUT_DIR default: docs/)
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-240}
OUT=${2:-docs}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
dotnet build tests/TdxSim.Machine.Tests -c Release --nologo -v q
TDXSIM_SOAK_SECONDS=$SECS TDXSIM_SOAK_OUT=$OUT dotnet test tests/TdxSim.Machine.Tests -c Release --no-build --nologo \
    --filter "FullyQualifiedName~SoakTests.Soak_long_form_on_demand" --logger "console;verbosity=normal"
cat "$OUT/soak-summary.txt"
echo "soak: $OUT/soak-rss.csv, $OUT/soak-rss.png" >&2
