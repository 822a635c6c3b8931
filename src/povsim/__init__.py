"""povsim: microsimulation of health inequalities by deprivation in England.

The package is a pipeline; each layer imports only the layers before it (checked by
import-linter, see ``pyproject.toml`` and ``docs/architecture.md``)::

    inputs -> model -> engine -> policy -> measures -> studies -> reporting -> cli

``inputs`` reads and validates files; ``model`` holds the person registry, cell tables and
the synthetic population; ``engine`` steps it year by year (Numba); ``policy`` turns
interventions, budgets and feedback loops into what the engine reads; ``measures`` turns
tallies into life tables, contrasts, economics and equity; ``studies`` are the commands'
computations (run, calibrate, compare, sensitivity); ``reporting`` writes tables, figures
and HTML; ``cli`` parses and prints.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy so that `import povsim` stays cheap for the CLI's --help and for workers.
    if name == "run":
        from povsim.studies.run import run

        return run
    if name == "load_scenario":
        from povsim.inputs.loader import load_scenario

        return load_scenario
    if name == "Results":
        from povsim.measures.results import Results

        return Results
    raise AttributeError(name)


__all__ = ["run", "load_scenario", "Results", "__version__"]
