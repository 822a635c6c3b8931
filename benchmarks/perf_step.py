"""Where the year step spends its time, instruction by instruction (Linux ``perf``).

The VM this project runs on has no hardware counters, so this samples the CPU clock. Numba's
JIT code has no symbols for ``perf``; this script compiles the step afresh (an empty Numba
cache: only freshly compiled libraries keep their object code), writes ``/tmp/perf-PID.map``
with every function of the step's libraries (addresses from the library, sizes from the
object code's symbol table), records the simulation with ``perf record -e cpu-clock``, and
prints the functions by share and the parallel loop's hottest instructions with their
neighbours (``objdump``). A sample lands on the instruction after the one that stalled.

    python benchmarks/perf_step.py --size 300000 --years 40
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=300_000)
    ap.add_argument("--years", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top", type=int, default=12, help="hottest instructions to show")
    a = ap.parse_args()
    if "NUMBA_CACHE_DIR" not in os.environ:  # re-run with an empty cache: compile afresh
        env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="perf_step_nbc_"))
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
    sys.path.insert(0, str(ROOT / "src"))
    import numba

    from povsim.engine import kernel as K
    from povsim.engine import simulate as S
    from povsim.inputs.parameters import load_params

    numba.set_num_threads(a.threads)
    mp = load_params()
    tables, pop = S.prepare(mp, a.size, a.years, 1)
    S.simulate(mp, tables, pop.copy(), 2, 1)  # compiles the step
    work = Path(tempfile.mkdtemp(prefix="perf_step_"))
    funcs = []  # (address, size, name, object file)
    seen: set[int] = set()

    def walk(lib) -> None:
        if id(lib) in seen:
            return
        seen.add(id(lib))
        try:
            obj = lib._get_compiled_object()
        except Exception:  # a wrapper library without object caching
            obj = None
        if obj:
            path = work / f"lib{len(seen)}.o"
            path.write_bytes(obj)
            nm = subprocess.run(["nm", "-S", "--defined-only", str(path)], capture_output=True)
            for line in nm.stdout.decode().splitlines():
                p = line.split()
                if len(p) == 4 and p[2] in "tT":
                    try:
                        addr = lib.get_pointer_to_function(p[3])
                    except Exception:
                        addr = 0
                    if addr:
                        funcs.append((addr, int(p[1], 16), p[3], path))
        for sub in getattr(lib, "_linking_libraries", []):
            walk(sub)

    for step in K._STEP_FOR_LAYOUT.values():
        for cres in step.overloads.values():
            walk(cres.library)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for addr, size, name, _ in sorted(funcs):
            fh.write(f"{addr:x} {size:x} {name[:200]}\n")
    data = work / "perf.data"
    rec = subprocess.Popen(
        ["perf", "record", "-e", "cpu-clock", "-F", "10000", "-p", str(os.getpid()), "-o", data],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    t0 = time.perf_counter()
    S.simulate(mp, tables, pop, a.years, 1)
    print(f"simulated {a.size:,} persons x {a.years} years in {time.perf_counter() - t0:.2f} s")
    rec.send_signal(signal.SIGINT)
    rec.wait()
    report = subprocess.run(
        ["perf", "report", "-i", data, "--sort", "sym", "--stdio"], capture_output=True
    ).stdout.decode()
    print("\n".join([x[:110] for x in report.splitlines() if x and x[0] != "#"][:15]))
    # The parallel loop: the gufunc body with the most samples.
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True)
    samples = [int(x, 16) for x in script.stdout.decode().split()]
    loops = [f for f in funcs if "parfor_gufunc" in f[2] and not f[2].startswith("cfunc")]
    addr, size, name, obj = max(loops, key=lambda f: sum(f[0] <= x < f[0] + f[1] for x in samples))
    hits = collections.Counter(x - addr for x in samples if addr <= x < addr + size)
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", f"--stop-address={size}", str(obj)],
        capture_output=True,
    ).stdout.decode()
    lines = [x for x in dis.splitlines() if re.match(r"\s+[0-9a-f]+:", x)]
    offsets = [int(x.split(":")[0], 16) for x in lines]
    total = sum(hits.values())
    stack = sum("(%rsp)" in x for x in lines)
    print(f"\nparallel loop: {len(lines)} instructions ({stack} on the stack), {total} samples")
    for off, n in hits.most_common(a.top):
        k = offsets.index(off) if off in offsets else 0
        print(f"--- {n} samples ({n / total:.1%}) at +{off:x}")
        for x in lines[max(0, k - 6) : k + 1]:
            print("   ", x.strip()[:100])


if __name__ == "__main__":
    main()
