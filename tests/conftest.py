"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mp():
    """Default model parameters from calibration/ (treat as read-only)."""
    from povsim.inputs.parameters import load_params

    return load_params()


@pytest.fixture(scope="session")
def baseline_frame(mp):
    """Tidy frame of one simulated baseline year at 20,000 persons (seed 2024)."""
    from povsim.studies.run import simulate_frame

    return simulate_frame(mp, 20_000, 1, 2024)
