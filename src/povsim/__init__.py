"""povsim: microsimulation of health inequalities by deprivation in England.

Data flow: scenario (YAML) -> population -> simulate (Numba kernel, yearly) -> Results
(tidy table of LE, HLE, gaps, SII and outcome prevalences) -> outputs and report.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy so that `import povsim` stays cheap for the CLI's --help and for workers.
    if name == "run":
        from .api import run
        return run
    if name == "load_scenario":
        from .scenario import load_scenario
        return load_scenario
    if name == "Results":
        from .results import Results
        return Results
    raise AttributeError(name)


__all__ = ["run", "load_scenario", "Results", "__version__"]
