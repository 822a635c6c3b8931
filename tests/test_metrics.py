"""Known-answer tests of the life-table, Sullivan, SE and inequality-index functions."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.measures import life_table as M

N_AGE = 101

# Toy 4-age table used by several tests: ages 0, 1, 2 closed, age 3 open (3+).
TOY_MX = np.array([0.05, 0.01, 0.02, 0.2])
TOY_GOOD = np.array([0.9, 0.8, 0.7, 0.4])


def toy_by_hand() -> dict[str, np.ndarray]:
    """The toy life table written out step by step (ax = 0.1 at age 0, 0.5 otherwise)."""
    # qx = mx / (1 + (1 - ax) mx); the open interval has qx = 1.
    q0 = 0.05 / (1 + 0.9 * 0.05)
    q1 = 0.01 / (1 + 0.5 * 0.01)
    q2 = 0.02 / (1 + 0.5 * 0.02)
    q3 = 1.0
    # lx: radix 1.
    l0 = 1.0
    l1 = l0 * (1 - q0)
    l2 = l1 * (1 - q1)
    l3 = l2 * (1 - q2)
    # dx = lx qx; Lx = lx - (1 - ax) dx; open interval Lx = lx / mx.
    d0, d1, d2, d3 = l0 * q0, l1 * q1, l2 * q2, l3 * q3
    L0 = l0 - 0.9 * d0
    L1 = l1 - 0.5 * d1
    L2 = l2 - 0.5 * d2
    L3 = l3 / 0.2
    # Tx = sum of Lx from x on; ex = Tx / lx.
    T3 = L3
    T2 = L2 + T3
    T1 = L1 + T2
    T0 = L0 + T1
    return {
        "qx": np.array([q0, q1, q2, q3]),
        "lx": np.array([l0, l1, l2, l3]),
        "dx": np.array([d0, d1, d2, d3]),
        "Lx": np.array([L0, L1, L2, L3]),
        "Tx": np.array([T0, T1, T2, T3]),
        "ex": np.array([T0 / l0, T1 / l1, T2 / l2, T3 / l3]),
    }


def gompertz_mx(
    n: int = N_AGE, a: float = 2e-5, b: float = 0.095, infant: float = 0.004
) -> np.ndarray:
    mx = a * np.exp(b * np.arange(n)) + 1e-4
    mx[0] = infant
    return mx


# --- life table --------------------------------------------------------------------------


@pytest.mark.parametrize("h", [0.02, 0.1, 0.35])
def test_constant_hazard_gives_one_over_h(h):
    mx = np.full(N_AGE, h)
    assert M.life_expectancy(mx) == pytest.approx(1.0 / h, abs=1e-9)
    assert M.life_expectancy(mx, 65) == pytest.approx(1.0 / h, abs=1e-9)
    # Every age, including the open interval, has remaining life 1/h.
    np.testing.assert_allclose(M.life_table(mx)["ex"], 1.0 / h, atol=1e-9)


def test_toy_life_table_matches_hand_computation():
    hand = toy_by_hand()
    lt = M.life_table(TOY_MX)
    for col in ("qx", "lx", "dx", "Lx", "Tx", "ex"):
        np.testing.assert_allclose(lt[col], hand[col], rtol=1e-13, atol=0, err_msg=col)
    np.testing.assert_allclose(lt["ax"], [0.1, 0.5, 0.5, 0.5])
    assert M.life_expectancy(TOY_MX) == pytest.approx(hand["ex"][0], rel=1e-13)
    assert M.life_expectancy(TOY_MX, 2) == pytest.approx(hand["ex"][2], rel=1e-13)
    # Sanity of the hand numbers themselves: deaths exhaust the radix.
    assert hand["dx"].sum() == pytest.approx(1.0, rel=1e-13)


def test_life_table_does_not_modify_input():
    mx = TOY_MX.copy()
    M.life_table(mx)
    np.testing.assert_array_equal(mx, TOY_MX)


def test_higher_mortality_lowers_life_expectancy():
    mx = gompertz_mx()
    worse = mx.copy()
    worse[50] *= 2.0
    assert M.life_expectancy(worse) < M.life_expectancy(mx)
    # A rise at age 50 leaves remaining life at 60 unchanged.
    assert M.life_expectancy(worse, 60) == pytest.approx(M.life_expectancy(mx, 60), rel=1e-12)


def test_vectorised_over_leading_axes():
    rng = np.random.default_rng(5)
    base = gompertz_mx()
    stack = base * rng.uniform(0.5, 2.0, size=(3, 2, N_AGE))
    good = rng.uniform(0.3, 1.0, size=(3, 2, N_AGE))
    var = (stack * 0.1) ** 2
    le = M.life_expectancy(stack)
    le65 = M.life_expectancy(stack, 65)
    hle = M.sullivan_hle(stack, good)
    se = M.le_se(stack, var)
    assert le.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert le[i, j] == pytest.approx(M.life_expectancy(stack[i, j]), rel=1e-14)
            assert le65[i, j] == pytest.approx(M.life_expectancy(stack[i, j], 65), rel=1e-14)
            assert hle[i, j] == pytest.approx(M.sullivan_hle(stack[i, j], good[i, j]), rel=1e-14)
            assert se[i, j] == pytest.approx(M.le_se(stack[i, j], var[i, j]), rel=1e-14)
    # Rows really differ (the loop above would pass trivially on identical rows).
    assert np.ptp(le) > 1.0


# --- Sullivan ------------------------------------------------------------------------------


def test_sullivan_toy_by_hand():
    hand = toy_by_hand()
    L = hand["Lx"]
    hle0 = (L[0] * 0.9 + L[1] * 0.8 + L[2] * 0.7 + L[3] * 0.4) / hand["lx"][0]
    hle1 = (L[1] * 0.8 + L[2] * 0.7 + L[3] * 0.4) / hand["lx"][1]
    assert M.sullivan_hle(TOY_MX, TOY_GOOD) == pytest.approx(hle0, rel=1e-13)
    assert M.sullivan_hle(TOY_MX, TOY_GOOD, 1) == pytest.approx(hle1, rel=1e-13)


@pytest.mark.parametrize("age", [0, 65])
def test_sullivan_full_and_half_prevalence(age):
    mx = gompertz_mx()
    le = M.life_expectancy(mx, age)
    assert M.sullivan_hle(mx, np.ones(N_AGE), age) == pytest.approx(le, rel=1e-13)
    assert M.sullivan_hle(mx, np.full(N_AGE, 0.5), age) == pytest.approx(0.5 * le, rel=1e-13)
    assert M.sullivan_hle(mx, np.zeros(N_AGE), age) == 0.0


# --- standard errors ---------------------------------------------------------------------


def test_le_se_zero_variance_is_zero():
    mx = gompertz_mx()
    assert M.le_se(mx, np.zeros(N_AGE)) == 0.0
    assert M.le_se(mx, np.zeros(N_AGE), 65) == 0.0


@pytest.mark.parametrize("age", [0, 65])
def test_le_se_scales_with_sqrt_variance(age):
    mx = gompertz_mx()
    var = (0.05 * mx) ** 2
    se = M.le_se(mx, var, age)
    assert se > 0
    assert M.le_se(mx, 4.0 * var, age) == pytest.approx(2.0 * se, rel=1e-13)
    assert M.le_se(mx, 0.25 * var, age) == pytest.approx(0.5 * se, rel=1e-13)


@pytest.mark.parametrize("mx", [TOY_MX, gompertz_mx()], ids=["toy", "gompertz"])
def test_le_se_equals_delta_method(mx):
    """Chiang's variance is the delta method through qx, so it must agree with a
    numerically differentiated e0 (independent variances per age)."""
    rng = np.random.default_rng(1)
    var = (mx * rng.uniform(0.02, 0.2, mx.shape)) ** 2
    grad = np.empty(mx.shape)
    for i in range(mx.shape[0]):
        eps = mx[i] * 1e-6
        up, dn = mx.copy(), mx.copy()
        up[i] += eps
        dn[i] -= eps
        grad[i] = (M.life_expectancy(up) - M.life_expectancy(dn)) / (2 * eps)
    expected = np.sqrt(np.sum(grad**2 * var))
    assert M.le_se(mx, var) == pytest.approx(expected, rel=1e-5)


def test_hle_se_known_answer_and_scaling():
    hand = toy_by_hand()
    n = np.array([100.0, 200.0, 300.0, 50.0])
    var_p = TOY_GOOD * (1 - TOY_GOOD) / n
    expected = np.sqrt(np.sum(hand["Lx"] ** 2 * var_p)) / hand["lx"][0]
    assert M.hle_se(TOY_MX, TOY_GOOD, n) == pytest.approx(expected, rel=1e-13)
    assert M.hle_se(TOY_MX, TOY_GOOD, 4 * n) == pytest.approx(expected / 2, rel=1e-13)
    assert M.hle_se(TOY_MX, np.ones(4), n) == 0.0


# --- SII / RII -----------------------------------------------------------------------------


def test_ridit_midpoints_equal_and_unequal():
    np.testing.assert_allclose(M.ridit_midpoints(np.full(5, 0.2)), [0.1, 0.3, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(
        M.ridit_midpoints([1, 3, 2, 2.5, 1.5]), [0.05, 0.25, 0.5, 0.725, 0.925]
    )


def test_sii_linear_in_rank_equal_shares():
    r = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    values = 70 + 10 * r
    assert M.sii(values, np.full(5, 0.2)) == pytest.approx(10.0, rel=1e-12)
    # Counts instead of shares give the same answer; a reversed gradient flips the sign.
    assert M.sii(values, np.full(5, 1234.0)) == pytest.approx(10.0, rel=1e-12)
    assert M.sii(values[::-1], np.full(5, 0.2)) == pytest.approx(-10.0, rel=1e-12)
    assert M.sii(np.full(5, 80.0), np.full(5, 0.2)) == pytest.approx(0.0, abs=1e-12)


def test_sii_weighted_unequal_shares_by_hand():
    shares = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    values = np.array([72.0, 75.0, 79.0, 80.0, 84.0])
    r = np.array([0.05, 0.25, 0.5, 0.725, 0.925])  # ridit midpoints written out
    # Weighted least-squares slope by hand.
    rbar = np.sum(shares * r)
    vbar = np.sum(shares * values)
    slope = np.sum(shares * (r - rbar) * (values - vbar)) / np.sum(shares * (r - rbar) ** 2)
    # ... and by numpy (polyfit weights multiply residuals, hence the square root).
    slope_np = np.polyfit(r, values, 1, w=np.sqrt(shares))[0]
    assert slope == pytest.approx(slope_np, rel=1e-10)
    assert M.sii(values, shares) == pytest.approx(slope, rel=1e-12)
    # The unweighted slope differs, so the test really checks the weighting.
    assert abs(np.polyfit(r, values, 1)[0] - slope) > 0.1
    # Values exactly linear in rank return the line's slope whatever the shares.
    assert M.sii(60 + 12.5 * r, shares) == pytest.approx(12.5, rel=1e-12)


def test_sii_weights_properties():
    shares = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    w = M.sii_weights(shares)
    assert w.sum() == pytest.approx(0.0, abs=1e-12)  # constant values have SII 0
    r = M.ridit_midpoints(shares)
    assert np.sum(w * r) == pytest.approx(1.0, rel=1e-12)  # slope of r on r is 1
    # Vectorised over leading axes.
    stack = np.stack([shares, np.full(5, 0.2)])
    np.testing.assert_allclose(M.sii_weights(stack)[0], w)
    np.testing.assert_allclose(M.sii_weights(stack)[1], M.sii_weights(np.full(5, 0.2)))


def test_rii_is_sii_over_weighted_mean():
    shares = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    values = np.array([72.0, 75.0, 79.0, 80.0, 84.0])
    expected = M.sii(values, shares) / np.sum(shares * values)
    assert M.rii(values, shares) == pytest.approx(expected, rel=1e-12)
    # Unnormalised counts give the same RII.
    assert M.rii(values, shares * 1000) == pytest.approx(expected, rel=1e-12)
    assert M.rii(values, shares) != pytest.approx(M.sii(values, shares) / values.mean(), rel=1e-6)
