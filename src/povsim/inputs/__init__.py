"""Inputs: read and validate every file a user gives (scenario YAML, compare questions,
uncertainty blocks, composition and targets CSVs) and the calibration tables; one-line errors.
Imports nothing else of povsim."""
