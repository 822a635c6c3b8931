"""Read scenario (and `povsim compare`) YAML files: ``extends`` chains, paths relative to the
file that names them, command-line overrides, then validation with one-line errors."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from povsim.inputs import uncertainty as U
from povsim.inputs.composition import CompositionError, read_composition
from povsim.inputs.errors import error, field_keys, translate
from povsim.inputs.parameters import calibration_dir, read_table
from povsim.inputs.reading import InputFileError, read_yaml
from povsim.inputs.schema import Scenario
from povsim.inputs.targets import TargetsError, read_local_targets


def _read_yaml(path: str, source: str | None = None, field: str | None = None) -> dict[str, Any]:
    """Parse one file; anything but a top-level mapping is an error. ``source`` and
    ``field``: the file and key that named ``path`` (``extends``), for the message."""
    try:
        data = read_yaml(path)
    except InputFileError as exc:
        if source is not None:
            raise error(source, field, f"{exc} ({path})") from None
        raise error(path, exc.field, str(exc)) from None
    _require_mapping(data, path)
    return data


def _require_mapping(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise error(
            source,
            None,
            "top level must be a mapping",
            data,
            "keys " + ", ".join(field_keys(Scenario)),
        )


def _deep_merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over base: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# Keys holding paths to other files: each is relative to the scenario file that sets it.
_PATH_KEYS = (("population", "composition"), ("calibration", "targets"), ("calibration", "fitted"))


def _anchor_paths(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Make the file paths set in ``data`` relative to the working folder rather than to
    ``source``'s folder, before ``extends`` merges files from different folders."""
    folder = os.path.dirname(source)
    for outer, inner in _PATH_KEYS:
        node = data.get(outer)
        if (
            isinstance(node, dict)
            and isinstance(node.get(inner), str)
            and node[inner].strip()
            and not os.path.isabs(node[inner])
        ):
            data[outer] = {**node, inner: os.path.normpath(os.path.join(folder, node[inner]))}
    return data


def scenarios_dir() -> Path:
    """The shipped scenarios: the repository's ``scenarios/``, or the copy installed inside
    the package (pyproject: hatch force-include ``scenarios`` -> ``povsim/_scenarios``)."""
    repo = Path(__file__).resolve().parents[3] / "scenarios"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parents[1] / "_scenarios"


def _shipped_fallback(path: str, target: str) -> str:
    """``extends: baseline.yaml`` from a file outside the repository (after a plain
    ``pip install``): a bare file name that is not beside the file names the shipped
    scenario of that name. A file beside it always wins."""
    if os.path.exists(path) or os.path.basename(target) != target:
        return path
    shipped = scenarios_dir() / target
    return str(shipped) if shipped.is_file() else path


def _resolve(
    data: dict[str, Any], source: str, chain: tuple[str, ...], files: list[str] | None = None
) -> dict[str, Any]:
    """Follow ``extends`` (relative to ``source``) recursively and merge; ``files`` collects
    the files of the chain."""
    data = _anchor_paths(dict(data), source)
    if "extends" not in data:
        return data
    target = data.pop("extends")
    if not isinstance(target, str) or not target.strip():
        raise error(source, "extends", "must be a path to a scenario YAML file", target)
    parent = _shipped_fallback(
        os.path.normpath(os.path.join(os.path.dirname(source), target)), target
    )
    if os.path.realpath(parent) in (os.path.realpath(p) for p in chain):
        names = " -> ".join([*chain, parent])
        raise error(source, "extends", f"cycle {names}", target)
    if files is not None:
        files.append(parent)
    base = _resolve(_read_yaml(parent, source, "extends"), parent, (*chain, parent), files)
    merged = _deep_merge(base, data)
    if "description" not in data:
        # A description says what one file models: a derived scenario that gives none must
        # not present its parent's as its own (issue 15 item 2), so it says what it is.
        name = merged.get("name")
        merged["description"] = (
            f"{name} (extends {os.path.basename(target)})"
            if isinstance(name, str)
            else f"extends {os.path.basename(target)}"
        )
    return merged


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Set dotted paths (``population.size``); ``None`` means "option not given"."""
    for key, value in overrides.items():
        if value is None:
            continue
        # parameter paths contain dots themselves, so only the first dot splits
        parts = key.split(".", 1) if key.startswith("parameters.") else key.split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # leave the bad value for validation to report
        else:
            node[parts[-1]] = value


def _build(
    data: dict[str, Any],
    source: str,
    chain: tuple[str, ...],
    overrides: dict[str, Any] | None,
    source_path: str | None,
    root: type[BaseModel] | None = None,
) -> Any:
    root = root or Scenario
    files = [source] if source_path is not None else []
    merged = _resolve(data, source, chain, files)
    if "source_path" in merged:
        raise error(source, "source_path", "set by the loader, not allowed in a scenario file")
    if root is Scenario and "levers" in merged and "budget" in merged:
        raise error(
            source,
            None,
            "this is an investment question (it has budget: and levers:), not a scenario",
            allowed="run it with `povsim compare`",
        )
    if root is not Scenario:
        # A file of another kind may extend a scenario: keep only the keys it knows.
        merged = {
            k: v
            for k, v in merged.items()
            if k in root.model_fields or k not in Scenario.model_fields
        }
    _apply_overrides(merged, overrides or {})
    merged["source_path"] = source_path
    try:
        sc = root.model_validate(merged)
    except ValidationError as exc:
        raise translate(exc.errors()[0], source, root) from None
    sc._files = tuple(files)  # type: ignore[attr-defined]  # files it named (fingerprints)
    if getattr(sc, "uncertainty", None):
        check_uncertainty(sc, source, root)
    if isinstance(sc, Scenario):
        _check_area_files(sc, source)
    return sc


def load_file(path: str | Path, root: type[BaseModel], overrides: dict | None = None) -> Any:
    """Load a YAML file of model ``root`` (e.g. an investment question) the way scenarios
    are loaded: ``extends``, overrides, then validation with one-line errors."""
    source = str(path)
    return _build(_read_yaml(source), source, (source,), overrides, source, root)


def _check_area_files(sc: Scenario, source: str) -> None:
    """Read the files a local area names, so `povsim validate` catches a bad one."""
    if sc.population.composition is not None:
        try:
            read_composition(
                sc.population.composition,
                read_table("life_tables_england_2017_2019.csv", calibration_dir()),
            )
        except CompositionError as exc:
            raise error(source, "population.composition", str(exc)) from None
    if sc.calibration is not None and sc.calibration.targets:
        try:
            read_local_targets(sc.calibration.targets)
        except TargetsError as exc:
            raise error(source, "calibration.targets", str(exc)) from None


def load_scenario(path: str | Path, overrides: dict | None = None) -> Scenario:
    """Load, merge ``extends``, apply ``overrides`` (e.g. from CLI), then validate."""
    source = str(path)
    return _build(_read_yaml(source), source, (source,), overrides, source)


def scenario_from_dict(data: dict, source: str = "<dict>") -> Scenario:
    """Validate an in-memory scenario; ``extends`` is relative to ``source``'s folder."""
    _require_mapping(data, source)
    return _build(copy.deepcopy(data), source, (source,), None, None)


def check_uncertainty(sc: Any, source: str, root: type[BaseModel]) -> None:
    """Resolve the ``uncertainty:`` paths of a validated file (one-line error if one fails)."""
    try:
        U.check(sc)
    except PydanticCustomError as exc:
        raise translate(
            {"type": exc.type, "loc": (), "ctx": exc.context, "msg": exc.message(), "input": None},
            source,
            root,
        ) from None
