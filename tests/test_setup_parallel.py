"""The set-up's sorts and passes that replaced NumPy code (issue 17, round four) give exactly
what they replaced. Each reference below is the NumPy code the package used before, kept here
so the replacement is checked against it bit for bit, on inputs large enough to take the
parallel paths and with many ties (stability is what makes the populations identical)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numba import njit

from povsim.engine.simulate import births_by_year
from povsim.inputs.layout import N_AGE, N_Q
from povsim.inputs.parameters import load_params
from povsim.model import households as HH
from povsim.model import population as P
from povsim.model.rng import seed_key, uniforms

RNG = np.random.default_rng(20261202)


def test_parallel_radix_sort_is_the_stable_argsort_with_many_ties():
    n = HH._RADIX_BLOCK_MIN * HH._RADIX_BLOCKS + 12_345  # every block used
    # Few distinct keys in both 16-bit digits: every digit's bucket holds keys from many
    # blocks, so the order across blocks is exercised.
    k = (RNG.integers(0, 50, n) * 65536 + RNG.integers(0, 7, n) * 9000).astype(np.uint32)
    for keys in (k, RNG.integers(0, 2**32, n).astype(np.uint32), k.astype(np.int64)):
        want = np.argsort(keys, kind="stable")
        for dtype in (np.int64, np.int32):
            idx, sorted_keys = HH.radix_order(keys, dtype)
            assert idx.dtype == dtype and np.array_equal(idx, want)
            assert sorted_keys.dtype == np.uint32 and np.array_equal(sorted_keys, keys[want])


def test_parallel_uniforms_equal_the_serial_draws():
    sk = seed_key(7)
    ids = RNG.integers(0, 2**31 - 1, 200_000)
    par = uniforms(sk, ids, 3, 5)  # above the threshold: both threads
    ser = np.concatenate([uniforms(sk, ids[i : i + 1000], 3, 5) for i in range(0, ids.size, 1000)])
    assert np.array_equal(par, ser)


def _pool_reference(ids, ages):
    by = np.argsort(ages, kind="stable")
    counts = np.bincount(ages.astype(np.int64), minlength=N_AGE)
    start = np.zeros(N_AGE + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    return ids[by].astype(np.int64), start, start[:-1].copy()


def test_age_pools_are_the_stable_argsort_by_age():
    age = RNG.integers(0, N_AGE, 50_000).astype(np.int16)
    ids = RNG.permutation(50_000)[:30_000]
    for got, want in zip(HH._pool(ids, age[ids]), _pool_reference(ids, age[ids])):
        assert np.array_equal(got, want)
    empty = HH._pool(np.zeros(0, np.int64), age[:0])
    assert empty[0].size == 0 and np.all(empty[1] == 0)


def test_split_by_age_and_sex_is_the_numpy_masks():
    n = 20_000
    age = RNG.integers(0, N_AGE, n).astype(np.int16)
    sex = RNG.integers(0, 2, n).astype(np.uint8)
    order = RNG.permutation(n)[:15_000]
    a_o, s_o = age[order], sex[order]
    adults = order[a_o > HH.CHILD_MAX]
    is_w = s_o[a_o > HH.CHILD_MAX] == 1
    want = (order[a_o <= HH.CHILD_MAX], adults, adults[is_w], adults[~is_w])
    got = HH._split_by_age_sex(order, age, sex)
    for g, w in zip(got[:4], want):
        assert g.dtype == np.int64 and np.array_equal(g, w)
    assert np.array_equal(got[4], age[want[2]]) and np.array_equal(got[5], age[want[3]])


def test_ids_by_quintile_are_flatnonzero():
    quint = RNG.integers(0, N_Q, 40_000).astype(np.uint8)
    quint[:1000] = 2
    ids, ptr = HH._ids_by_quintile(quint, 35_000)
    for q in range(N_Q):
        assert np.array_equal(ids[ptr[q] : ptr[q + 1]], np.flatnonzero(quint[:35_000] == q))


def _births_reference(birth_year, horizon):
    b = np.flatnonzero((birth_year >= 0) & (birth_year < horizon))
    order = b[np.argsort(birth_year[b], kind="stable")]
    ends = np.cumsum(np.bincount(birth_year[b], minlength=horizon)[:horizon])
    return np.split(order, ends[:-1]) if horizon else []


@pytest.mark.parametrize("horizon", [0, 1, 7, 30])
def test_births_by_year_are_the_stable_argsort(horizon):
    by = RNG.integers(-1, 35, 100_000).astype(np.int16)
    got, want = births_by_year(by, horizon), _births_reference(by, horizon)
    assert len(got) == len(want) == horizon
    for g, w in zip(got, want):
        assert g.dtype == np.int64 and np.array_equal(g, w)


def test_gathered_creation_arrays_are_numpy_gathers():
    n = 30_000
    sex = RNG.integers(0, 2, n).astype(np.uint8)
    age = RNG.integers(0, N_AGE, n).astype(np.int16)
    quint = RNG.integers(0, N_Q, n).astype(np.uint8)
    by = RNG.integers(-1, 30, n).astype(np.int16)
    src = RNG.permutation(n).astype(np.int32)
    s, a, q, b, alive = P._gather_creation(src, sex, age, quint, by)
    for got, want in ((s, sex), (a, age), (q, quint), (b, by)):
        assert got.dtype == want.dtype and np.array_equal(got, want[src])
    assert np.array_equal(alive, (by[src] < 0).view(np.uint8))


def _place_births_reference(hh, kind, age, sex, quint, n0, birth_year, seed_k, draws, table):
    """place_births as it was (NumPy, blocks of births)."""
    n = hh.shape[0]
    women = np.flatnonzero(sex[:n0] == 1)
    by = np.argsort(
        (quint[women].astype(np.int16) * N_AGE + age[women]).astype(np.int16), kind="stable"
    )
    women = women[by]
    n_key = N_Q * N_AGE
    below = np.zeros(n_key + 1, np.int64)
    np.cumsum(
        np.bincount(quint[women].astype(np.int64) * N_AGE + age[women], minlength=n_key),
        out=below[1:],
    )

    def searchsorted(v):
        return below[np.clip(v, 0, n_key)]

    bands = HH._bands("mother_age")
    band_lo = np.array([b[0] for b in bands])
    band_hi = np.array([b[1] for b in bands])
    cums = [np.cumsum(HH.composition_shares(table, "mother_age", q + 1)) for q in range(N_Q)]
    n_alone = 0
    for lo in range(n0, n, 1000):
        births = np.arange(lo, min(n, lo + 1000))
        u0 = uniforms(seed_k, births, 0, draws[0])
        q_b = quint[births].astype(np.int64)
        t_b = birth_year[births].astype(np.int64)
        band_b = np.zeros(births.size, np.int64)
        for q in range(N_Q):
            sel = q_b == q
            cum = cums[q]
            band_b[sel] = np.minimum(
                np.searchsorted(cum, u0[sel] * cum[-1], side="right"), len(cum) - 1
            )
        lo_b = band_lo[band_b]
        hi_b = band_hi[band_b]
        a = searchsorted(q_b * N_AGE + np.maximum(lo_b - t_b, 0))
        b = searchsorted(q_b * N_AGE + hi_b - t_b + 1)
        b = np.where(hi_b - t_b < 0, a, b)
        lo_all, hi_all = bands[0][0], bands[-1][1]
        a2 = searchsorted(q_b * N_AGE + np.maximum(lo_all - t_b, 0))
        b2 = searchsorted(q_b * N_AGE + hi_all - t_b + 1)
        b2 = np.where(hi_all - t_b < 0, a2, b2)
        empty = b <= a
        a = np.where(empty, a2, a)
        b = np.where(empty, b2, b)
        found = b > a
        u1 = uniforms(seed_k, births, 0, draws[1])
        pick = a + np.minimum((u1 * (b - a)).astype(np.int64), np.maximum(b - a - 1, 0))
        hh[births[found]] = hh[women[pick[found]]]
        alone = births[~found]
        hh[alone] = kind.size + n_alone + np.arange(alone.size)
        n_alone += int(alone.size)
    lone = np.full(n_alone, HH.TYPE_CODE["lone_parent"], np.int8)
    return hh, np.concatenate([kind.astype(np.int8), lone])


@pytest.mark.parametrize("horizon", [1, 20, 90])
def test_births_join_the_households_the_numpy_code_chose(horizon):
    table: pd.DataFrame = load_params().households
    n0, per_year = 20_000, 250
    n = n0 + per_year * horizon
    sex = RNG.integers(0, 2, n).astype(np.uint8)
    age = np.zeros(n, np.int16)
    age[:n0] = RNG.integers(0, N_AGE, n0)
    quint = RNG.integers(0, N_Q, n).astype(np.uint8)
    # No women at all in quintile 4 of the starting population: its babies live alone.
    sex[:n0][quint[:n0] == 4] = 0
    birth_year = np.full(n, -1, np.int16)
    birth_year[n0:] = np.arange(n - n0) // per_year
    hh0 = np.full(n, -1, np.int64)
    hh0[:n0] = RNG.integers(0, 8_000, n0)
    kind = RNG.integers(0, 5, 8_000).astype(np.int8)
    draws = (3, 4)
    sk = seed_key(11)
    got = HH.place_births(hh0.copy(), kind, age, sex, quint, n0, birth_year, sk, draws, table)
    want = _place_births_reference(
        hh0.copy(), kind, age, sex, quint, n0, birth_year, sk, draws, table
    )
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert np.all(got[0] >= 0) and got[1].size > kind.size


@njit(cache=True)
def _first_seen_reference(hh, n_h):
    """renumber_by_first_member's pass as it was."""
    new = np.full(n_h, -1, np.int64)
    order = np.empty(n_h, np.int64)
    out = np.empty(hh.shape[0], np.int32)
    m = 0
    for i in range(hh.shape[0]):
        h = hh[i]
        if new[h] < 0:
            new[h] = m
            order[m] = h
            m += 1
        out[i] = new[h]
    return out, order[:m]


@njit(cache=True)
def _household_order_reference(hh, n0, n_h):
    """population._household_order as it was: two counting sorts on households numbered by
    first member."""
    n = hh.shape[0]
    start = np.zeros(n_h + 1, np.int64)
    ptr = np.zeros(n_h + 1, np.int64)
    for i in range(n0):
        start[hh[i] + 1] += 1
    ptr[:] = start
    for i in range(n0, n):
        ptr[hh[i] + 1] += 1
    for h in range(n_h):
        start[h + 1] += start[h]
        ptr[h + 1] += ptr[h]
    old_next = start[:-1].copy()
    new_next = ptr[:-1].copy()
    src = np.empty(n, np.int32)
    pid = np.empty(n, np.int32)
    for i in range(n):
        h = hh[i]
        s = new_next[h]
        new_next[h] = s + 1
        src[s] = i
        if i < n0:
            pid[s] = old_next[h]
            old_next[h] += 1
        else:
            pid[s] = i
    hh_sorted = np.empty(n, np.int32)
    for h in range(n_h):
        for s in range(ptr[h], ptr[h + 1]):
            hh_sorted[s] = h
    return src, pid, hh_sorted, ptr


@pytest.mark.parametrize(("n", "n0", "n_h"), [(300, 250, 40), (400_000, 300_000, 150_000)])
def test_household_layout_is_renumbering_then_counting_sorts(n, n0, n_h):
    hh = RNG.integers(0, n_h, n)
    hh[RNG.integers(0, n, 50)] = n_h + 3  # households formed last, members anywhere
    kind = RNG.integers(0, 5, n_h + 10).astype(np.int8)  # some households have no member
    new_hh, order = _first_seen_reference(hh, kind.size)
    want = (*_household_order_reference(new_hh, n0, order.size), kind[order])
    got = HH.household_layout(hh, kind, n0)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_birth_slots_are_the_numpy_formulas():
    n0, n_births, horizon, ratio = 1_000, 37, 30, 1.05
    n = n0 + n_births * horizon
    sk = seed_key(9)
    sex, quint, by = np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.full(n, -1, np.int16)
    P._birth_slots(sex, quint, by, n0, n_births, ratio / (1.0 + ratio), sk, 9)
    ids = np.arange(n0, n)
    u = uniforms(sk, ids, 0, 9)
    assert np.array_equal(sex[n0:], np.where(u < ratio / (1.0 + ratio), 0, 1))
    assert np.array_equal(quint[n0:], (ids - n0) % 5)
    assert np.array_equal(by[n0:], (ids - n0) // n_births)
    assert not sex[:n0].any() and np.all(by[:n0] == -1)
