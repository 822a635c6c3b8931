"""Issue 17, round four (the CLI's fixed cost): every replacement made to shorten a small
``povsim run`` gives the same doubles as the code it replaced, kept here as the reference."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from povsim.engine.simulate import prepare
from povsim.inputs.layout import AGES, N_AGE, SEXES
from povsim.inputs.loader import load_scenario
from povsim.inputs.parameters import load_params
from povsim.measures import attribution as A
from povsim.measures import life_table as M
from povsim.model import rng as R
from povsim.model import tables as T
from povsim.model.area import area_params

# --- the gap decomposition: 2^9 subsets through one stacked life table ---------------------


def _values_reference(gm: A.GapModel, removed: tuple[int, ...]) -> dict[str, np.ndarray]:
    """``GapModel.values`` before round four: four life tables per subset."""
    keep = np.ones(len(A.PATHWAYS))
    keep[list(removed)] = 0.0
    ratio = 1.0 / np.prod(gm.factor[list(removed)], axis=0) if removed else 1.0
    bad = gm._cell_mean(expit(gm.h0 + gm.lh @ keep))
    mx = (gm.mx * ratio).reshape(2, 5, -1)
    good = np.clip(gm.good - np.where(np.isfinite(bad), bad - gm.base_bad, 0.0), 0.0, 1.0).reshape(
        2, 5, -1
    )
    return {
        "le0": M.life_expectancy(mx),
        "hle0": M.sullivan_hle(mx, good),
        "le65": M.life_expectancy(mx, 65),
        "hle65": M.sullivan_hle(mx, good, 65),
    }


def _gaps_reference(gm: A.GapModel, v: dict[str, np.ndarray]) -> np.ndarray:
    out = np.zeros((2, len(A.MEASURES)))
    for si in range(2):
        out[si, 0] = v["le0"][si, 4] - v["le0"][si, 0]
        out[si, 1] = v["hle0"][si, 4] - v["hle0"][si, 0]
        out[si, 2] = M.sii(v["le0"][si], gm.shares)
        out[si, 3] = M.sii(v["hle0"][si], gm.shares)
    return out


def _decompose_reference(tables, pop, mp) -> pd.DataFrame:
    """``decompose`` before round four (one subset at a time), rows built as it built them."""
    gm = A.GapModel(tables, pop, mp)
    n = len(A.PATHWAYS)
    value = {}
    for r in range(n + 1):
        for s in combinations(range(n), r):
            value[s] = _gaps_reference(gm, _values_reference(gm, s))
    total = value[()]
    phi = np.zeros((n, 2, len(A.MEASURES)))
    for k in range(n):
        others = [j for j in range(n) if j != k]
        for r in range(n):
            w = factorial(r) * factorial(n - r - 1) / factorial(n)
            for s in combinations(others, r):
                phi[k] += w * (value[s] - value[tuple(sorted(s + (k,)))])
    everything = tuple(range(n))
    rows = []
    names = list(A.PATHWAYS)
    for si, sex in enumerate(SEXES):
        for mi, meas in enumerate(A.MEASURES):
            tot = total[si, mi]
            parts = [(name, phi[k, si, mi], "shapley") for k, name in enumerate(names)]
            parts += [
                ("all_pathways", tot - value[everything][si, mi], "shapley"),
                ("residual", value[everything][si, mi], "shapley"),
                ("total", tot, "shapley"),
            ]
            parts += [
                (name, tot - value[(k,)][si, mi], "one_at_a_time") for k, name in enumerate(names)
            ]
            for path, years, method in parts:
                rows.append(
                    {
                        "sex": sex,
                        "measure": meas,
                        "pathway": path,
                        "years": float(years),
                        "share": float(years / tot) if tot else float("nan"),
                        "method": method,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module", params=["national", "local_rural_affluent"])
def started(request):
    """(params, tables, population) at the start of a run: England, and an affluent area
    whose most deprived quintile is empty (NaN cells in its life tables)."""
    if request.param == "national":
        mp = load_params()
    else:
        mp = area_params(load_scenario(f"scenarios/{request.param}.yaml"))
    tables, pop = prepare(mp, 3000, 1, 11)
    return mp, tables, pop


def test_stacked_life_tables_equal_one_subset_at_a_time_bit_for_bit(started):
    mp, tables, pop = started
    gm = A.GapModel(tables, pop, mp)
    n = len(A.PATHWAYS)
    subsets = [s for r in range(n + 1) for s in combinations(range(n), r)]
    stacked = gm.values_of(subsets)
    gaps = A._gaps(gm, stacked)
    for i, s in enumerate(subsets):
        ref = _values_reference(gm, s)
        for name, v in ref.items():
            np.testing.assert_array_equal(stacked[name][i], v, strict=True)
        np.testing.assert_array_equal(gaps[i], _gaps_reference(gm, ref), strict=True)
        assert gaps[i].tobytes() == _gaps_reference(gm, ref).tobytes()  # signs of zeros too


def test_decomposition_equals_the_one_subset_at_a_time_reference(started):
    mp, tables, pop = started
    new = A.decompose(tables, pop, mp)
    ref = _decompose_reference(tables, pop, mp)
    pd.testing.assert_frame_equal(new, ref, check_exact=True)


# --- seed keys in Python integers: no Numba dispatch for one hash --------------------------


def test_seed_key_in_python_integers_equals_the_numba_mixer():
    seeds = [0, 1, 2, 7, 42, 2024, 20261201, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1, 2**64 + 5]
    seeds += [int(x) for x in np.random.default_rng(3).integers(0, 2**63, 500, dtype=np.int64)]
    for seed in seeds:
        old = np.uint64(int(R.mix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))))  # before round four
        new = R.seed_key(seed)
        assert isinstance(new, np.uint64)
        assert new == old, seed
        assert R.mix64_int(seed) == int(R.mix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF)))
    assert len({int(R.seed_key(s)) for s in seeds}) == len(set(seeds))  # a bijection on 64 bits


# --- prevalence profiles: np.average's denominators summed once, age weights memoised -------


def _band_to_ages_reference(age_min, age_max, values, outside=0.0, ramp_from=None, weights=None):
    """``tables.band_to_ages`` before round four (np.average in every step)."""
    order = np.argsort(age_min)
    lo, hi, v = age_min[order], age_max[order], values[order].astype(float)
    if weights is None:
        return T._interp_bands(lo, hi, v, outside, ramp_from)
    members = [(AGES >= a) & (AGES <= min(b, 100)) for a, b in zip(lo, hi)]
    w = [np.maximum(weights[m], 1e-12) for m in members]
    knots = v.copy()
    for _ in range(200):
        out = T._interp_bands(lo, hi, knots, outside, ramp_from)
        means = np.array([np.average(out[m], weights=wk) for m, wk in zip(members, w)])
        err = v - means
        if np.max(np.abs(err)) < 1e-7:
            break
        knots = np.clip(knots + err, 0.0, max(1.0, float(v.max())))
    return T._interp_bands(lo, hi, knots, outside, ramp_from)


def _age_weights_reference(mp):
    out = np.zeros((2, N_AGE))
    for si, s in enumerate(SEXES):
        rows = mp.life[mp.life["sex"] == s].sort_values("age")
        lx = rows["lx"].to_numpy(float)[:N_AGE]
        out[si] = lx / lx[0]
    return out


def _quintile_relative_reference(gradient, factor, sex=None):
    """``tables.quintile_relative`` before round four (pandas filters)."""
    rows = gradient[gradient["factor"] == factor]
    if "sex" in rows.columns:
        own = rows[rows["sex"] == sex] if sex is not None else rows.iloc[0:0]
        rows = own if len(own) else rows[rows["sex"].isin(["all", "persons"])]
    rows = rows.sort_values("quintile")
    if len(rows) != 5:
        return np.ones(5)
    rel = rows["relative"].to_numpy(float)
    return rel / rel.mean()


def test_quintile_relative_selects_the_rows_pandas_selected():
    mp = load_params()
    local = area_params(load_scenario("scenarios/local_urban_deprived.yaml"))
    g = mp.gradient
    odd = pd.concat([g, g[g["factor"] == "obese"].assign(sex="male", relative=2.0)])
    frames = [g, local.gradient, odd, g.drop(columns="sex"), g.iloc[::-1], g.iloc[:7]]
    factors = sorted(set(g["factor"])) + ["no_such_factor"]
    seen = set()
    for frame in frames:
        for f in factors:
            for sex in (None, "male", "female", "persons"):
                got = T.quintile_relative(frame, f, sex)
                want = _quintile_relative_reference(frame, f, sex)
                assert got.tobytes() == want.tobytes(), (f, sex)
                seen.add(bool(np.all(got == 1.0)))
    assert seen == {True, False}  # both found gradients and the flat fallback were compared


@pytest.mark.parametrize(
    "overrides", [{}, {"turnover_cold_home": 0.12, "ltc_age_shift_years": [6, 4, 3, 1, 0]}]
)
def test_cell_tables_equal_those_of_the_old_band_fit_bit_for_bit(monkeypatch, overrides):
    mp = load_params(overrides)
    T._PREVALENCE_MEMO.clear()
    new = T.build_cell_tables(mp)
    assert T._AGE_WEIGHTS_MEMO  # the memo was used
    with monkeypatch.context() as m:
        m.setattr(T, "band_to_ages", _band_to_ages_reference)
        m.setattr(T, "age_weights", _age_weights_reference)
        m.setattr(T, "quintile_relative", _quintile_relative_reference)
        m.setattr(T, "_PREVALENCE_MEMO", {})
        old = T.build_cell_tables(mp)
    checked = 0
    for name in old.__dataclass_fields__:
        want = getattr(old, name)
        if isinstance(want, np.ndarray):
            got = getattr(new, name)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
            checked += 1
    assert checked > 10
    # the memo hands out copies: a caller writing into its weights changes no later call
    w = T.age_weights(mp)
    w[:] = -1.0
    assert T.age_weights(mp).tobytes() == _age_weights_reference(mp).tobytes()


def test_band_fit_equals_the_np_average_fit_on_awkward_bands():
    """Uneven bands, an open top band, a ramp and weights of very different sizes."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        edges = np.sort(rng.choice(np.arange(1, 95), size=rng.integers(2, 9), replace=False))
        lo = np.concatenate([[rng.integers(0, 1) + 0.0], edges.astype(float)])
        hi = np.concatenate([edges - 1.0, [rng.choice([100.0, 120.0])]])
        vals = rng.uniform(0.0, 0.9, lo.size)
        weights = rng.uniform(1e-6, 3.0, N_AGE) ** 3
        perm = rng.permutation(lo.size)
        args = (lo[perm], hi[perm], vals[perm], rng.choice([0.0, None]), rng.choice([None, 5]))
        got = T.band_to_ages(*args, weights=weights)
        want = _band_to_ages_reference(*args, weights=weights)
        assert got.tobytes() == want.tobytes()
