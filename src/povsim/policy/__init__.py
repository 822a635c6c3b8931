"""Policy: interventions (delivery: timing, targeting, reach, capacity, budget, cost; and
effect), budgets split into interventions, and the system-dynamics feedback loops."""
