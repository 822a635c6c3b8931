"""The engine: the Numba year step and the yearly loop over it. Arrays in, arrays out; no
pandas, no pydantic."""
