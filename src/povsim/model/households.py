"""Households: who lives with whom, and the income they share.

Pure functions of arrays (no :class:`~povsim.model.population.Population`; population.py
calls them). Two parts:

* :func:`assign_households` groups the starting population of each IMD quintile into
  households drawn from ``calibration/household_composition.csv`` (one-person, couples with or
  without dependent children, lone parents, other multi-adult households) and places every
  birth slot in the household of a woman of the same quintile whose age at the birth year is in
  a mother's age band. Deterministic from the seed through creation draws of the registry
  (``INIT_DRAWS`` ``household_*``), so every arm has the same households (common random
  numbers), and no other random stream changes. :func:`household_layout` then settles the
  order in which the slots are stored: household by household, households by first member.
* :func:`pool_household` is the household income: the household's log equivalised income
  before transfers (modified OECD scale) from its living members' incomes, and each member's
  share of the transfers paid to it. The year step calls it for each household just before
  stepping its members (engine/kernel.py); :func:`pool_income` writes it to every member for
  the measures and fits. Households are stored contiguously (``household_ptr``).

Simplifications (docs/model.md, Households): households are fixed over the horizon except that
members die and babies join; children stay in their household when they turn 16 (then as
earning adults); nobody marries, separates or leaves home.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit, prange

from povsim.inputs.calibration_files import HOUSEHOLD_ITEMS, HOUSEHOLD_TYPES
from povsim.inputs.layout import N_AGE, N_Q
from povsim.model.rng import person_key, uniform

# Dependent children are aged 0-15 (the child-poverty measure's ages, DWP CiLIF under-16s);
# persons aged 16 and over bring income into the household (ONS working age starts at 16,
# and the employment flag means the person's own work from 16).
CHILD_MAX = 15
EARNER_AGE = 16
# Modified OECD equivalence scale (OECD; DWP HBAI methodology): 1 for the first person aged
# 14 and over, 0.5 for each further person 14 and over, 0.3 for each child under 14.
OECD_ADULT_AGE = 14
OECD_FIRST, OECD_OTHER, OECD_CHILD = 1.0, 0.5, 0.3
# A partner is the available man nearest this many years older than the woman (assumption:
# the mean age gap of opposite-sex couples is about two years).
PARTNER_GAP = 2
TYPE_CODE = {t: k for k, t in enumerate(HOUSEHOLD_TYPES)}
_COUPLE_KIDS = TYPE_CODE["couple_with_children"]
_LONE = TYPE_CODE["lone_parent"]
_COUPLE_NOKIDS = TYPE_CODE["couple_no_children"]
_ONE = TYPE_CODE["one_person"]
_OTHER = TYPE_CODE["other"]


def composition_shares(table: pd.DataFrame, item: str, quintile: int) -> np.ndarray:
    """Shares of ``item``'s categories (in ``HOUSEHOLD_ITEMS`` order) for IMD quintile
    ``quintile`` (1-5): its own rows if the table has them, else those of ``all``."""
    # Plain arrays, not pandas row filters: called 20 times per population built, where the
    # filters cost 2.5 ms each (a sweep builds a population per sample).
    items = table["item"].to_numpy(dtype=object)
    quints = np.array([str(x) for x in table["quintile"].to_numpy(dtype=object)], dtype=object)
    rows = (items == item) & (quints == str(quintile))
    if not rows.any():
        rows = (items == item) & (quints == "all")
    cats = table["category"].to_numpy(dtype=object)[rows]
    shares = table["share"].to_numpy(dtype=float)[rows]
    by_cat = {str(c): float(v) for c, v in zip(cats, shares)}
    return np.array([by_cat.get(c, 0.0) for c in HOUSEHOLD_ITEMS[item]])


# Keys per block of radix_order's parallel passes (at most _RADIX_BLOCKS blocks). A stable
# sort has one result, so the blocks (hence the thread count) never change it.
_RADIX_BLOCK_MIN = 1 << 16
_RADIX_BLOCKS = 16


def radix_order(keys: np.ndarray, index_dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """(the stable argsort of integer ``keys`` in 0..2^32 - 1 (``index_dtype``), the keys
    sorted, uint32): two LSD counting-sort passes of 16 bits, each counted and scattered
    block by block in parallel (block b's keys go after those of blocks < b with the same
    digit: exactly the serial pass's order; tested against ``np.argsort(kind="stable")``).
    The first pass reads ``keys`` as they are and the identity order implicitly (no copy,
    cast or ``arange`` of every key: each was a first touch of a large array, 0.6-0.8 s at
    full scale)."""
    n = keys.shape[0]
    nb = min(_RADIX_BLOCKS, max(1, n // _RADIX_BLOCK_MIN))
    size = -(-n // nb) if n else 0
    count = np.empty((nb, 65536), np.int64)
    k1 = np.empty(n, np.uint32)
    i1: np.ndarray = np.empty(n, index_dtype)
    _radix_count(keys, 0, size, count)
    _radix_offsets(count)
    _radix_scatter_first(keys, size, count, k1, i1)
    k2 = np.empty(n, np.uint32)
    i2: np.ndarray = np.empty(n, index_dtype)
    _radix_count(k1, 16, size, count)
    _radix_offsets(count)
    _radix_scatter(k1, i1, 16, size, count, k2, i2)
    return i2, k2


@njit(parallel=True, cache=True)
def _radix_count(k, shift, size, count):
    """Counts of each 16-bit digit of ``k >> shift`` in each block of ``size`` keys."""
    n = k.shape[0]
    for b in prange(count.shape[0]):
        row = count[b]
        row[:] = 0
        for i in range(b * size, min(n, (b + 1) * size)):
            row[(k[i] >> shift) & 0xFFFF] += 1


@njit(cache=True)
def _radix_offsets(count):
    """Exclusive prefix sums over (digit, block), digit-major, in place."""
    tot = 0
    for d in range(count.shape[1]):
        for b in range(count.shape[0]):
            c = count[b, d]
            count[b, d] = tot
            tot += c


@njit(parallel=True, cache=True)
def _radix_scatter_first(k, size, count, k2, idx2):
    """:func:`_radix_scatter` of the low digit, from the identity order, keys cast to
    uint32."""
    n = k.shape[0]
    for b in prange(count.shape[0]):
        nxt = count[b]
        for i in range(b * size, min(n, (b + 1) * size)):
            d = k[i] & 0xFFFF
            j = nxt[d]
            nxt[d] = j + 1
            idx2[j] = i
            k2[j] = np.uint32(k[i])


@njit(parallel=True, cache=True)
def _radix_scatter(k, idx, shift, size, count, k2, idx2):
    """Each block's keys to their places (``count``: each block's first place of each digit),
    in order within the block."""
    n = k.shape[0]
    for b in prange(count.shape[0]):
        nxt = count[b]
        for i in range(b * size, min(n, (b + 1) * size)):
            d = (k[i] >> shift) & 0xFFFF
            j = nxt[d]
            nxt[d] = j + 1
            idx2[j] = idx[i]
            k2[j] = k[i]


def _bands(item: str) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in c.split("-")) for c in HOUSEHOLD_ITEMS[item]]  # type: ignore[misc]


@njit(cache=True)
def _split_by_age_sex(order, age, sex):
    """(children 0-15, adults, women, men: each in ``order``'s order; the women's and the
    men's ages): one pass of random reads of ``age`` and ``sex`` over ``order`` (the persons of
    a quintile in draw order), then sequential passes, instead of NumPy's two gathers and
    five masks over the quintile."""
    m = order.shape[0]
    code = np.empty(m, np.uint8)  # 0 child, 1 woman, 2 man
    a_o = np.empty(m, np.int16)
    n_kid = 0
    n_w = 0
    for j in range(m):
        a = age[order[j]]
        a_o[j] = a
        if a <= CHILD_MAX:
            code[j] = 0
            n_kid += 1
        elif sex[order[j]] == 1:
            code[j] = 1
            n_w += 1
        else:
            code[j] = 2
    kids = np.empty(n_kid, np.int64)
    adults = np.empty(m - n_kid, np.int64)
    women = np.empty(n_w, np.int64)
    men = np.empty(m - n_kid - n_w, np.int64)
    w_age = np.empty(n_w, np.int16)
    m_age = np.empty(m - n_kid - n_w, np.int16)
    jk = 0
    ja = 0
    jw = 0
    jm = 0
    for j in range(m):
        i = order[j]
        c = code[j]
        if c == 0:
            kids[jk] = i
            jk += 1
        else:
            adults[ja] = i
            ja += 1
            if c == 1:
                women[jw] = i
                w_age[jw] = a_o[j]
                jw += 1
            else:
                men[jm] = i
                m_age[jm] = a_o[j]
                jm += 1
    return kids, adults, women, men, w_age, m_age


@njit(cache=True)
def _pool(ids, ages):
    """Available persons ``ids`` of one sex in one quintile by single year of age ``ages``:
    (ids sorted by age, in draw order within an age; start (N_AGE + 1,) of each age's run;
    ptr (N_AGE,) the next candidate of each age). Taking the person nearest a target age is
    then a short search (:func:`_take`); ``hh`` marks who is placed already (lazy removal).
    A counting sort by age: the permutation of a stable argsort of the ages, in two passes."""
    n = ids.shape[0]
    start = np.zeros(N_AGE + 1, np.int64)
    for j in range(n):
        start[np.int64(ages[j]) + 1] += 1
    for a in range(N_AGE):
        start[a + 1] += start[a]
    nxt = start[:-1].copy()
    out = np.empty(n, np.int64)
    for j in range(n):
        a = np.int64(ages[j])
        out[nxt[a]] = ids[j]
        nxt[a] += 1
    return out, start, start[:-1].copy()


@njit(cache=True)
def _ids_by_quintile(quint, n0):
    """The slots ``0..n0-1`` of each quintile, in slot order: (ids (n0,) int64, grouped by
    quintile; ptr (N_Q + 1,)): ``np.flatnonzero(quint[:n0] == q)`` is ``ids[ptr[q]:ptr[q +
    1]]`` (one pass instead of five)."""
    ptr = np.zeros(N_Q + 1, np.int64)
    for i in range(n0):
        ptr[np.int64(quint[i]) + 1] += 1
    for q in range(N_Q):
        ptr[q + 1] += ptr[q]
    nxt = ptr[:-1].copy()
    ids = np.empty(n0, np.int64)
    for i in range(n0):
        q = np.int64(quint[i])
        ids[nxt[q]] = i
        nxt[q] += 1
    return ids, ptr


@njit(cache=True)
def _take(pid, start, ptr, hh, target, lo, hi):
    """The next available person (draw order) of the age nearest ``target`` within
    ``lo..hi`` (younger first on a tie), or -1; taken from the pool. The caller places the
    person (sets ``hh``)."""
    hi = min(hi, N_AGE - 1)
    target = min(max(target, lo), hi)
    for d in range(0, max(target - lo, hi - target) + 1):
        for k in range(2):
            a = target - d if k == 0 else target + d
            if lo <= a <= hi:
                j = ptr[a]
                while j < start[a + 1] and hh[pid[j]] >= 0:
                    j += 1
                ptr[a] = j
                if j < start[a + 1]:
                    ptr[a] = j + 1
                    return pid[j]
    return -1


@njit(cache=True)
def _families(
    kids,
    age,
    uk,
    hh,
    wp,
    ws,
    wq,
    mp_,
    ms,
    mq,
    kids_cum,
    mom,
    mom_cum,
    band_lo,
    band_hi,
    p_lone,
    h0,
    kinds,
):
    """Families of the dependent children ``kids`` (draw order) with their mothers (pool
    ``wp, ws, wq``) and partners (pool ``mp_, ms, mq``): see :func:`assign_households`.
    ``uk`` (kids.size, 3): creation draws ``household_2..4`` of each kid (row j: ``kids[j]``).
    Household ids from ``h0``; their types written to ``kinds``; returns the number made."""
    nb = band_lo.shape[0]
    nf = 0
    k = 0
    while k < kids.shape[0]:
        first = k  # the family's first child: its draws decide the family
        size = np.searchsorted(kids_cum, uk[first, 0] * kids_cum[-1], side="right") + 1
        end = min(k + size, kids.shape[0])
        h = h0 + nf
        youngest = 1000
        eldest = -1
        for j in range(k, end):
            hh[kids[j]] = h
            youngest = min(youngest, np.int64(age[kids[j]]))
            eldest = max(eldest, np.int64(age[kids[j]]))
        k = end
        ub = uk[first, 2] * mom_cum[-1]
        band = min(np.searchsorted(mom_cum, ub, side="right"), nb - 1)
        lo_b = band_lo[band]
        hi_b = band_hi[band]
        below = mom_cum[band - 1] if band > 0 else 0.0
        frac = (ub - below) / max(mom[band], 1e-12)
        at_birth = lo_b + min(int(frac * (hi_b - lo_b + 1)), hi_b - lo_b)
        target = max(youngest + at_birth, eldest + 16)
        mother = _take(wp, ws, wq, hh, target, eldest + 16, min(N_AGE - 1, youngest + 55))
        if mother < 0:  # a small population: any adult woman, else any man
            mother = _take(wp, ws, wq, hh, target, EARNER_AGE, N_AGE - 1)
        if mother < 0:
            mother = _take(mp_, ms, mq, hh, target, EARNER_AGE, N_AGE - 1)
        lone = uk[first, 1] < p_lone
        partner = -1
        if mother >= 0:
            hh[mother] = h
            if not lone:
                ma = np.int64(age[mother])
                partner = _take(
                    mp_, ms, mq, hh, ma + PARTNER_GAP, max(EARNER_AGE, ma - 10), ma + 15
                )
                if partner >= 0:
                    hh[partner] = h
        kinds[nf] = _COUPLE_KIDS if partner >= 0 else _LONE
        nf += 1
    return nf


@njit(cache=True)
def _couples(left, age, hh, mp_, ms, mq, h0):
    """Couples without children: each woman of ``left`` (draw order) with the available man
    nearest two years older (pool ``mp_, ms, mq``); household ids from ``h0``; returns the
    number made."""
    nc = 0
    for w in left:
        wa = np.int64(age[w])
        man = _take(
            mp_, ms, mq, hh, wa + PARTNER_GAP, max(EARNER_AGE, wa - 10), min(N_AGE - 1, wa + 15)
        )
        if man < 0:
            continue
        hh[w] = h0 + nc
        hh[man] = h0 + nc
        nc += 1
    return nc


def assign_households(
    age: np.ndarray,
    sex: np.ndarray,
    quint: np.ndarray,
    n0: int,
    birth_year: np.ndarray,
    seed_k: np.uint64,
    draws: tuple[int, ...],
    table: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Household of every person slot and the type of every household.

    ``age``, ``sex``, ``quint`` (n,) of all slots (the starting population is ``0..n0-1``;
    birth slots after it, with ``birth_year`` the simulated year of their birth); ``draws``
    the creation draw numbers ``household_1..4``, drawn for a slot's id under seed key
    ``seed_k`` (only for the persons that use them: no (n, 4) table, which held 2.4 GB for
    England at full scale). Returns ``hh`` (n,) the household of every slot as formed (ids
    0..H-1 in the order households were formed; :func:`household_layout` numbers them by
    first member and stores them) and ``kind`` (H,) int8 codes of ``HOUSEHOLD_TYPES`` (the
    type at creation).

    Per quintile: dependent children (0-15), in the order of draw 1, form families of the
    sizes of ``children_per_family`` (draw 2 of the first child); a family is a lone parent's
    with the table's share of lone parents among families (draw 3), else a couple's. The
    mother is the available woman nearest the age the mother-age distribution gives at the
    youngest child's birth (draw 4), at least 16 years older than the eldest; a partner the man
    nearest two years older. Of the remaining adults, couples without children, one-person and
    other households are formed in the proportions of the table to the family households
    (women in draw order with the nearest man; then one-person; the rest, in draw order, split
    into the other households, at least two adults each). Births: see :func:`place_births`.
    """
    n = age.shape[0]
    hh = np.full(n, -1, np.int64)
    band_lo = np.array([b[0] for b in _bands("mother_age")], np.int64)
    band_hi = np.array([b[1] for b in _bands("mother_age")], np.int64)
    sh = np.array([composition_shares(table, "household_type", q + 1) for q in range(N_Q)])
    kids_cum = np.array(
        [np.cumsum(composition_shares(table, "children_per_family", q + 1)) for q in range(N_Q)]
    )
    mom = np.array([composition_shares(table, "mother_age", q + 1) for q in range(N_Q)])
    ids_q, ptr_q = _ids_by_quintile(quint, n0)
    # Quintile q numbers its households from ptr_q[q] (it makes at most one per person), so
    # the quintiles are formed independently, in parallel; household_layout renumbers them.
    kind = np.empty(n0, np.int8)
    _form_quintiles(
        ids_q,
        ptr_q,
        age,
        sex,
        hh,
        kind,
        seed_k,
        np.array(draws[:4], np.int64),
        sh,
        kids_cum,
        mom,
        band_lo,
        band_hi,
    )
    del ids_q
    return place_births(hh, kind, age, sex, quint, n0, birth_year, seed_k, draws, table)


@njit(parallel=True, cache=True)
def _form_quintiles(
    ids_q, ptr_q, age, sex, hh, kind, seed_k, draws, sh, kids_cum, mom, band_lo, band_hi
):
    """:func:`_form_quintile` for each quintile, in parallel (each writes only its own
    persons' ``hh`` and its own range of ``kind``)."""
    for q in prange(N_Q):
        lo = ptr_q[q]
        _form_quintile(
            ids_q[lo : ptr_q[q + 1]],
            lo,
            age,
            sex,
            hh,
            kind,
            seed_k,
            draws,
            sh[q],
            kids_cum[q],
            mom[q],
            band_lo,
            band_hi,
        )


@njit(cache=True)
def _round_half_even(x):
    """Python's ``round(x)`` of a float (ties to even), as an int."""
    f = np.floor(x)
    d = x - f
    if d > 0.5 or (d == 0.5 and f % 2.0 != 0.0):
        f += 1.0
    return np.int64(f)


@njit(cache=True)
def _form_quintile(ids, h0, age, sex, hh, kind, seed_k, draws, sh, kids_cum, mom, band_lo, band_hi):
    """The households of one quintile's starting persons ``ids`` (see
    :func:`assign_households`), numbered from ``h0`` (types in ``kind[h0:]``); returns how
    many. Serial (the quintiles run in parallel)."""
    m = ids.shape[0]
    if m == 0:
        return 0
    keys = np.empty(m, np.uint32)
    for j in range(m):
        keys[j] = np.uint32(uniform(person_key(seed_k, ids[j], 0), draws[0]) * 4294967296.0)
    perm = _radix_serial(keys)
    order = np.empty(m, np.int64)
    for j in range(m):
        order[j] = ids[perm[j]]
    kids, adults, women, men, w_age, m_age = _split_by_age_sex(order, age, sex)
    wp, ws, wq = _pool(women, w_age)
    mp_, ms, mq = _pool(men, m_age)
    mom_cum = np.cumsum(mom)
    fam_share = sh[_COUPLE_KIDS] + sh[_LONE]
    p_lone = sh[_LONE] / fam_share if fam_share > 0 else 0.0
    uk = np.empty((kids.shape[0], 3))
    for j in range(kids.shape[0]):
        key = person_key(seed_k, kids[j], 0)
        for c in range(3):
            uk[j, c] = uniform(key, draws[c + 1])
    fam_kinds = np.empty(kids.shape[0], np.int8)
    families = _families(
        kids,
        age,
        uk,
        hh,
        wp,
        ws,
        wq,
        mp_,
        ms,
        mq,
        kids_cum,
        mom,
        mom_cum,
        band_lo,
        band_hi,
        p_lone,
        h0,
        fam_kinds,
    )
    kind[h0 : h0 + families] = fam_kinds[:families]
    h = h0 + families
    # Households without dependent children, in the table's proportions to the families.
    total = families / fam_share if families > 0 and fam_share > 0 else 0.0
    if families == 0:  # no children in this quintile: shares among adult households
        n_un = 0
        for i in adults:
            n_un += np.int64(hh[i] < 0)
        rest_share = 1.0 - fam_share
        mean_size = (2 * sh[_COUPLE_NOKIDS] + sh[_ONE] + 3 * sh[_OTHER]) / max(rest_share, 1e-12)
        total = n_un / max(mean_size, 1.0) / max(rest_share, 1e-12)
    n_couple = _round_half_even(sh[_COUPLE_NOKIDS] * total)
    n_one = _round_half_even(sh[_ONE] * total)
    n_other = _round_half_even(sh[_OTHER] * total)
    # Unplaced women, then all unplaced adults, in draw order.
    left = np.empty(min(n_couple, women.shape[0]), np.int64)
    c = 0
    for i in women:
        if c == left.shape[0]:
            break
        if hh[i] < 0:
            left[c] = i
            c += 1
    nc = _couples(left[:c], age, hh, mp_, ms, mq, h)
    kind[h : h + nc] = _COUPLE_NOKIDS
    h += nc
    rest = np.empty(adults.shape[0], np.int64)
    r = 0
    for i in adults:
        if hh[i] < 0:
            rest[r] = i
            r += 1
    n_one = min(n_one, r)
    for j in range(n_one):
        hh[rest[j]] = h + j
    kind[h : h + n_one] = _ONE
    h += n_one
    n_other = min(n_other, (r - n_one) // 2)
    if n_other == 0:  # too few left to share: they live alone
        for j in range(n_one, r):
            hh[rest[j]] = h + j - n_one
        kind[h : h + r - n_one] = _ONE
        h += r - n_one
    else:
        for j in range(n_one, r):
            hh[rest[j]] = h + (j - n_one) % n_other
        kind[h : h + n_other] = _OTHER
        h += n_other
    return h - h0


@njit(cache=True)
def _radix_serial(keys):
    """Stable argsort of uint32 ``keys``: two counting-sort passes of 16 bits (LSD)."""
    n = keys.shape[0]
    idx = np.arange(n)
    k = keys.copy()
    idx2 = np.empty(n, np.int64)
    k2 = np.empty(n, np.uint32)
    for shift in (0, 16):
        count = np.zeros(65537, np.int64)
        for i in range(n):
            count[((k[i] >> shift) & 0xFFFF) + 1] += 1
        for d in range(65536):
            count[d + 1] += count[d]
        for i in range(n):
            d = (k[i] >> shift) & 0xFFFF
            j = count[d]
            count[d] = j + 1
            idx2[j] = idx[i]
            k2[j] = k[i]
        idx, idx2 = idx2, idx
        k, k2 = k2, k
    return idx


class HouseholdLayout(NamedTuple):
    """Every slot stored household by household (see :func:`household_layout`)."""

    src: np.ndarray  # (n,) int32: new slot -> creation id
    pid: np.ndarray  # (n,) int32: new slot -> its draw id (the 0.x layout's slot)
    hh: np.ndarray  # (n,) int32: household of each new slot, numbered by first member
    ptr: np.ndarray  # (H + 1,) int64: household h holds slots ptr[h]:ptr[h + 1]
    kind: np.ndarray  # (H,) int8: type of each household, new numbering


def household_layout(hh: np.ndarray, kind: np.ndarray, n0: int) -> HouseholdLayout:
    """The storage order of slots from the households as formed (``hh`` (n,) the household of
    each creation id, ``kind`` the type of each; :func:`assign_households`).

    Households are numbered in the order of their first member (lowest creation id), so the
    year step walks the household table forward; each keeps its members in creation order
    (its starting members, then its births). ``pid``, the id every draw is keyed on, is the
    slot the person had in povsim 0.x's layout: the starting persons sorted by household
    (numbered by first member), then the births in creation order; so every draw is what it
    was. Households without a member are dropped.

    Parallel passes: a stable radix sort of the slots by household as formed (its groups are
    the households, each in creation order), the groups put in the order of their first
    members, then each household's slots written by both threads. It replaces two serial
    passes of random access (renumbering by first appearance, then a counting sort by
    household: 8 s of the set-up at full scale); tests check it against them."""
    n = hh.shape[0]
    idx, keys = radix_order(hh, np.int32)
    gstart = _group_starts(keys)
    rank = _rank_by_first_member(idx, gstart, n)
    return HouseholdLayout(*_write_layout(idx, keys, gstart, rank, kind, n0))


@njit(cache=True)
def _group_starts(keys):
    """(G + 1,) starts of the runs of equal ``keys`` (sorted), and their end."""
    n = keys.shape[0]
    g = 0
    for i in range(n):
        g += np.int64(i == 0 or keys[i] != keys[i - 1])
    out = np.empty(g + 1, np.int32)  # slots < 2^31 (draw ids are int32)
    g = 0
    for i in range(n):
        if i == 0 or keys[i] != keys[i - 1]:
            out[g] = i
            g += 1
    out[g] = n
    return out


@njit(parallel=True, cache=True)
def _rank_by_first_member(idx, gstart, n):
    """The rank of each group (run of ``idx`` from ``gstart``, in creation order) by its first
    member: first members are distinct creation ids, so they are marked in a table of every
    id and read back in id order."""
    n_g = gstart.shape[0] - 1
    mark = np.empty(n, np.int32)
    for i in prange(n):
        mark[i] = -1
    for g in prange(n_g):
        mark[idx[gstart[g]]] = g
    rank = np.empty(n_g, np.int32)
    m = 0
    for i in range(n):
        g = mark[i]
        if g >= 0:
            rank[g] = m
            m += 1
    return rank


@njit(parallel=True, cache=True)
def _write_layout(idx, keys, gstart, rank, kind, n0):
    """Slots, draw ids, households (numbered by ``rank``) and their types. The groups are
    read in order and written to their places (writes to scattered runs cost less than
    reads from them)."""
    n = idx.shape[0]
    n_g = rank.shape[0]
    # int32 where values stay below the slot count (< 2^31): less fresh memory to touch
    size = np.empty(n_g, np.int32)
    n_start = np.empty(n_g, np.int32)
    for g in prange(n_g):
        a = gstart[g]
        b = gstart[g + 1]
        c = 0
        for j in range(a, b):
            c += np.int64(idx[j] < n0)
        r = rank[g]
        size[r] = b - a
        n_start[r] = c
    ptr = np.empty(n_g + 1, np.int64)
    ostart = np.empty(n_g, np.int32)
    ptr[0] = 0
    o = 0
    for r in range(n_g):
        ptr[r + 1] = ptr[r] + size[r]
        ostart[r] = o
        o += n_start[r]
    src = np.empty(n, np.int32)
    pid = np.empty(n, np.int32)
    hh_sorted = np.empty(n, np.int32)
    kind_new = np.empty(n_g, np.int8)
    for g in prange(n_g):
        a = gstart[g]
        r = rank[g]
        p = ptr[r]
        o = ostart[r]
        for j in range(gstart[g + 1] - a):
            i = idx[a + j]
            src[p + j] = i
            hh_sorted[p + j] = r
            # starting members come first (creation order): the 0.x layout's slots
            pid[p + j] = o + j if i < n0 else i
        kind_new[r] = kind[keys[a]]
    return src, pid, hh_sorted, ptr, kind_new


def place_births(
    hh: np.ndarray,
    kind: np.ndarray,
    age: np.ndarray,
    sex: np.ndarray,
    quint: np.ndarray,
    n0: int,
    birth_year: np.ndarray,
    seed_k: np.uint64,
    draws: tuple[int, ...],
    table: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Every birth slot joins the household of a woman of its quintile (starting population)
    whose age in the birth year is in the mother-age band of draw 1, chosen by draw 2 among
    them (ids in order). The choice is made at creation, so it is the same in every arm; if
    she has died by then, the baby joins the rest of her household (children of a household
    with nobody aged 16+ alive keep their own income, see :func:`pool_income`). Women born
    during the run are not mothers (horizons are shorter than 16 years plus a generation's
    spacing for most uses: a simplification). Without any woman of the quintile the baby
    forms a household of its own."""
    n = hh.shape[0]
    if n == n0:
        return hh, kind
    bands = _bands("mother_age")
    band_lo = np.array([b[0] for b in bands], np.int64)
    band_hi = np.array([b[1] for b in bands], np.int64)
    cums = np.array([np.cumsum(composition_shares(table, "mother_age", q + 1)) for q in range(N_Q)])
    found = np.empty(n - n0, np.uint8)
    women, below = _women_by_key(sex, quint, age, n0)
    _mothers(
        hh,
        n0,
        quint,
        birth_year,
        women,
        below,
        cums,
        band_lo,
        band_hi,
        seed_k,
        draws[0],
        draws[1],
        found,
    )
    del women
    n_alone = _alone_births(hh, n0, found, kind.size)
    lone = np.full(n_alone, TYPE_CODE["lone_parent"], np.int8)
    return hh, np.concatenate([kind.astype(np.int8), lone])


@njit(cache=True)
def _women_by_key(sex, quint, age, n0):
    """The women of the starting population sorted by the key (quintile, age) (ids in order
    within a key: a stable counting sort), and ``below`` (N_Q * N_AGE + 1,): the number of
    women with a key below each key value (``np.searchsorted`` of the sorted keys)."""
    n_key = N_Q * N_AGE
    below = np.zeros(n_key + 1, np.int64)
    for i in range(n0):
        if sex[i] == 1:
            below[np.int64(quint[i]) * N_AGE + np.int64(age[i]) + 1] += 1
    for key in range(n_key):
        below[key + 1] += below[key]
    nxt = below[:-1].copy()
    women = np.empty(below[n_key], np.int64)
    for i in range(n0):
        if sex[i] == 1:
            key = np.int64(quint[i]) * N_AGE + np.int64(age[i])
            women[nxt[key]] = i
            nxt[key] += 1
    return women, below


@njit(inline="always", cache=True)
def _below(below, v):
    """Women with a (quintile, age) key below ``v`` (clipped to the table)."""
    return below[min(max(v, 0), below.shape[0] - 1)]


@njit(parallel=True, cache=True)
def _mothers(
    hh, n0, quint, birth_year, women, below, cums, band_lo, band_hi, seed_k, d0, d1, found
):
    """Each birth slot ``i >= n0`` into its mother's household (``hh[i]``, ``found[i - n0]``
    = 1), or ``found`` 0 (no woman of the quintile at mothers' ages). Births are independent
    of each other (they read only the starting population's households), so both threads
    share them."""
    n = hh.shape[0]
    nb = band_lo.shape[0]
    lo_all = band_lo[0]
    hi_all = band_hi[nb - 1]
    for i in prange(n0, n):
        key = person_key(seed_k, np.int64(i), 0)
        u0 = uniform(key, d0)
        q = np.int64(quint[i])
        t = np.int64(birth_year[i])
        cum = cums[q]
        # np.searchsorted(cum, v, side="right") on the non-decreasing cumulative shares
        v = u0 * cum[nb - 1]
        band = 0
        for j in range(nb):
            band += np.int64(cum[j] <= v)
        band = min(band, nb - 1)
        lo_b = band_lo[band]
        hi_b = band_hi[band]
        # Women aged lo..hi in year t were aged lo - t .. hi - t at creation.
        a = _below(below, q * N_AGE + max(lo_b - t, 0))
        b = _below(below, q * N_AGE + hi_b - t + 1)
        if hi_b - t < 0:
            b = a
        if b <= a:  # no woman of the band: any woman of mothers' ages in the quintile
            a2 = _below(below, q * N_AGE + max(lo_all - t, 0))
            b2 = _below(below, q * N_AGE + hi_all - t + 1)
            if hi_all - t < 0:
                b2 = a2
            a = a2
            b = b2
        if b > a:
            u1 = uniform(key, d1)
            pick = a + min(np.int64(u1 * (b - a)), max(b - a - 1, 0))
            hh[i] = hh[women[pick]]
            found[i - n0] = 1
        else:
            found[i - n0] = 0


@njit(cache=True)
def _alone_births(hh, n0, found, first):
    """Households of their own for the births without a mother, numbered from ``first`` in
    birth-slot order; returns how many."""
    m = 0
    for i in range(n0, hh.shape[0]):
        if found[i - n0] == 0:
            hh[i] = first + m
            m += 1
    return m


def household_ptr(hh: np.ndarray) -> np.ndarray:
    """ptr (H + 1,) of households stored contiguously: household h holds slots
    ``ptr[h]:ptr[h + 1]``. ``hh`` must be non-decreasing over the slots (population.py stores
    every slot household by household), so a household is one run of the person arrays."""
    if hh.size and np.any(hh[1:] < hh[:-1]):
        raise ValueError("slots are not stored household by household (hh must not decrease)")
    counts = np.bincount(hh, minlength=int(hh.max()) + 1 if hh.size else 0)
    ptr = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


@njit(inline="always", cache=True)
def member_log_income(a, s, q, z, w, inc_mu, sigma, log_replacement, working_age_max):
    """Log income before transfers (log £/year) a member aged ``a`` (sex ``s``, quintile
    ``q``, income potential ``z``, work state ``w``) brings: ``inc_mu`` of the cell +
    ``sigma * z``, plus the log replacement ratio at working age out of work."""
    ly = inc_mu[(s * N_Q + q) * N_AGE + a] + sigma * z
    if a <= working_age_max and w != 0:
        ly += log_replacement
    return ly


@njit(inline="always", cache=True)
def living_members(p0, p1, alive, mem):
    """Write the living slots of ``p0:p1`` (slot order) to ``mem[0:m]`` and return ``m``.
    Branch-free: dead and unborn slots sit among the living in every household, and a
    branch on each was mispredicted about as often as taken."""
    m = 0
    for i in range(p0, p1):
        mem[m] = i
        m += np.int64(alive[i] != 0)
    return m


@njit(inline="always", cache=True)
def slot_log_income(
    i, age, sex, quint, zinc, work, inc_mu, sigma, log_replacement, working_age_max
):
    """:func:`member_log_income` of the person in slot ``i``."""
    return member_log_income(
        np.int64(age[i]),
        np.int64(sex[i]),
        np.int64(quint[i]),
        zinc[i],
        work[i],
        inc_mu,
        sigma,
        log_replacement,
        working_age_max,
    )


@njit(inline="always", cache=True)
def pool_household(
    mem,
    m,
    q,
    age,
    sex,
    quint,
    zinc,
    work,
    transfer,
    inc_mu,
    fam,
    sigma,
    log_replacement,
    working_age_max,
):
    """(pooled, log equivalised income before transfers (log £/year), each member's share of
    the household's transfers (£/year)) of a household of quintile ``q`` whose living members
    are the slots ``mem[0:m]`` (slot order; :func:`living_members`). A member aged 16+ brings
    ``exp`` of :func:`member_log_income`; with a living child 0-15 the sum is multiplied by
    ``fam[q]`` (exp of the quintile's family shift); divided by the modified OECD scale ``1 +
    0.5 (persons 14+ - 1) + 0.3 children under 14``; transfers paid to members are summed and
    divided by the same scale. ``pooled`` is False when nobody aged 16+ is alive: each member
    then keeps their own income and transfer. The one definition the year step (fused) and
    :func:`pool_income` share, so both give the same doubles.

    The counts and the transfer sum are branch-free (ages are unpredictable; a transfer of 0
    is added as + 0.0, exact), so the sums are those of a branching loop bit for bit."""
    total = 0.0
    paid = 0.0
    n14 = 0
    n_under = 0
    earners = 0
    for j in range(m):
        i = np.uint64(mem[j])  # unsigned: no negative-index wraparound code
        paid += transfer[i]
        a = np.int64(age[i])
        # exp only for earners: a branch mispredicted now and then costs less than an exp
        # for every child (measured: 11% of the year step).
        if a >= EARNER_AGE:
            total += np.exp(
                slot_log_income(
                    i, age, sex, quint, zinc, work, inc_mu, sigma, log_replacement, working_age_max
                )
            )
            earners += 1
        n14 += np.int64(a >= OECD_ADULT_AGE)
        n_under += np.int64(a < OECD_ADULT_AGE)
    if earners == 0:
        return False, 0.0, 0.0
    if earners < m:  # a living child 0-15
        total *= fam[q]
    scale = OECD_FIRST + OECD_OTHER * (n14 - 1) + OECD_CHILD * n_under
    return True, np.log(total / scale), paid / scale


# Households per parallel block of pool_income (each block reuses one member buffer).
_HH_BLOCK = 4096


@njit(inline="always", cache=True)
def _pool_one(
    h,
    ptr,
    mem,
    alive,
    age,
    sex,
    quint,
    zinc,
    work,
    transfer,
    inc_mu,
    fam,
    sigma,
    log_replacement,
    working_age_max,
    log_out,
    tr_out,
):
    """:func:`pool_income` for household ``h``."""
    p0 = ptr[h]
    p1 = ptr[h + 1]
    m = living_members(p0, p1, alive, mem)
    pooled, le, share = pool_household(
        mem,
        m,
        np.int64(quint[p0]) if m > 0 else 0,
        age,
        sex,
        quint,
        zinc,
        work,
        transfer,
        inc_mu,
        fam,
        sigma,
        log_replacement,
        working_age_max,
    )
    for j in range(m):
        i = mem[j]
        if pooled:
            log_out[i] = le
            tr_out[i] = share
        else:
            log_out[i] = slot_log_income(
                i, age, sex, quint, zinc, work, inc_mu, sigma, log_replacement, working_age_max
            )
            tr_out[i] = transfer[i]


@njit(parallel=True, cache=True)
def pool_income(
    ptr,
    alive,
    age,
    sex,
    quint,
    zinc,
    work,
    transfer,
    inc_mu,
    family_shift,
    sigma,
    log_replacement,
    working_age_max,
    log_out,
    tr_out,
):
    """The household incomes of every living person, in place: ``log_out`` the log
    equivalised household income before transfers (log £ per year) and ``tr_out`` the
    person's share of the transfers paid to the household (£ per year, paid / OECD scale);
    others untouched (:func:`pool_household`; households stored contiguously, ``ptr``). The
    year step computes the same values itself, household by household
    (engine/kernel.py); this pass serves the measures (poverty, equivalised income) and the
    fits. ``log(exp(log_out) + tr_out)`` is the household's equivalised income with
    transfers. No sum depends on the number of threads."""
    n_hh = ptr.shape[0] - 1
    fam = np.exp(family_shift)
    largest = 0
    for h in range(n_hh):
        largest = max(largest, ptr[h + 1] - ptr[h])
    n_blocks = (n_hh + _HH_BLOCK - 1) // _HH_BLOCK
    for b in prange(n_blocks):
        mem = np.empty(largest, np.int64)
        for h in range(b * _HH_BLOCK, min(n_hh, (b + 1) * _HH_BLOCK)):
            _pool_one(
                h,
                ptr,
                mem,
                alive,
                age,
                sex,
                quint,
                zinc,
                work,
                transfer,
                inc_mu,
                fam,
                sigma,
                log_replacement,
                working_age_max,
                log_out,
                tr_out,
            )


@njit(parallel=True, cache=True)
def start_log_income(
    ptr,
    alive,
    birth_year,
    age,
    sex,
    quint,
    zinc,
    work,
    no_transfer,
    inc_mu,
    family_shift,
    sigma,
    log_replacement,
    working_age_max,
    out,
):
    """``out[i]`` = the log equivalised household income before transfers (log £ per year)
    of every slot of the starting population (``birth_year < 0``), as :func:`pool_income`
    gives it to the living (and the person's own income, :func:`slot_log_income`, to any not
    alive); birth slots untouched. The same doubles as :func:`pool_income` with no transfers,
    without its two arrays of every slot (1.2 GB for England at full scale). ``no_transfer``:
    zeros of every slot (a zero-stride view costs nothing)."""
    n_hh = ptr.shape[0] - 1
    fam = np.exp(family_shift)
    largest = 0
    for h in range(n_hh):
        largest = max(largest, ptr[h + 1] - ptr[h])
    n_blocks = (n_hh + _HH_BLOCK - 1) // _HH_BLOCK
    for b in prange(n_blocks):
        mem = np.empty(largest, np.int64)
        for h in range(b * _HH_BLOCK, min(n_hh, (b + 1) * _HH_BLOCK)):
            p0 = ptr[h]
            p1 = ptr[h + 1]
            m = living_members(p0, p1, alive, mem)
            pooled, le, _ = pool_household(
                mem,
                m,
                np.int64(quint[p0]) if m > 0 else 0,
                age,
                sex,
                quint,
                zinc,
                work,
                no_transfer,
                inc_mu,
                fam,
                sigma,
                log_replacement,
                working_age_max,
            )
            # The living members take the household's income when it is pooled; anyone else
            # of the starting population (not alive, or nobody 16+ alive) their own.
            for i in range(p0, p1):
                if birth_year[i] < 0:
                    if pooled and alive[i] != 0:
                        out[i] = le
                    else:
                        out[i] = slot_log_income(
                            i,
                            age,
                            sex,
                            quint,
                            zinc,
                            work,
                            inc_mu,
                            sigma,
                            log_replacement,
                            working_age_max,
                        )
