"""Counter-based random numbers keyed on (seed, person, year, draw).

A draw is a pure function of its key, so results do not depend on thread count, chunking
or the order persons are visited, and two arms run with the same seed give each person the
same draws (common random numbers). Each purpose has its own draw number, stated in
:mod:`povsim.model.registry` (which refuses a number used twice).

The mixer is the splitmix64 finaliser (Steele, Lea & Flood 2014), a bijection on 64-bit
integers with full avalanche. One 64-bit hash yields two 32-bit uniforms, so draw ``d`` uses
half ``d % 2`` of hash ``d // 2``; 2**-32 resolution is far below the smallest probability the
model uses (about 1e-5 per year).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.special import ndtri

_C1 = np.uint64(0xBF58476D1CE4E5B9)
C2 = np.uint64(0x94D049BB133111EB)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
_INV32 = 1.0 / 4294967296.0


@njit(inline="always", cache=True)
def mix64(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _C1
    z = (z ^ (z >> _S27)) * C2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True)
def person_key(seed_key: np.uint64, pid: np.int64, year_key: np.int64) -> np.uint64:
    """Key for one person in one year; combine with :func:`uniform` for each draw."""
    k = mix64(seed_key ^ (np.uint64(pid) * GOLDEN))
    return mix64(k ^ (np.uint64(year_key) * C2 + GOLDEN))


@njit(inline="always", cache=True)
def uniform(key: np.uint64, draw: np.int64) -> float:
    """Uniform on [0, 1) for draw number ``draw`` of a person-year key."""
    h = mix64(key + np.uint64(draw >> 1) * GOLDEN + GOLDEN)
    if draw & 1:
        h = h >> _S32
    return float(h & _MASK32) * _INV32


@njit(inline="always", cache=True)
def normal(key: np.uint64, draw1: np.int64, draw2: np.int64) -> float:
    """Standard normal by Box-Muller from two uniforms of the same key."""
    u1 = uniform(key, draw1)
    u2 = uniform(key, draw2)
    if u1 < 1e-12:
        u1 = 1e-12
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# Inverse standard normal CDF at u = k / 4096 (ends clipped to +-4), for table lookup.
_NORM_TABLE = np.clip(ndtri(np.linspace(0.0, 1.0, 4097)), -4.0, 4.0)


@njit(inline="always", cache=True)
def approx_normal_u(u: float) -> float:
    """Approximately standard normal from a uniform ``u``, by linear interpolation in a
    4,097-point inverse-CDF table (exact to about 1e-4 within 3.5 SD). Used for yearly income
    shocks, where it is far cheaper than Box-Muller and the extreme tails do not matter."""
    x = u * 4096.0
    # Unsigned index: no negative-index wraparound code in the year step's hot loop.
    k = np.uint64(x)
    f = x - k
    return _NORM_TABLE[k] * (1.0 - f) + _NORM_TABLE[k + np.uint64(1)] * f


@njit(inline="always", cache=True)
def approx_normal(key: np.uint64, draw: np.int64) -> float:
    """:func:`approx_normal_u` of draw number ``draw`` of a person-year key."""
    return approx_normal_u(uniform(key, draw))


_M64 = 0xFFFFFFFFFFFFFFFF


def mix64_int(z: int) -> int:
    """:func:`mix64` in Python integers (the same 64-bit result, tested): for keys made once
    per call, whose Numba dispatch from Python would load the compiled function from the
    cache (and, as the first call of a process, Numba's typing registries) for one hash."""
    z &= _M64
    z = ((z ^ (z >> 30)) * int(_C1)) & _M64
    z = ((z ^ (z >> 27)) * int(C2)) & _M64
    return z ^ (z >> 31)


def seed_key(seed: int) -> np.uint64:
    """Spread a user seed (any int >= 0) over 64 bits."""
    return np.uint64(mix64_int(seed))


@njit(cache=True)
def _uniforms_serial(seed_k, pids, year_key, draw):
    out = np.empty(pids.shape[0])
    for i in range(pids.shape[0]):
        out[i] = uniform(person_key(seed_k, pids[i], year_key), draw)
    return out


@njit(parallel=True, cache=True)
def _uniforms_parallel(seed_k, pids, year_key, draw):
    out = np.empty(pids.shape[0])
    for i in prange(pids.shape[0]):
        out[i] = uniform(person_key(seed_k, pids[i], year_key), draw)
    return out


# From this many draws both threads share the work (the set-up draws for every person: tens
# of millions at full scale); below it a parallel launch costs more than it saves. Each draw
# depends on its own person alone, so the values are the same either way.
_PARALLEL_DRAWS = 1 << 16


def uniforms(seed_k: np.uint64, pids: np.ndarray, year_key: int, draw: int) -> np.ndarray:
    """Vector of draws ``uniform(person_key(seed_k, pids[i], year_key), draw)`` for many
    persons (used by the set-up, interventions and tests)."""
    if pids.shape[0] >= _PARALLEL_DRAWS:
        return _uniforms_parallel(seed_k, pids, int(year_key), int(draw))
    return _uniforms_serial(seed_k, pids, int(year_key), int(draw))
