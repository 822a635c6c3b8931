"""The benchmark's plain-NumPy step (benchmarks/numpy_step.py) is the same yearly step as the
Numba kernel: same draws, same events, same tallies. The benchmark's speed-up figure means
something only while this holds."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from povsim.engine import kernel as K
from povsim.engine.simulate import prepare, simulate
from povsim.model import registry as R
from povsim.model.rng import seed_key, uniforms

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "numpy_step.py"


@pytest.fixture(scope="module")
def NS():
    spec = importlib.util.spec_from_file_location("povsim_bench_numpy_step", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_counter_based_draws_match(NS):
    sk = seed_key(20240607)
    pids = np.arange(0, 50_000, 7, dtype=np.int64)
    key = NS.person_key(sk, pids, 13)
    for draw in range(12):
        assert np.array_equal(NS.uniform(key, draw), uniforms(sk, pids, 13, draw))


def test_numpy_step_same_states_and_tallies(NS, mp):
    """20,000 persons x 3 years through the real yearly loop: after every year every state
    array is identical (bit for bit, income potential included) and tallies agree."""
    size, years, seed = 20_000, 3, 17
    tables, pop0 = prepare(mp, size, years, seed)

    def run(numpy: bool):
        tb, pop = copy.deepcopy(tables), pop0.copy()
        snaps = []

        def snap(t: int) -> None:
            snaps.append(pop.copy())

        if numpy:
            with NS.numpy_kernel():
                tal = simulate(mp, tb, pop, years, seed, progress=snap)
        else:
            tal = simulate(mp, tb, pop, years, seed, progress=snap)
        return tal, snaps

    assert K.step_year is not NS.step_year_numpy
    tal_nb, snaps_nb = run(False)
    tal_np, snaps_np = run(True)
    assert K.step_year is not NS.step_year_numpy  # the swap is undone
    assert len(snaps_nb) == len(snaps_np) == years
    for t in range(years):
        diffs = {k: v for k, v in NS.compare_states(snaps_nb[t], snaps_np[t]).items() if v}
        assert not diffs, f"year {t}: persons differing per state: {diffs}"
        assert snaps_nb[t].alive.sum() > 0.9 * size
        np.testing.assert_allclose(
            tal_np[t], tal_nb[t], rtol=1e-9, atol=0, err_msg=f"tallies, year {t}"
        )
    # Something happened: deaths, and transitions in slow-moving states.
    assert tal_nb[..., R.S_DEATHS].sum() > 0
    assert not np.array_equal(snaps_nb[-1].zinc, pop0.zinc)
    assert not np.array_equal(snaps_nb[-1].ltc, pop0.ltc)
