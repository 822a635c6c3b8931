"""The person model: the state registry (indices of states, risk factors, tallies, draws),
counter-based draws, calibrated cell tables and the synthetic population."""
