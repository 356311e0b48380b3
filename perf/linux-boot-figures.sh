#!/bin/sh
# Figures for README "Linux guests" (and docs/linux-boot.md): Debian's 6.12 TDX kernel (fetched by
# scripts/fetch-debian-kernel.sh) on TdxSim and, in the same run, on QEMU TCG (qemu-system-x86_64 -accel tcg, no
# TDX) with the same kernel and command line (earlyprintk=ttyS0 console=ttyS0 nokaslr, 1 GiB, no disk, no initrd).
#   Decompressor:
#   - instructions the decompressor executes up to its line "KASLR disabled: 'nokaslr' on cmdline."
#     (the smallest --max-instructions whose run has printed the whole line, by bisection);
#   - wall time from process start to that line on stdout, tdxsim and QEMU TCG (best of RUNS);
#   Boot to the VFS panic (no root device), BOOT_RUNS runs of each side, the best one shown:
#   - console lines reached: non-empty lines on stdout from the decompressor's first line to the end of the panic
#     ("---[ end Kernel panic ..."), so QEMU's SeaBIOS/iPXE banner is not counted;
#   - the last line, and the wall time from process start to "Kernel panic - not syncing" and to its end line;
#   - tdxsim only: SIGINT at the end line, then its exit summary: instructions executed and machine time.
#   A side that does not reach the end line within its limit (tdxsim: BOOT_LIMIT s, QEMU: 120 s) is shown with the
#   lines it reached and its last line.
# Installs qemu-system-x86 (apt-get) when qemu-system-x86_64 is missing.
# Prints a Markdown table on stdout; progress on stderr.
# Usage: perf/linux-boot-figures.sh [RUNS [BOOT_RUNS [BOOT_LIMIT]]]   (defaults 3, 1, 900)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-3}
BOOT_RUNS=${2:-1}
BOOT_LIMIT=${3:-900}

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    SUDO=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "qemu-system-x86_64 missing and not root, no sudo: apt-get install -y qemu-system-x86" >&2; exit 1; }
        SUDO="sudo -n"
    fi
    echo "linux-boot-figures: installing qemu-system-x86" >&2
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-system-x86 >&2; then
        $SUDO apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-system-x86 >&2
    fi
    command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "qemu-system-x86_64 still missing after apt-get" >&2; exit 1; }
fi

KERNEL=$("$ROOT/scripts/fetch-debian-kernel.sh")
dotnet build "$ROOT/src/TdxSim.Cli" -c Release -v q -nologo >&2
TDXSIM="$ROOT/src/TdxSim.Cli/bin/Release/net10.0/tdxsim.dll"

exec python3 - "$TDXSIM" "$KERNEL" "$RUNS" "$BOOT_RUNS" "$BOOT_LIMIT" <<'PY'
import re, signal, subprocess, sys, threading, time
tdxsim, kernel, runs, boot_runs, boot_limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
LINE = b"KASLR disabled: 'nokaslr' on cmdline."
PANIC = b"Kernel panic - not syncing"
END = b"---[ end Kernel panic"
CMDLINE = "earlyprintk=ttyS0 console=ttyS0 nokaslr"
QEMU_LIMIT = 120.0

def log(msg):
    print(f"linux-boot-figures: {msg}", file=sys.stderr, flush=True)

def time_to_line(argv):
    """Seconds from spawn to LINE on stdout (the process is killed there)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    seen, t_line = b"", None
    while True:
        chunk = p.stdout.read1(65536)
        if not chunk:
            break
        seen += chunk
        if LINE in seen:
            t_line = time.perf_counter() - t0
            break
    p.kill()
    p.wait()
    return t_line

def console_lines(out):
    """Non-empty console lines from the decompressor's line on (QEMU's firmware banner before it is not counted)."""
    text = out.replace(b"\r", b"")
    start = text.find(LINE)
    if start >= 0:
        text = text[start:]
    return [l.decode(errors="replace") for l in text.split(b"\n") if l.strip()]

def boot(argv, limit, interrupt):
    """Runs to the end of the panic (or the limit). Returns a dict: lines, last, t_panic, t_end, t_total, stderr."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    reader.start()
    timer = threading.Timer(limit, lambda: p.send_signal(signal.SIGINT if interrupt else signal.SIGKILL))
    timer.start()
    seen, t_panic, t_end = b"", None, None
    while True:
        chunk = p.stdout.read1(65536)
        if not chunk:
            break
        seen += chunk
        now = time.perf_counter() - t0
        if t_panic is None and PANIC in seen:
            t_panic = now
        if t_end is None and END in seen and seen.rfind(b"\n") > seen.find(END):
            t_end = now
            break
    timer.cancel()
    if p.poll() is None:
        if interrupt:
            p.send_signal(signal.SIGINT)   # tdxsim stops the TD and prints its summary
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        else:
            p.kill()
    seen += p.stdout.read()
    p.wait()
    reader.join(timeout=10)
    t_total = time.perf_counter() - t0
    lines = console_lines(seen[: seen.find(b"\n", seen.find(END)) + 1] if t_end is not None else seen)
    return dict(lines=len(lines), last=lines[-1] if lines else "", t_panic=t_panic, t_end=t_end, t_total=t_total,
                stderr=(err[0] if err else b"").decode(errors="replace"), status=p.returncode)

tdx = ["dotnet", tdxsim, "run", "--kernel", kernel, "--append", CMDLINE, "--memory", "1G"]
qemu = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1G", "-nographic", "-kernel", kernel, "-append", CMDLINE]

def prints_line(n):
    r = subprocess.run(tdx + ["--max-instructions", str(n), "--quiet"], capture_output=True)
    return LINE in r.stdout

log("bisecting the decompressor's instructions to its line")
lo, hi = 1, 1 << 22
assert prints_line(hi), "the line does not come within 4M instructions"
while lo < hi:
    mid = (lo + hi) // 2
    if prints_line(mid):
        hi = mid
    else:
        lo = mid + 1
to_line = lo

log(f"time to the decompressor's line, best of {runs}")
tdx_line = min(time_to_line(tdx) for _ in range(runs))
qemu_line = min(time_to_line(qemu) for _ in range(runs))

def best_of(argv, limit, interrupt, name):
    results = []
    for i in range(boot_runs):
        log(f"{name}: boot to the VFS panic, run {i + 1} of {boot_runs} (limit {limit:.0f} s)")
        results.append(boot(argv, limit, interrupt))
    return min(results, key=lambda r: (r["t_end"] is None, r["t_end"] or 0, -r["lines"]))

tb = best_of(tdx, boot_limit, True, "tdxsim")
qb = best_of(qemu, QEMU_LIMIT, False, "qemu")

m = re.search(r"exit (\d+) \(([a-z-]+)\) after ([\d.]+) ms, ([\d,]+) instructions", tb["stderr"])
tdx_instr = int(m.group(4).replace(",", "")) if m else None
tdx_machine_s = float(m.group(3)) / 1000 if m else None

def secs(t):
    return f"{t:.2f} s" if t is not None else "not reached"

def md(s):
    return s.replace("|", "\\|")

print(f"Kernel: `{kernel}`, command line `{CMDLINE}`, 1 GiB, no disk, no initrd.")
print(f"QEMU TCG: `qemu-system-x86_64 -accel tcg -m 1G -nographic -kernel ... -append ...` in the same run.")
print()
print("| figure | tdxsim | QEMU TCG |")
print("|---|---|---|")
print(f"| decompressor instructions to `KASLR disabled` | {to_line:,} | |")
print(f"| wall time, process start to `KASLR disabled` (best of {runs}) | {tdx_line:.3f} s | {qemu_line:.3f} s |")
print(f"| console lines to the end of the panic (non-empty, from the decompressor's line) | {tb['lines']} | {qb['lines']} |")
print(f"| last line | `{md(tb['last'])}` | `{md(qb['last'])}` |")
print(f"| wall time, process start to `Kernel panic - not syncing` (best of {boot_runs}) | {secs(tb['t_panic'])} | {secs(qb['t_panic'])} |")
print(f"| wall time, process start to the panic's end line | {secs(tb['t_end'])} | {secs(qb['t_end'])} |")
if tdx_instr is not None:
    print(f"| instructions to the end line (SIGINT there) / machine time | {tdx_instr:,} in {tdx_machine_s:.2f} s "
          f"({tdx_instr / tdx_machine_s / 1e6:.0f} M/s); exit {m.group(1)} ({m.group(2)}) | |")
else:
    print(f"| tdxsim exit | status {tb['status']}, no summary on stderr | |")
PY
