"""Invariants of the simulation engine (population, kernel, yearly loop) on default inputs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from povsim.engine import kernel as K
from povsim.engine.simulate import prepare, simulate
from povsim.inputs import layout as L
from povsim.measures import life_table as M
from povsim.model import registry as R
from povsim.model.tables import build_cell_tables


def run(mp, size, horizon, seed):
    tables, pop = prepare(mp, size, horizon, seed)
    n_initial_alive = int(pop.alive.sum())
    tallies = simulate(mp, tables, pop, horizon, seed)
    return tallies, pop, n_initial_alive


def persons(x: np.ndarray, weight: float) -> np.ndarray:
    """Weighted tallies back to whole simulated persons (checks they are whole)."""
    n = x / weight
    np.testing.assert_allclose(n, np.rint(n), atol=1e-6)
    return np.rint(n).astype(np.int64)


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_identical_different_seed_differs(mp):
    a, _, _ = run(mp, 5_000, 3, 11)
    b, _, _ = run(mp, 5_000, 3, 11)
    c, _, _ = run(mp, 5_000, 3, 12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # Seeds change the random path (deaths), not the deterministic set-up.
    assert not np.array_equal(a[..., R.S_DEATHS], c[..., R.S_DEATHS])


_HASH_SNIPPET = """
import hashlib, numba
from povsim.inputs.parameters import load_params
from povsim.engine.simulate import prepare, simulate
mp = load_params()
tables, pop = prepare(mp, 40000, 2, 7)
tal = simulate(mp, tables, pop, 2, 7)
print(numba.get_num_threads(), hashlib.sha256(tal.tobytes()).hexdigest(),
      hashlib.sha256(pop.alive.tobytes() + pop.age.tobytes() + pop.inc_exp.tobytes()
      + pop.zinc.tobytes()).hexdigest())
"""


def test_thread_count_independence():
    """40,000 persons span two kernel chunks (CHUNK = 32,768), so two threads really split
    the work; the tallies and final state must be bit-identical to one thread."""
    assert 40_000 > K.CHUNK
    out = {}
    for threads in (1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        res = subprocess.run(
            [sys.executable, "-c", _HASH_SNIPPET],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        n, tally_hash, state_hash = res.stdout.split()
        assert int(n) == threads
        out[threads] = (tally_hash, state_hash)
    assert out[1] == out[2]


# --- conservation of persons -----------------------------------------------------------------


@pytest.fixture(scope="module")
def five_years(mp):
    horizon = 5
    tallies, pop, n0_alive = run(mp, 8_000, horizon, 3)
    return tallies, pop, n0_alive, horizon


def test_persons_conserved(five_years):
    tallies, pop, n0_alive, horizon = five_years
    w = float(pop.weight[0])
    np.testing.assert_array_equal(pop.weight, w)
    assert n0_alive == pop.n_initial
    births = pop.births_per_year * horizon
    assert births > 0
    assert int((pop.birth_year >= 0).sum()) == births
    deaths_by_year = persons(tallies[..., R.S_DEATHS].sum(axis=1), w)
    assert deaths_by_year.sum() > 0
    assert int(pop.alive.sum()) == n0_alive + births - deaths_by_year.sum()
    # Persons alive at the start of each year = initial + births so far - deaths before.
    alive_start = persons(tallies[..., R.S_EXPO].sum(axis=1), w)
    expected = (
        n0_alive
        + pop.births_per_year * np.arange(1, horizon + 1)
        - np.concatenate([[0], np.cumsum(deaths_by_year)[:-1]])
    )
    np.testing.assert_array_equal(alive_start, expected)
    assert (alive_start > 0).all()


# Every tally column but the exposure and the hazard sums counts persons.
COUNT_COLUMNS = tuple(
    j for j, name in enumerate(R.REGISTRY.stats) if name not in ("exposure", "hazard", "hazard2")
)


def test_ages_and_tallies_are_valid(five_years):
    tallies, pop, _, _ = five_years
    assert pop.age.min() >= 0
    assert pop.age.max() <= 100
    assert pop.age[pop.alive == 1].max() == 100  # the open interval is populated
    assert np.isfinite(tallies).all()
    assert (tallies >= 0).all()
    expo = tallies[..., R.S_EXPO]
    # Columns that count persons (weighted) can never exceed the persons in the cell.
    for col in COUNT_COLUMNS:
        assert (tallies[..., col] <= expo * (1 + 1e-12)).all(), R.REGISTRY.stats[col]
    assert (tallies[..., R.S_LTC2P] <= tallies[..., R.S_LTC1P] * (1 + 1e-12)).all()
    # Nobody alive at the start of a year means no hazard either.
    assert (tallies[..., R.S_HAZ][expo == 0] == 0).all()


def test_survivors_age_by_one_year(five_years):
    """Exposure at age a+1 next year = exposure at age a this year minus its deaths (within
    each sex and quintile, which never change); age 0 next year = that year's births."""
    tallies, pop, _, horizon = five_years
    w = float(pop.weight[0])
    expo = persons(tallies[..., R.S_EXPO], w).reshape(horizon, 2, L.N_Q, L.N_AGE)
    dead = persons(tallies[..., R.S_DEATHS], w).reshape(horizon, 2, L.N_Q, L.N_AGE)
    surv = expo - dead
    assert (surv >= 0).all()
    for t in range(horizon - 1):
        np.testing.assert_array_equal(expo[t + 1, ..., 1:100], surv[t, ..., 0:99])
        np.testing.assert_array_equal(expo[t + 1, ..., 100], surv[t, ..., 99] + surv[t, ..., 100])
        born = pop.birth_year == t + 1
        births = np.zeros((2, L.N_Q), np.int64)
        np.add.at(births, (pop.sex[born], pop.quint[born]), 1)
        np.testing.assert_array_equal(expo[t + 1, ..., 0], births)


# --- cell tables -------------------------------------------------------------------------------

PROBABILITY_TABLES = (
    "bin_inc",
    "bin_rem",
    "smk_init",
    "smk_cess",
    "smk_relapse",
    "ltc_i01",
    "ltc_i12",
    "work_trans",
    "p_smoke_cur",
    "p_smoke_ex",
    "p_bin",
    "p_emp",
    "p_sick",
    "p_ltc1p",
    "p_ltc2p",
    "p_pov",
    "good_target",
)


def test_cell_table_probabilities_valid(mp):
    t = build_cell_tables(mp)
    for name in PROBABILITY_TABLES:
        a = getattr(t, name)
        assert a.shape[-1] == L.N_CELL, name
        assert np.isfinite(a).all(), name
        assert (a >= 0).all() and (a <= 1).all(), name
    assert np.isfinite(t.mx).all() and (t.mx > 0).all()
    assert (t.p_smoke_cur + t.p_smoke_ex <= 1).all()
    assert (t.p_ltc2p <= t.p_ltc1p).all()
    assert (t.p_emp + t.p_sick <= 1).all()
    # The exits from each work state that the kernel applies at working ages (16 to one below
    # working_age_max; at working_age_max everyone retires with certainty), with the largest
    # relative risks (not-good health and 1+ LTC), are probabilities summing to at most 1.
    ages = np.arange(L.N_CELL) % L.N_AGE
    wa = (ages >= 16) & (ages < mp.value("working_age_max"))
    tr, nm, rr = t.work_trans[:, wa], t.work_norm[:, wa], t.work_rr
    assert (tr[0] / nm[0] * rr[0, 3] + tr[1] / nm[1] * rr[1, 3] <= 1 + 1e-12).all()
    # From state 1 the cell-mean rates sum to at most 1; a rare person in not-good health
    # with LTCs can exceed it at a few ages (the move into work is then taken first, and
    # the rest go to long-term sickness: the kernel's u < pa, u < pa + pb).
    assert (tr[2] + tr[3] <= 1 + 1e-12).all()
    assert (tr[4] + tr[5] <= 1 + 1e-12).all()
    # Mortality rises with age over adult life in every sex-quintile group.
    mx = t.mx.reshape(2, L.N_Q, L.N_AGE)
    assert (mx[..., 90] > mx[..., 40]).all()


def test_fitted_normalisers_valid(mp):
    tables, _ = prepare(mp, 5_000, 1, 1)
    for name in ("mort_norm", "ltc_norm01", "ltc_norm12", "health_odds"):
        a = getattr(tables, name)
        assert np.isfinite(a).all() and (a > 0).all(), name


# --- calibration to the national table and the gradient ---------------------------------------


def _le(frame, measure, sex, quintile):
    row = frame[(frame.measure == measure) & (frame.sex == sex) & (frame.quintile == quintile)]
    assert len(row) == 1
    return float(row["value"].iloc[0])


@pytest.mark.parametrize("sex", ["male", "female"])
def test_first_year_reproduces_national_e0(mp, baseline_frame, sex):
    national = float(mp.life[(mp.life.sex == sex) & (mp.life.age == 0)]["ex"].iloc[0])
    assert abs(_le(baseline_frame, "le0", sex, "all") - national) < 0.3


@pytest.mark.parametrize("sex", ["male", "female"])
def test_deprivation_gradient(baseline_frame, sex):
    le1, le5 = (_le(baseline_frame, "le0", sex, q) for q in ("1", "5"))
    hle1, hle5 = (_le(baseline_frame, "hle0", sex, q) for q in ("1", "5"))
    assert le1 < le5
    assert hle5 - hle1 > le5 - le1
    gap = _le(baseline_frame, "le0_gap", sex, "all")
    assert gap == pytest.approx(le5 - le1, rel=1e-12)


# --- a constant hazard through the real kernel -------------------------------------------------


@pytest.mark.parametrize("h", [0.02, 0.1])
def test_constant_hazard_cohort(mp, h):
    size, horizon, seed = 50_000, 3, 11
    tables, pop = prepare(mp, size, horizon, seed)
    tables.mx[:] = h
    tables.rr_mort[:] = 1.0
    tables.mort_norm[:] = 1.0
    tables.smoke_mort_factor[:] = 1.0  # no age-specific smoking risk either
    tables.cold_mort_factor[:] = 1.0  # nor cold-home risk
    tables.income_beta[:] = 0.0  # nor the income effect
    tallies = simulate(mp, tables, pop, horizon, seed)
    w = float(pop.weight[0])

    # Expected-hazard tallies: every cell's mean hazard is h, so e0 = 1/h exactly.
    by_age = tallies.reshape(horizon, 2 * L.N_Q, L.N_AGE, R.REGISTRY.n_stats).sum(axis=1)
    assert (by_age[..., R.S_EXPO] > 0).all()
    mx = by_age[..., R.S_HAZ] / by_age[..., R.S_EXPO]
    np.testing.assert_allclose(mx, h, rtol=1e-12)
    np.testing.assert_allclose(M.life_expectancy(mx), 1.0 / h, atol=1e-6)
    np.testing.assert_allclose(M.life_expectancy(mx.sum(axis=0) / horizon), 1.0 / h, atol=1e-6)
    assert M.life_expectancy(mx[0], 65) == pytest.approx(1.0 / h, abs=1e-6)

    # Counted deaths. The exposure tally counts persons alive at the start of the year, and
    # each dies with probability 1 - exp(-h); so the hazard estimate is -log(1 - D/N)
    # (D/N itself estimates 1 - exp(-h), which for h = 0.1 is ~6 SE below h).
    deaths = tallies[..., R.S_DEATHS].sum() / w
    n = tallies[..., R.S_EXPO].sum() / w
    p = deaths / n
    h_hat = -np.log1p(-p)
    se = np.sqrt(p / ((1.0 - p) * n))
    assert abs(h_hat - h) < 4 * se
    # Rate per person-year (actuarial exposure N - D/2) agrees too.
    rate = deaths / (n - deaths / 2)
    assert abs(rate - h) < 4 * se
