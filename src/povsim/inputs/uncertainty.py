"""The `uncertainty:` block of a scenario: uncertain inputs, their distributions and sources.

A scenario may declare uncertain inputs by path, each with a distribution and the source of
its range::

    uncertainty:
      parameters.rr.poor_health.cold_home: {dist: lognormal, low: 1.47, high: 2.63,
                                            source: "Howden-Chapman 2007, 95% CI"}
      arms.*.interventions.warm_homes.effect: {dist: triangular, min: 0.6, mode: 0.8,
                                               max: 0.95, source: "assumption: ..."}

Paths:

* ``parameters.<name>`` for any parameter of ``povsim parameters`` (``rr.<outcome>.<exposure>``
  included); a per-quintile list by index, ``parameters.inverse_care_weights[0]``;
* ``arms.<arm>.interventions.<index or name>.<field>`` with field one of :data:`ARM_FIELDS`;
  ``arms.*`` sets the field of the intervention with that name in every arm that has one (so
  arms that share an intervention share its uncertain value);
* ``feedbacks.capacity.adjustment_years``.

Every sample is drawn on the unit hypercube (SALib's samplers, or a seeded Monte Carlo) and
mapped to each distribution by its quantile function (:func:`to_values`), so Sobol, Morris
and PSA use the same transforms. Unbounded distributions (normal, lognormal) are cut at the
:data:`EPS` and 1 - EPS quantiles (about +-4.75 standard deviations); at load time both ends
of every distribution are checked against the field's own validation, so an impossible range
is rejected with the usual one-line error before anything runs.
"""

from __future__ import annotations

import copy
import difflib
import re
from typing import Any

import numpy as np
from pydantic import ValidationError

from povsim.inputs.distributions import ARM_FIELDS, FEEDBACK_FIELDS
from povsim.inputs.errors import own, translate
from povsim.inputs.parameters import parameter_space
from povsim.inputs.schema import Scenario

_INDEX = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<i>\d+)\]$")


def _intervention_keys(arm: Any) -> list[str]:
    keys = [str(i) for i in range(len(arm.interventions))]
    return keys + [iv.name for iv in arm.interventions if iv.name]


def valid_paths(sc: Any) -> list[str]:
    """Every concrete path the scenario accepts (for 'did you mean' hints)."""
    out = []
    for name, spec in parameter_space().items():
        if isinstance(spec["default"], (list, tuple)):
            out += [f"parameters.{name}[{i}]" for i in range(len(spec["default"]))]
        else:
            out.append(f"parameters.{name}")
    names = set()
    for arm_name, arm in sc.arms.items():
        for key in _intervention_keys(arm):
            out += [f"arms.{arm_name}.interventions.{key}.{f}" for f in ARM_FIELDS]
        names |= {iv.name for iv in arm.interventions if iv.name}
    for n in sorted(names):
        out += [f"arms.*.interventions.{n}.{f}" for f in ARM_FIELDS]
    return out + list(FEEDBACK_FIELDS)


ALLOWED_PATHS = (
    "parameters.<name> or parameters.<name>[i] (see `povsim parameters`), "
    "arms.<arm or *>.interventions.<index or name>.<field> (field: "
    + ", ".join(ARM_FIELDS)
    + "), "
    + ", ".join(FEEDBACK_FIELDS)
)


def targets(sc: Any, path: str) -> list[tuple[Any, ...]] | None:
    """Where ``path`` points in the scenario's data, as key tuples into its dict form
    (``("parameters", name, i)``, ``("arms", arm, "interventions", j, field...)``), or None
    if it does not resolve. ``arms.*`` gives one target per arm with that intervention."""
    if path.startswith("parameters."):
        rest = path[len("parameters.") :]
        m = _INDEX.match(rest)
        name, index = (m["name"], int(m["i"])) if m else (rest, None)
        spec = parameter_space().get(name)
        if spec is None:
            return None
        is_list = isinstance(spec["default"], (list, tuple))
        if is_list != (index is not None):
            return None
        if is_list and index is not None and index >= len(spec["default"]):
            return None
        return [("parameters", name) if index is None else ("parameters", name, index)]
    if path in FEEDBACK_FIELDS:
        return [tuple(path.split("."))]
    parts = path.split(".")
    if len(parts) < 5 or parts[0] != "arms" or parts[2] != "interventions":
        return None
    arm_name, key, fld = parts[1], parts[3], ".".join(parts[4:])
    if fld not in ARM_FIELDS:
        return None
    arms = sc.arms.items() if arm_name == "*" else [(arm_name, sc.arms.get(arm_name))]
    out = []
    for a, arm in arms:
        if arm is None:
            return None
        if key.isdigit() and arm_name != "*":
            j = int(key)
            if j >= len(arm.interventions):
                return None
        else:
            js = [j for j, iv in enumerate(arm.interventions) if iv.name == key]
            if not js:
                if arm_name == "*":
                    continue
                return None
            j = js[0]
        out.append(("arms", a, "interventions", j, *fld.split(".")))
    return out or None


def scenario_data(sc: Any) -> dict[str, Any]:
    """The scenario as a plain dict without its uncertainty block (to re-validate points)."""
    data = sc.model_dump(mode="python", exclude={"uncertainty"})
    return data


def set_value(data: dict[str, Any], target: tuple, value: float) -> None:
    """Set one target (from :func:`targets`) in a scenario dict, in place."""
    if target[0] == "parameters":
        params = data.setdefault("parameters", {})
        name = target[1]
        if len(target) == 3:
            current = params.get(name, parameter_space()[name]["default"])
            lst = [float(x) for x in current]
            lst[target[2]] = float(value)
            params[name] = lst
        else:
            params[name] = float(value)
        return
    node: Any = data
    for k in target[:-1]:
        node = node[k]
    node[target[-1]] = float(value)


def point(data: dict[str, Any], resolved: list[list[tuple]], values: np.ndarray) -> Any:
    """The scenario with the uncertain inputs set to ``values`` (validated)."""
    d = copy.deepcopy(data)
    for tgts, v in zip(resolved, values):
        for t in tgts:
            set_value(d, t, float(v))
    return Scenario.model_validate(d)


def check(sc: Any) -> None:
    """Resolve every path of ``sc.uncertainty`` and check both ends of its distribution
    against the field's own validation (raises the scenario module's one-line errors)."""
    if not sc.uncertainty:
        return
    data = scenario_data(sc)
    seen: dict[tuple, str] = {}
    for path, spec in sc.uncertainty.items():
        where = f"uncertainty.{path}"
        tgts = targets(sc, path)
        listed = _list_length(path)
        if tgts is None and listed:
            own(
                where,
                "a list parameter: give one element by index",
                path,
                f"{path}[0] .. {path}[{listed - 1}]",
            )
        if tgts is None:
            near = difflib.get_close_matches(path, valid_paths(sc), n=1)
            own(
                where,
                "unknown or unsupported path",
                allowed=ALLOWED_PATHS,
                hint=near[0] if near else None,
            )
        for t in tgts:  # two inputs on one field would silently overwrite each other
            if t in seen:
                own(where, f"sets the same field as `{seen[t]}`", allowed="one input per field")
            seen[t] = path
        lo, hi = spec.support()
        for v in (lo, hi):
            d = copy.deepcopy(data)
            for t in tgts:
                set_value(d, t, v)
            try:
                Scenario.model_validate(d)
            except ValidationError as exc:
                inner = str(translate(exc.errors()[0], "x", Scenario))[3:]
                own(
                    where,
                    f"the distribution reaches {v:.6g}, which is not allowed ({inner})",
                    f"{lo:.6g}..{hi:.6g}",
                )


def _list_length(path: str) -> int:
    """Length of the list parameter ``path`` names without an index (else 0)."""
    if not path.startswith("parameters."):
        return 0
    spec = parameter_space().get(path[len("parameters.") :])
    d = spec["default"] if spec else None
    return len(d) if isinstance(d, (list, tuple)) else 0


def names(sc: Any) -> list[str]:
    """Parameter names in declaration order (the uncertainty block's keys)."""
    return list(sc.uncertainty)


def to_values(sc: Any, u: np.ndarray) -> np.ndarray:
    """Unit-hypercube rows (n, D) -> parameter values (n, D), column by column."""
    u = np.atleast_2d(np.asarray(u, dtype=float))
    out = np.empty_like(u)
    for j, spec in enumerate(sc.uncertainty.values()):
        out[:, j] = spec.ppf(u[:, j])
    return out


def is_model_path(path: str) -> bool:
    """True when the input changes the model (so the baseline arm), not only interventions."""
    return not path.startswith("arms.")
