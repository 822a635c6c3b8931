"""povsim: microsimulation of health inequalities by deprivation in England.

The package is a pipeline; each layer imports only the layers before it (checked by
import-linter, see ``pyproject.toml`` and ``docs/architecture.md``)::

    inputs -> model -> engine -> policy -> measures -> studies -> reporting -> api -> cli

``inputs`` reads and validates files; ``model`` holds the person registry, cell tables and
the synthetic population; ``engine`` steps it year by year (Numba); ``policy`` turns
interventions, budgets and feedback loops into what the engine reads; ``measures`` turns
tallies into life tables, contrasts, economics and equity; ``studies`` are the commands'
computations (run, calibrate, compare, sensitivity); ``reporting`` writes tables, figures
and HTML; ``api`` is one function per command returning result objects with ``.to_frame()``,
``.plot()`` and ``.write()``; ``cli`` parses and prints.

    >>> import povsim
    >>> res = povsim.run("scenarios/stop_smoking_core20.yaml", size=20_000)  # doctest: +SKIP
    >>> res.to_frame(); res.plot(); res.write("outputs/try")  # doctest: +SKIP
"""

import importlib

__version__ = "0.1.0"

_API = ("run", "compare", "sensitivity", "calibrate", "places")


def __getattr__(name: str):
    # Lazy so that `import povsim` stays cheap for the CLI's --help and for workers.
    if name in _API:
        # By name, not `from povsim import api`: the root re-exports the top layer lazily, and
        # a static import would make every module's `from povsim import __version__` look to
        # the layer contract like a dependency on it.
        return getattr(importlib.import_module("povsim.api"), name)
    if name == "load_scenario":
        from povsim.inputs.loader import load_scenario

        return load_scenario
    if name == "load_investment":
        from povsim.inputs.investment import load_investment

        return load_investment
    if name == "Results":
        from povsim.measures.results import Results

        return Results
    raise AttributeError(name)


__all__ = [
    "run",
    "compare",
    "sensitivity",
    "calibrate",
    "places",
    "load_scenario",
    "load_investment",
    "Results",
    "__version__",
]
