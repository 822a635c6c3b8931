"""Known answers for the economic and equity measures."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.measures.economics import (
    atkinson_ede,
    default_rates,
    discount_factors,
    icer,
    net_monetary_benefit,
    present_value,
)


def test_discounting_matches_a_hand_computed_stream():
    # £100 a year for 3 years at 3.5%: 100 + 100/1.035 + 100/1.035^2
    hand = 100 + 100 / 1.035 + 100 / 1.035**2
    assert present_value([100, 100, 100], 0.035) == pytest.approx(hand, rel=1e-12)
    assert present_value([100, 100, 100], 0.0) == 300
    mid = 100 / 1.035**0.5 + 100 / 1.035**1.5
    assert present_value([100, 100], 0.035, mid_year=True) == pytest.approx(mid, rel=1e-12)
    np.testing.assert_allclose(discount_factors(3, 0.015), [1, 1 / 1.015, 1 / 1.015**2])


def test_default_rates_are_the_green_book_ones():
    assert default_rates() == (0.035, 0.015)


def test_icer_and_nmb():
    assert icer(20_000.0, 2.0) == 10_000.0
    assert np.isnan(icer(5.0, 0.0))
    assert net_monetary_benefit(2.0, 50_000.0, 20_000.0) == -10_000.0
    assert net_monetary_benefit(2.0, 50_000.0, 30_000.0) == 10_000.0


def test_ede_equals_the_mean_without_aversion_and_falls_with_it():
    hle = np.array([54.7, 60.6, 64.7, 67.6, 70.1])
    assert atkinson_ede(hle, aversion=0.0) == pytest.approx(hle.mean())
    edes = [atkinson_ede(hle, aversion=e) for e in (0, 0.5, 1, 2, 5, 10, 20)]
    assert all(a > b for a, b in zip(edes, edes[1:]))
    assert edes[-1] > hle.min()
    # e = 1 is the geometric mean
    assert atkinson_ede(hle, aversion=1.0) == pytest.approx(np.exp(np.log(hle).mean()))
    # an equal distribution has EDE = its level at any aversion
    assert atkinson_ede(np.full(5, 63.0), aversion=10) == pytest.approx(63.0)


def test_ede_weights_and_bad_input():
    v, w = np.array([50.0, 70.0]), np.array([3.0, 1.0])
    assert atkinson_ede(v, w, aversion=0) == pytest.approx(55.0)
    with pytest.raises(ValueError):
        atkinson_ede(np.array([0.0, 60.0]), aversion=2)
    with pytest.raises(ValueError):
        atkinson_ede(v, aversion=-1)
    with pytest.raises(ValueError):
        discount_factors(3, -1.5)
