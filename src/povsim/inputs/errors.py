"""One-line errors for every input file: ``<file>: <field.path>: <problem>; got <value>;
allowed <what> (did you mean `x`?)``, and the translation of pydantic's errors into them."""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

OWN = "povsim_scenario"  # pydantic error type for errors we word ourselves
Number = float | int  # numeric fields accept YAML integers and floats


class ScenarioError(Exception):
    """One-line message: '<file>: <field.path>: <problem>; got <value>; allowed <what>'
    (+ ' (did you mean `x`?)' for unknown keys)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # guarantee a single line


def own(
    path: str, problem: str, got: Any = ..., allowed: str | None = None, hint: str | None = None
) -> None:
    """Raise a pydantic error that carries our own wording (and a deeper path)."""
    raise PydanticCustomError(
        OWN,
        problem,
        {"path": path, "problem": problem, "got": got, "allowed": allowed, "hint": hint},
    )


def show(value: Any) -> str:
    """A short YAML-flavoured rendering of a user value."""
    text = (
        {None: "null", True: "true", False: "false"}[value]
        if value is None or isinstance(value, bool)
        else repr(value)
    )
    return text if len(text) <= 60 else text[:57] + "..."


def error(
    source: str,
    path: str | None,
    problem: str,
    got: Any = ...,
    allowed: str | None = None,
    hint: str | None = None,
) -> ScenarioError:
    msg = f"{source}: {path}: {problem}" if path else f"{source}: {problem}"
    msg += (f"; got {show(got)}" if got is not ... else "") + (
        f"; allowed {allowed}" if allowed else ""
    )
    return ScenarioError(msg + (f" (did you mean `{hint}`?)" if hint else ""))


def field_keys(model: type[BaseModel]) -> list[str]:
    keys = [k for k in model.model_fields if k != "source_path"]
    # Top-level file models (they have source_path) may also say `extends`.
    return keys + ["extends"] if "source_path" in model.model_fields else keys


def expect(field: Any) -> str:
    """Human description of what a field accepts, derived from its type and bounds."""
    if field.description:
        return field.description
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys " + ", ".join(field_keys(ann))
    if ann is bool:
        return "true or false"
    if ann is int or ann == Number or ann == (Number | None):
        lo = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        lo = next((f"more than {m.gt}" for m in field.metadata if hasattr(m, "gt")), lo)
        hi = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        hi = next((m.lt - 1 for m in field.metadata if hasattr(m, "lt")), hi)
        kind = "an integer" if ann is int else "a number"
        if lo is not None and hi is not None:
            return f"{kind} between {lo} and {hi}"
        if lo is not None:
            return f"{kind} {lo if isinstance(lo, str) else f'>= {lo}'}"
        return kind
    return "a string" if ann is str else str(ann)


def model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> Any:
    """The pydantic model (or None) that owns the last key of ``loc``, walking through
    nested models, ``dict[str, Model]`` and ``list[Model]`` annotations."""
    ann: Any = root
    for part in loc[:-1]:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(part)
            ann = field.annotation if field else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        elif get_origin(ann) is list:
            ann = get_args(ann)[0]
        else:
            return None
        while get_origin(ann) in (Union, UnionType):  # Optional[Model] -> Model
            ann = next((a for a in get_args(ann) if a is not type(None)), None)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def translate(err: dict[str, Any], source: str, root: type[BaseModel]) -> ScenarioError:
    """Turn pydantic's first error into our one-line wording."""
    loc = tuple(err["loc"])
    path = ".".join(str(part) for part in loc)
    if err["type"] == OWN:
        ctx = err["ctx"]
        own = ctx["path"]
        # Validators of nested models word paths relative to their model.
        full = path if not own else own if not path or own.startswith(path) else f"{path}.{own}"
        return error(source, full, ctx["problem"], ctx["got"], ctx["allowed"], ctx["hint"])
    model = model_at(loc, root)
    if model is None or (loc[-1] not in model.model_fields and err["type"] != "extra_forbidden"):
        msg = err["msg"]  # not a field of ours (e.g. a non-string key): pydantic's words
        return error(source, path, msg[:1].lower() + msg[1:], err.get("input"))
    if err["type"] == "extra_forbidden":
        near = difflib.get_close_matches(str(loc[-1]), field_keys(model), n=1)
        return error(
            source,
            path,
            "unknown key",
            allowed=", ".join(field_keys(model)),
            hint=near[0] if near else None,
        )
    field = model.model_fields[loc[-1]]
    if err["type"] == "missing":
        return error(source, path, "required key is missing", allowed=expect(field))
    if err["type"] in ("literal_error", "string_too_short"):
        msg = err["msg"]
        return error(source, path, msg[:1].lower() + msg[1:], err.get("input"))
    return error(source, path, f"must be {expect(field)}", err.get("input"))
