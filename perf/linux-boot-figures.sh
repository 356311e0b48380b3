#!/bin/sh
# Figures for README "Linux guests": Debian's 6.12 TDX kernel (fetched by scripts/fetch-debian-kernel.sh) on
# TdxSim and, in the same run, on QEMU TCG (qemu-system-x86_64, no TDX) with the same command line.
#   - instructions the decompressor executes up to its line "KASLR disabled: 'nokaslr' on cmdline."
#     (the smallest --max-instructions whose run has printed the whole line, by bisection);
#   - wall time from process start to that line on stdout, for tdxsim and for QEMU TCG (best of RUNS);
#   - interpreter MIPS during decompression: instructions after the line / wall time after the line, in a full
#     run that ends where TdxSim's support ends (the kernel proper's jump to its virtual address).
# Usage: perf/linux-boot-figures.sh [RUNS]   (default 3)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-3}
KERNEL=$("$ROOT/scripts/fetch-debian-kernel.sh")
dotnet build "$ROOT/src/TdxSim.Cli" -c Release -v q -nologo >&2
TDXSIM="$ROOT/src/TdxSim.Cli/bin/Release/net10.0/tdxsim.dll"
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "qemu-system-x86_64 missing: apt-get install -y qemu-system-x86" >&2; exit 1; }

exec python3 - "$TDXSIM" "$KERNEL" "$RUNS" <<'PY'
import re, subprocess, sys, time
tdxsim, kernel, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
LINE = b"KASLR disabled: 'nokaslr' on cmdline."
CMDLINE = "earlyprintk=ttyS0 console=ttyS0 nokaslr"

def time_to_line(argv, kill=True):
    """Seconds from spawn to LINE on stdout; with kill=False waits for the end and returns (t_line, t_end, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE if not kill else subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    seen, t_line = b"", None
    while True:
        chunk = p.stdout.read1(65536)
        if not chunk:
            break
        seen += chunk
        if t_line is None and LINE in seen:
            t_line = time.perf_counter() - t0
            if kill:
                p.kill()
                break
    if kill:
        p.wait()
        return t_line
    err = p.stderr.read().decode()
    p.wait()
    return t_line, time.perf_counter() - t0, err

tdx = ["dotnet", tdxsim, "run", "--kernel", kernel, "--append", CMDLINE, "--memory", "1G"]
qemu = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1G", "-nographic", "-kernel", kernel, "-append", CMDLINE]

def prints_line(n):
    r = subprocess.run(tdx + ["--max-instructions", str(n), "--quiet"], capture_output=True)
    return LINE in r.stdout

lo, hi = 1, 1 << 22
assert prints_line(hi), "the line does not come within 4M instructions"
while lo < hi:
    mid = (lo + hi) // 2
    if prints_line(mid):
        hi = mid
    else:
        lo = mid + 1
to_line = lo

full = []
for _ in range(runs):
    t_line, t_end, err = time_to_line(tdx, kill=False)
    m = re.search(r"exit (\d+) \(([a-z-]+)\) after ([\d.]+) ms, ([\d,]+) instructions", err)
    total = int(m.group(4).replace(",", ""))
    full.append((t_line, t_end, total, float(m.group(3)) / 1000, m.group(1), m.group(2)))
best = min(full, key=lambda f: f[0])
mips = max((f[2] - to_line) / (f[1] - f[0]) / 1e6 for f in full)
qemu_t = min(time_to_line(qemu) for _ in range(runs))

print(f"kernel                                  {kernel}")
print(f"decompressor instructions to its line   {to_line:,}")
print(f"tdxsim wall time to the line            {best[0]:.3f} s  (process start to stdout; best of {runs})")
print(f"qemu TCG wall time to the line          {qemu_t:.3f} s  (process start to stdout; best of {runs})")
print(f"tdxsim instructions in the full run     {best[2]:,}  (exit {best[4]} {best[5]}: the kernel proper's jump to its virtual address)")
print(f"interpreter MIPS during decompression   {mips:.1f} M instr/s  (instructions after the line / wall time after it)")
print(f"tdxsim full run                         {best[3]:.2f} s in the machine, {best[1]:.2f} s process wall")
PY
