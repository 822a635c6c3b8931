"""One-line errors for every input file: ``<file>: <field.path>: <problem>; got <value>;
allowed <what> (did you mean `x`?)``, and the translation of pydantic's errors into them."""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

OWN = "povsim_scenario"  # pydantic error type for errors we word ourselves
Number = float | int  # numeric fields accept YAML integers and floats
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # names that become folder and file names
# strict=True: YAML `true` must not pass as the integer 1, nor "5" as 5.
# allow_inf_nan=False: .nan and .inf are never a meaningful count, rate, cost or year.
CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

# Upper bounds (each far above any real value, low enough that sums and products of them
# stay finite in float64 and that a typo of a few zeros is caught):
MAX_PERSONS = 100_000_000  # persons a year (capacity): more than the UK's 67 million
MAX_MONEY = 1e12  # GBP a year: more than all UK public spending (about GBP 1.2 trillion)
MAX_UNIT_COST = 10_000_000  # GBP per participant-year: no public programme costs more
MAX_INCOME_EFFECT = 1_000_000  # GBP a year per household: over 30x the median income
MAX_WEIGHT = 1e6  # relative weights and shares: ratios beyond a million are not targeting
MAX_ARMS = 50  # each arm is a full simulation of the population
MAX_INTERVENTIONS = 100  # per arm; each is a pass over the population every year
MAX_UNCERTAIN = 100  # uncertain inputs: Sobol runs grow as N(2D+2)


def is_name(text: Any, pattern: str = NAME_PATTERN) -> bool:
    """A whole-string match (``re.match`` with ``$`` would accept a trailing newline)."""
    return isinstance(text, str) and re.fullmatch(pattern.strip("^$"), text) is not None


class ScenarioError(Exception):
    """One-line message: '<file>: <field.path>: <problem>; got <value>; allowed <what>'
    (+ ' (did you mean `x`?)' for unknown keys)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # guarantee a single line


class DeprecatedSyntax(FutureWarning):
    """An old way of writing something that is still accepted (with this warning) and will be
    removed; the message says what to write instead. A FutureWarning, so Python shows it to
    the people who write the files, not only to developers."""


def own(
    path: str, problem: str, got: Any = ..., allowed: str | None = None, hint: str | None = None
) -> NoReturn:
    """Raise a pydantic error that carries our own wording (and a deeper path)."""
    raise PydanticCustomError(
        OWN,
        problem,
        {"path": path, "problem": problem, "got": got, "allowed": allowed, "hint": hint},
    )


def show(value: Any) -> str:
    """A short YAML-flavoured rendering of a user value (never a Python repr of an object)."""
    text = _yamlish(value, 80)
    return text if len(text) <= 60 else text[:57] + "..."


def _yamlish(value: Any, budget: int) -> str:
    """YAML-like text of ``value``, cut once it is longer than ``budget`` characters."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an integer of {len(str(value))} digits"
    if isinstance(value, str):
        return repr(value[: budget + 2])
    if isinstance(value, (bytes, bytearray)):
        return f"binary data ({len(value)} bytes)"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        items = value.items() if isinstance(value, dict) else value
        open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
        parts: list[str] = []
        used = 2
        for item in items:
            if used > budget:
                parts.append("...")
                break
            text = (
                f"{_yamlish(item[0], budget - used)}: {_yamlish(item[1], budget - used)}"
                if isinstance(value, dict)
                else _yamlish(item, budget - used)
            )
            parts.append(text)
            used += len(text) + 2
        return open_ + ", ".join(parts) + close
    return f"a value of type {type(value).__name__}"


def _short_path(path: str) -> str:
    """A field path for a message: long keys (a 5,000-character typo) cut to fit a line."""
    parts = [
        repr(p)
        if any(ch < " " or ch == "\x7f" for ch in p)  # a newline in a key: show it
        else p
        if len(p) <= 40
        else p[:30] + f"...({len(p)} characters)"
        for p in path.split(".")
    ]
    text = ".".join(parts)
    return text if len(text) <= 160 else text[:150] + "..."


def error(
    source: str,
    path: str | None,
    problem: str,
    got: Any = ...,
    allowed: str | None = None,
    hint: str | None = None,
) -> ScenarioError:
    msg = f"{source}: {_short_path(path)}: {problem}" if path else f"{source}: {problem}"
    msg += (f"; got {show(got)}" if got is not ... else "") + (
        f"; allowed {allowed}" if allowed else ""
    )
    return ScenarioError(msg + (f" (did you mean `{hint}`?)" if hint else ""))


def field_keys(model: type[BaseModel]) -> list[str]:
    keys = [k for k in model.model_fields if k != "source_path"]
    # Top-level file models (they have source_path) may also say `extends`.
    return keys + ["extends"] if "source_path" in model.model_fields else keys


def expect(field: Any) -> str:
    """Human description of what a field accepts: its ``allowed`` wording where the type and
    bounds cannot say it (a name pattern, say), else derived from its type and bounds. (Not its
    ``description``, which says what the field means, for the reference.)"""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("allowed"), str):
        return extra["allowed"]
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys " + ", ".join(field_keys(ann))
    if ann is bool:
        return "true or false"
    if ann is int or ann == Number or ann == (Number | None):
        ge = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        gt = next((m.gt for m in field.metadata if hasattr(m, "gt")), None)
        hi = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        hi = next((m.lt - 1 for m in field.metadata if hasattr(m, "lt")), hi)
        kind = "an integer" if ann is int else "a number"
        if ge is not None and hi is not None:
            return f"{kind} between {_num(ge)} and {_num(hi)}"
        if gt is not None and hi is not None:
            return f"{kind} more than {_num(gt)} and at most {_num(hi)}"
        if ge is not None:
            return f"{kind} >= {_num(ge)}"
        if gt is not None:
            return f"{kind} more than {_num(gt)}"
        return kind
    return describe(ann)


def _num(x: Any) -> str:
    """A bound for people: 1000000000000.0 -> 1000000000000."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e18:
        x = int(x)
    return str(x)


def describe(ann: Any) -> str:
    """What a type annotation accepts, in words (no Python type names)."""
    origin, args = get_origin(ann), get_args(ann)
    if ann is type(None):
        return "null"
    if origin is Annotated:
        members = union_members(ann)
        if members:
            return "a mapping with a `type` (" + ", ".join(members) + ")"
        return describe(args[0])
    if origin in (Union, UnionType):
        kinds = [a for a in args if a is not type(None)]
        if set(kinds) == {float, int}:
            return "a number"
        return " or ".join(dict.fromkeys(describe(a) for a in kinds))
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is dict:
        return f"a mapping of names to {_plural(describe(args[1]))}" if args else "a mapping"
    if origin is list:
        return f"a list of {_plural(describe(args[0]))}" if args else "a list"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys " + ", ".join(field_keys(ann))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        ann, "a value"
    )


def _plural(text: str) -> str:
    """'a number' -> 'numbers', 'a mapping with keys x' -> 'mappings with keys x'."""
    for article in ("a ", "an "):
        if text.startswith(article):
            head, _, rest = text[len(article) :].partition(" ")
            return f"{head}s {rest}".strip()
    return text


# Why a list or mapping may not be longer (said in the message when it is).
LIMIT_REASONS = {
    "arms": "each arm is a full simulation of the population",
    "interventions": "each intervention is a pass over the population every year",
    "uncertainty": "Sobol runs grow as N(2D+2) with D uncertain inputs",
    "strategies": "each strategy is simulated",
    "levers": "each lever is simulated at every budget level and quintile",
    "levels": "each level is simulated for every lever and quintile",
}

# pydantic adds the member of a union it tried to a location: (..., 'weights', 0, 'float').
_UNION_TAG = re.compile(r"^(float|int|str|bool|none|(list|dict|function-\w+)\[.*\])$")


def _strip_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(loc)
    while len(out) > 1 and isinstance(out[-1], str) and _UNION_TAG.match(out[-1]):
        out.pop()
    return tuple(out)


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


def translate(err: Mapping[str, Any], source: str, root: type[BaseModel]) -> ScenarioError:
    """Turn pydantic's first error into our one-line wording."""
    model, loc = model_at(_strip_union_tags(tuple(err["loc"])), root)
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
    if err["type"] == "finite_number":
        return error(source, path, "must be a finite number (not .nan or .inf)", err.get("input"))
    if err["type"] == "too_long" and loc:
        ctx = err.get("ctx") or {}
        why = LIMIT_REASONS.get(str(loc[-1]))
        return error(
            source,
            path,
            f"too many entries ({ctx.get('actual_length', '?')})" + (f": {why}" if why else ""),
            allowed=f"at most {ctx.get('max_length', '?')}",
        )
    if not loc:
        msg = err["msg"]
        return error(source, None, msg[:1].lower() + msg[1:], err.get("input"))
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
        # A typo of a required key shows up as "missing" first: name the key written.
        given = err.get("input")
        if isinstance(given, dict):
            unknown = [k for k in given if isinstance(k, str) and k not in model.model_fields]
            near = difflib.get_close_matches(str(loc[-1]), unknown, n=1, cutoff=0.6)
            if near:
                where = ".".join([*(str(p) for p in loc[:-1]), near[0]])
                return error(
                    source,
                    where,
                    f"unknown key, and the required key `{loc[-1]}` is missing",
                    allowed=", ".join(field_keys(model)),
                    hint=str(loc[-1]),
                )
        return error(source, path, "required key is missing", allowed=expect(field))
    if err["type"] in ("literal_error", "string_too_short"):
        msg = err["msg"]
        return error(source, path, msg[:1].lower() + msg[1:], err.get("input"))
    return error(source, path, f"must be {expect(field)}", err.get("input"))
