"""Statistical and keying properties of the counter-based generator."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.model.rng import normal, person_key, seed_key, uniform, uniforms

N = 1_000_000
PIDS = np.arange(N, dtype=np.int64)


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    return uniforms(seed_key(12345), PIDS, 3, 0)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_range(draws):
    assert draws.min() >= 0.0
    assert draws.max() < 1.0
    # Both ends are reached closely (resolution is 2**-32, so 1e6 draws get within ~1e-5).
    assert draws.min() < 1e-4 and draws.max() > 1 - 1e-4


def test_mean_and_variance(draws):
    # Mean: SE = sqrt(1/12 / N). Variance: Var((U - 1/2)^2) = 1/80 - 1/144 = 1/180.
    se_mean = np.sqrt(1 / 12 / N)
    se_var = np.sqrt(1 / 180 / N)
    assert abs(draws.mean() - 0.5) < 5 * se_mean
    assert abs(draws.var() - 1 / 12) < 5 * se_var


def test_histogram_is_flat(draws):
    counts = np.bincount((draws * 100).astype(np.int64), minlength=100)
    expected = N / 100
    chi2 = np.sum((counts - expected) ** 2 / expected)
    # chi-square with 99 df: mean 99, SD 14; 99 + 5 SD is about 170.
    assert chi2 < 170


def test_neighbouring_persons_uncorrelated(draws):
    assert abs(corr(draws[:-1], draws[1:])) < 0.01
    assert abs(corr(draws[:-2], draws[2:])) < 0.01


def test_neighbouring_years_uncorrelated():
    sk = seed_key(12345)
    y3 = uniforms(sk, PIDS, 3, 0)
    y4 = uniforms(sk, PIDS, 4, 0)
    assert abs(corr(y3, y4)) < 0.01
    assert np.mean(y3 == y4) < 1e-4


@pytest.mark.parametrize("d1,d2", [(0, 1), (1, 2), (2, 3), (0, 32)])
def test_neighbouring_draws_uncorrelated(d1, d2):
    """Draws 2k and 2k+1 are the two halves of one hash, 2k+1 and 2k+2 of two hashes."""
    sk = seed_key(7)
    a = uniforms(sk, PIDS, 1, d1)
    b = uniforms(sk, PIDS, 1, d2)
    assert abs(corr(a, b)) < 0.01
    assert np.mean(a == b) < 1e-4


def test_same_key_same_value():
    sk = seed_key(99)
    k = person_key(sk, 41, 5)
    assert k == person_key(sk, 41, 5)
    # Jitted functions return a uint64 key as a Python int; convert it back before passing
    # it in again (keys >= 2**63 would otherwise be typed int64 and overflow).
    k = np.uint64(k)
    assert uniform(k, 3) == uniform(k, 3)
    # The vector helper is the scalar function applied per person.
    pids = np.array([0, 41, 1_000_000_007], dtype=np.int64)
    vec = uniforms(sk, pids, 5, 3)
    for i, pid in enumerate(pids):
        assert vec[i] == uniform(np.uint64(person_key(sk, pid, 5)), 3)
    np.testing.assert_array_equal(vec, uniforms(seed_key(99), pids, 5, 3))
    # ... and a different draw number of the same key is a different value.
    assert uniform(k, 3) != uniform(k, 4)


def test_different_seeds_different_streams():
    assert seed_key(1) != seed_key(2)
    a = uniforms(seed_key(1), PIDS[:100_000], 1, 0)
    b = uniforms(seed_key(2), PIDS[:100_000], 1, 0)
    assert np.mean(a == b) < 1e-4
    assert abs(corr(a, b)) < 0.02


def test_person_keys_distinct():
    sk = seed_key(3)
    keys = np.array([person_key(sk, i, y) for i in range(300) for y in range(30)], dtype=np.uint64)
    assert np.unique(keys).size == keys.size


def test_normal_moments():
    sk = seed_key(5)
    z = np.array([normal(np.uint64(person_key(sk, i, 0)), 10, 11) for i in range(20_000)])
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / z.size)
