"""In-process A/B of versions of the year step (``src/povsim/engine/kernel.py``).

Each FILE is a copy of ``kernel.py`` (a variant to try, or the module of another revision
that works with this checkout's other modules; ``-`` is this checkout's own). All of them step
copies of one mid-run population in turn, repeat after repeat, so a drift of the machine's
speed (large on a shared VM) hits every version alike; each repeat's time over the first
version's in the same repeat is the paired ratio reported. The tallies of the stepped year are
compared with the first version's (``same``); states are left to the tests.

    python benchmarks/ab_step.py --threads 2 --size 1000000 --repeats 60 - my_kernel.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from povsim.engine import simulate as S  # noqa: E402
from povsim.inputs import layout as L  # noqa: E402
from povsim.inputs.parameters import load_params  # noqa: E402
from povsim.model.rng import seed_key  # noqa: E402


def load_variant(path: str, j: int, into: Path):
    """The kernel module in ``path`` under a name of its own (its own Numba cache)."""
    src = ROOT / "src/povsim/engine/kernel.py" if path == "-" else Path(path)
    dst = into / f"kvariant{j}.py"
    dst.write_text(src.read_text())
    spec = importlib.util.spec_from_file_location(f"kvariant{j}", dst)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="kernel.py versions; '-' is this checkout's")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=300_000, help="starting persons")
    ap.add_argument("--year", type=int, default=20, help="the year stepped (after a run to it)")
    ap.add_argument("--repeats", type=int, default=60)
    a = ap.parse_args()
    numba.set_num_threads(a.threads)
    tmp = Path(tempfile.mkdtemp(prefix="ab_step_"))
    mods = [load_variant(f, j, tmp) for j, f in enumerate(a.files)]
    mp = load_params()
    tables, pop0 = S.prepare(mp, a.size, a.year + 40, 1)
    S.simulate(mp, tables, pop0, a.year, 1)
    t = a.year
    pop0.alive[pop0.birth_year == t] = 1
    reg = tables.registry
    sk = seed_key(1)
    chunks = np.zeros((S.n_chunks_for(pop0.size), L.N_CELL, reg.n_stats))
    n_alive = int(pop0.alive.sum())
    times: list[list[float]] = [[] for _ in mods]
    tallies: list[np.ndarray] = []
    for rep in range(a.repeats + 1):  # repeat 0 compiles or loads each variant
        for j, m in enumerate(mods):
            year = m.year_inputs(
                tables, reg.kernel_layout(), S.kernel_scalars(mp, tables), np.ones(5)
            )
            pop = pop0.copy()
            start = time.perf_counter()
            m.step_year(t, sk, pop.kernel_arrays(), year, chunks, m.uniform_weight(pop.weight))
            if rep > 0:
                times[j].append(time.perf_counter() - start)
            else:
                tallies.append(chunks.sum(axis=0))
    print(f"{n_alive:,} living persons, year {t}, {a.threads} thread(s), {a.repeats} repeats")
    for j, f in enumerate(a.files):
        r = times[j]
        ratios = sorted(x / y for x, y in zip(r, times[0], strict=True))
        q = len(ratios) // 4
        same = np.array_equal(tallies[j], tallies[0])
        print(
            f"{f:24s} median {statistics.median(r) * 1e3:7.1f} ms "
            f"({n_alive / statistics.median(r):.3g} person-years/s), min {min(r) * 1e3:7.1f} ms; "
            f"paired ratio {statistics.median(ratios):.3f} [{ratios[q]:.3f}, {ratios[-q - 1]:.3f}]"
            f"; same tallies: {same}"
        )


if __name__ == "__main__":
    main()
