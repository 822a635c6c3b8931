"""England at full scale (issue 17, goal 4): the set-up of a large population.

Populations above ``population.LARGE_POPULATION`` starting persons are fitted on a sample of
households and store their weights and the interventions' effects as constants (one value
each) and no frailty array. These tests lower the threshold so that a small population takes
that path, and check what must hold: every drawn state is the same as on the exact path,
constants give the same tallies as full arrays (with and without interventions), and the
normalisers fitted on the sample move the simulated outcomes by no more than sampling error.
The helpers that made the set-up fast must give exactly what they replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from povsim.engine.simulate import prepare, simulate
from povsim.inputs.loader import load_scenario
from povsim.inputs.parameters import load_params
from povsim.measures.attribution import decompose
from povsim.model import households as HH
from povsim.model import population as P
from povsim.model.area import area_params
from povsim.model.registry import REGISTRY
from povsim.policy.dynamics import Loops
from povsim.policy.interventions import Programme
from povsim.studies.run import ArmHook

SIZE = 60_000
SAMPLE = 20_000  # the lowered threshold: the sample keeps about a third of the households
HORIZON = 5
SEED = 5
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = REGISTRY.stats


@pytest.fixture(scope="module")
def mp():
    return load_params()


@pytest.fixture(scope="module")
def exact(mp):
    return prepare(mp, SIZE, HORIZON, SEED)


@pytest.fixture(scope="module")
def large(mp):
    saved = P.LARGE_POPULATION, P.FIT_SAMPLE
    P.LARGE_POPULATION = P.FIT_SAMPLE = SAMPLE
    try:
        return prepare(mp, SIZE, HORIZON, SEED)
    finally:
        P.LARGE_POPULATION, P.FIT_SAMPLE = saved


def test_a_large_population_stores_constants_and_no_frailty(large):
    _, pop = large
    assert pop.frail is None
    for name in ("weight", "transfer", "mort_mult", "ltc_mult"):
        x = getattr(pop, name)
        assert P.is_constant(x) and not x.flags.writeable
    assert pop.transfer[0] == 0.0 and pop.mort_mult[0] == 1.0 and pop.ltc_mult[0] == 1.0
    # A copy shares the constants (nothing writes them) and owns everything else.
    c = pop.copy()
    assert c.weight is pop.weight and not np.shares_memory(c.zinc, pop.zinc)


def test_a_large_population_has_the_same_persons_and_draws(exact, large):
    (_, a), (_, b) = exact, large
    for name in ("alive", "age", "sex", "quint", "smoke", "bins", "work", "ltc", "zinc"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("frail_or", "birth_year", "pid", "hh", "hh_ptr", "hh_kind"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.weight, b.weight)


def test_the_sample_fit_moves_outcomes_by_sampling_error_only(mp, exact, large):
    (ta, a), (tb, b) = exact, large
    ya = simulate(mp, ta, a.copy(), HORIZON, SEED)
    yb = simulate(mp, tb, b.copy(), HORIZON, SEED)
    persons = COLUMNS.index("exposure")
    hazard = COLUMNS.index("hazard")
    good = COLUMNS.index("good")
    pov = COLUMNS.index("poverty")
    # Same persons alive at the start; expected deaths, good health and poverty within a few
    # per cent over the whole population (the sample has a third of the households here; at
    # full scale it has 2 million persons, so its error is smaller still).
    assert ya[0, :, persons].sum() == pytest.approx(yb[0, :, persons].sum(), rel=1e-12)
    assert yb[..., hazard].sum() == pytest.approx(ya[..., hazard].sum(), rel=0.015)
    assert yb[..., good].sum() == pytest.approx(ya[..., good].sum(), rel=0.005)
    assert yb[..., pov].sum() == pytest.approx(ya[..., pov].sum(), rel=0.05)
    # ... and the fitted normalisers are not the exact ones (the sample is a sample).
    assert not np.array_equal(ta.mort_norm, tb.mort_norm)


def _with_constants(pop: P.Population) -> P.Population:
    p = pop.copy()
    p.weight = P._constant(float(pop.weight[0]), p.size)
    for name, value in (("transfer", 0.0), ("mort_mult", 1.0), ("ltc_mult", 1.0)):
        setattr(p, name, P._constant(value, p.size))
    return p


@pytest.mark.parametrize("scenario", ["baseline.yaml", "proportionate_package.yaml"])
def test_constants_give_the_same_tallies_as_arrays(exact, scenario):
    tables, pop = exact
    sc = load_scenario(ROOT / "scenarios" / scenario)
    mp = area_params(sc)
    ivs = [iv for arm in sc.arms.values() for iv in arm.interventions]
    out = []
    for p in (pop.copy(), _with_constants(pop)):
        prog = Programme.build(ivs, mp, SEED, sc.population.start_year, HORIZON)
        hook = ArmHook(prog, Loops(sc.feedbacks, mp, HORIZON))
        out.append(simulate(mp, tables, p, HORIZON, SEED, hooks=[hook]))
        if ivs:  # the interventions made the effects arrays of their own
            assert not P.is_constant(p.transfer)
    assert np.array_equal(out[0], out[1])


def test_the_decomposition_reads_the_frailty_odds_without_a_frailty_array(mp, exact):
    tables, pop = exact
    a = decompose(tables, pop, mp)
    p = pop.copy()
    p.frail = None
    b = decompose(tables, p, mp)
    assert np.allclose(a["years"], b["years"], rtol=1e-9, atol=1e-12)


def test_living_cell_mean_is_shrunk_cell_mean_to_the_bit(exact):
    tables, pop = exact
    live = pop.alive == 1
    values = np.exp(np.sin(np.arange(pop.size)))
    want = P.shrunk_cell_mean(values[live], P.cell_index(pop)[live])
    saved = P._BLOCK
    P._BLOCK = 4096  # many blocks
    try:
        got = P.living_cell_mean(pop, lambda block, living: values[block][living])
    finally:
        P._BLOCK = saved
    assert np.array_equal(want, got)


def test_radix_sorts_are_the_stable_argsort_of_the_keys():
    rng = np.random.default_rng(3)
    k = rng.integers(0, 2**32, 50_000, dtype=np.uint64)
    k[::7] = k[3]  # ties keep their order
    k[:5] = [0, 2**32 - 1, 65535, 65536, 2**16 + 1]
    keys = k.astype(np.uint32)
    want = np.argsort(keys, kind="stable")
    assert np.array_equal(HH._radix_serial(keys), want)
    idx, sorted_keys = HH.radix_order(keys)
    assert np.array_equal(idx, want) and np.array_equal(sorted_keys, keys[want])
    assert HH.radix_order(np.zeros(0, np.uint32))[0].size == 0


def test_fit_sample_keeps_whole_households(exact):
    _, pop = exact
    s = P.fit_sample(pop, persons=SIZE // 4)
    assert 0.15 * SIZE < s.n_initial < 0.35 * SIZE
    sizes = np.diff(s.hh_ptr)
    assert sizes.sum() == s.size and np.array_equal(s.hh, np.repeat(np.arange(sizes.size), sizes))
    # Each sampled household is one of the population's, members and all, in order.
    slot_of_pid = np.empty(pop.size, np.int64)
    slot_of_pid[pop.pid] = np.arange(pop.size)
    for j in (0, sizes.size // 2, sizes.size - 1):
        slots = slot_of_pid[s.pid[s.hh_ptr[j] : s.hh_ptr[j + 1]]]
        hh = pop.hh[slots[0]]
        assert np.array_equal(slots, np.arange(pop.hh_ptr[hh], pop.hh_ptr[hh + 1]))
    assert P.fit_sample(pop) is pop  # a small population is fitted on itself


def test_living_weight_by_quintile_is_the_bincount_to_the_bit(exact):
    _, pop = exact
    p = pop.copy()
    p.weight = np.exp(np.cos(np.arange(p.size)))  # weights that round differently by order
    live = p.alive == 1
    want = np.bincount(p.quint[live], weights=p.weight[live], minlength=5)
    saved = P._BLOCK
    P._BLOCK = 1000
    try:
        got = P.living_weight_by_quintile(p)
    finally:
        P._BLOCK = saved
    assert np.array_equal(want, got)
