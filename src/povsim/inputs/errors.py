"""One-line errors for every input file: ``<file>: <field.path>: <problem>; got <value>;
allowed <what> (did you mean `x`?)``, and the translation of pydantic's errors into them."""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

OWN = "povsim_scenario"  # pydantic error type for errors we word ourselves
Number = float | int  # numeric fields accept YAML integers and floats
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # names that become folder and file names
# strict=True: YAML `true` must not pass as the integer 1, nor "5" as 5.
CONFIG = ConfigDict(extra="forbid", strict=True)


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


def union_members(ann: Any) -> dict[str, type[BaseModel]] | None:
    """Members by tag of a discriminated-union annotation (``Annotated[A | B,
    Field(discriminator=...)]``, e.g. the intervention types), else None."""
    if get_origin(ann) is not Annotated:
        return None
    inner, *meta = get_args(ann)
    disc = next((m.discriminator for m in meta if getattr(m, "discriminator", None)), None)
    if not isinstance(disc, str):
        return None
    return {get_args(m.model_fields[disc].annotation)[0]: m for m in get_args(inner)}


def model_at(
    loc: tuple[Any, ...], root: type[BaseModel], into_last: bool = False
) -> tuple[Any, tuple[Any, ...]]:
    """The pydantic model (or None) that owns the last key of ``loc``, walking through
    nested models, ``dict[str, Model]``, ``list[Model]`` and discriminated unions; and
    ``loc`` without the union tags pydantic inserts into it (``interventions.0.housing.effect``
    is the file's ``interventions.0.effect``). ``into_last``: the annotation of the value at
    ``loc`` itself (a model, a union, ...) instead of its owner."""
    ann: Any = root
    clean: list[Any] = []
    for i, part in enumerate(loc):
        members = union_members(ann)
        if members is not None:
            ann = members.get(part)  # pydantic's tag (the block's type), not a key
            continue
        clean.append(part)
        if i == len(loc) - 1 and not into_last:
            break
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(part)
            ann = field.annotation if field else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        elif get_origin(ann) is list:
            ann = get_args(ann)[0]
        else:
            return None, (*clean, *loc[i + 1 :])
        while get_origin(ann) in (Union, UnionType):  # Optional[Model] -> Model
            ann = next((a for a in get_args(ann) if a is not type(None)), None)
    if into_last:
        return ann, tuple(clean)
    model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model, tuple(clean)


def translate(err: dict[str, Any], source: str, root: type[BaseModel]) -> ScenarioError:
    """Turn pydantic's first error into our one-line wording."""
    model, loc = model_at(tuple(err["loc"]), root)
    path = ".".join(str(part) for part in loc)
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # A block of a tagged union (an intervention) without a known `type`: name the key.
        key = err["ctx"]["discriminator"].strip("'")
        tags = list(union_members(model_at(tuple(err["loc"]), root, into_last=True)[0]) or [])
        where = f"{path}.{key}" if path else key
        if err["type"] == "union_tag_not_found":
            return error(source, where, "required key is missing", allowed=", ".join(tags))
        listed = ", ".join(repr(t) for t in tags[:-1]) + f" or {tags[-1]!r}"
        given = err["input"].get(key) if isinstance(err["input"], dict) else err["ctx"]["tag"]
        return error(source, where, f"input should be {listed}", given)
    if err["type"] == OWN:
        ctx = err["ctx"]
        own = ctx["path"]
        # Validators of nested models word paths relative to their model.
        full = path if not own else own if not path or own.startswith(path) else f"{path}.{own}"
        return error(source, full, ctx["problem"], ctx["got"], ctx["allowed"], ctx["hint"])
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
