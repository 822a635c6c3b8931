"""Studies: the computations behind each command (run, calibrate, compare a budget,
sensitivity analysis with its sweep executor)."""
