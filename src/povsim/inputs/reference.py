"""The JSON Schema of scenario and `povsim compare` files (for editors' completion) and the
Markdown reference generated from it (docs/scenario-reference.md, docs/compare-reference.md).

A field's description is its ``Field(description=...)`` or, failing that, the comment the
model's source gives it (trailing on its line or the block just above it), so the reference
says what the code says and is regenerated, not written twice."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

from pydantic import BaseModel

from povsim.inputs import distributions, interventions, investment, schema

KINDS = ("scenario", "compare")
_MODULES = (schema, interventions, distributions, investment)
_FIELD = re.compile(r"^    (\w+): [^=]*?(?:=|$)")
_EXTENDS = {
    "type": "string",
    "description": "Another file (a path relative to this one, or the name of a shipped "
    "scenario such as baseline.yaml) whose keys this file inherits; mappings merge key by key",
}


def _root(kind: str) -> type[BaseModel]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return schema.Scenario if kind == "scenario" else investment.Investment


def _models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for mod in _MODULES:
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj is not BaseModel:
                found.setdefault(name, obj)
    return found


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the source comment on it, through the class's bases."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (inspect.isclass(klass) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for i, line in enumerate(lines):
            stripped = line.strip()
            if line.startswith("    #") and not line.startswith("     "):
                above.append(stripped.lstrip("#").strip())
                continue
            m = _FIELD.match(line)
            if m and not stripped.startswith(("def ", "@", "model_config", "_")):
                text = _trailing(lines, i) or " ".join(above)
                if text:
                    out[m.group(1)] = text
            above = []
    return out


def _trailing(lines: list[str], i: int) -> str:
    """The trailing comment of the statement starting at line ``i`` (its first or last line)."""
    end = i
    if lines[i].rstrip().endswith(("(", "[", "{")):
        while end + 1 < len(lines) and not lines[end + 1].startswith("    )"):
            end += 1
        end += 1
    for j in (i, end):
        if j < len(lines) and "  # " in lines[j]:
            return lines[j].split("  # ", 1)[1].strip()
    return ""


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard_bounds(node: Any) -> None:
    """Pydantic leaves the bounds of a union field (``float | int``) as ``ge``/``le`` beside
    its ``anyOf``, which JSON Schema ignores: move them onto each numeric branch."""
    if isinstance(node, list):
        for item in node:
            _standard_bounds(item)
        return
    if not isinstance(node, dict):
        return
    bounds = {_BOUNDS[k]: node.pop(k) for k in list(node) if k in _BOUNDS}
    if bounds and "anyOf" in node:
        for branch in node["anyOf"]:
            if branch.get("type") in ("number", "integer"):
                branch.update(bounds)
    elif bounds:
        node.update(bounds)
    for value in node.values():
        _standard_bounds(value)


def json_schema(kind: str = "scenario") -> dict[str, Any]:
    """The JSON Schema (2020-12) of a ``kind`` file, with the file-only key ``extends`` and
    without what the loader sets (``source_path``)."""
    root = _root(kind)
    doc = root.model_json_schema()
    _standard_bounds(doc)
    models = _models()
    for name, node in [(root.__name__, doc), *doc.get("$defs", {}).items()]:
        cls = models.get(name)
        notes = _comments(cls) if cls is not None else {}
        for field, prop in node.get("properties", {}).items():
            if "description" not in prop and field in notes:
                prop["description"] = notes[field]
    doc["properties"].pop("source_path", None)
    doc["properties"] = {"extends": _EXTENDS, **doc["properties"]}
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "povsim scenario file" if kind == "scenario" else "povsim compare file"
    return doc


def schema_text(kind: str = "scenario") -> str:
    return json.dumps(json_schema(kind), indent=2, sort_keys=False) + "\n"


# --- Markdown ----------------------------------------------------------------------------------


def _type(p: dict[str, Any]) -> str:
    if "$ref" in p:
        name = p["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "const" in p:
        return f"`{json.dumps(p['const'])}`"
    if "enum" in p:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in p["enum"])
    for key in ("anyOf", "oneOf"):
        if key in p:
            parts = [_type(q) for q in p[key] if q.get("type") != "null"]
            nullable = any(q.get("type") == "null" for q in p[key])
            return " or ".join(dict.fromkeys(parts)) + (" or null" if nullable else "")
    t = p.get("type", "any")
    if t == "array":
        return f"list of {_type(p.get('items', {}))}"
    if t == "object" and isinstance(p.get("additionalProperties"), dict):
        return f"mapping of name to {_type(p['additionalProperties'])}"
    return str(t)


def _range(p: dict[str, Any]) -> str:
    for key in ("anyOf", "oneOf"):
        if key in p:
            return "; ".join(dict.fromkeys(r for r in (_range(q) for q in p[key]) if r))
    bits = []
    lo = ("≥", p["minimum"]) if "minimum" in p else (">", p.get("exclusiveMinimum"))
    hi = ("≤", p["maximum"]) if "maximum" in p else ("<", p.get("exclusiveMaximum"))
    bits += [
        f"{op} {v:,}" if isinstance(v, int) else f"{op} {v:g}"
        for op, v in (lo, hi)
        if v is not None
    ]
    if "minLength" in p or "maxLength" in p:
        lo_len, hi_len = p.get("minLength", 0), p.get("maxLength")
        bits.append(f"length {lo_len}-{hi_len}" if hi_len else f"length ≥ {lo_len}")
    if "pattern" in p:
        bits.append(f"pattern `{p['pattern']}`")
    if "maxProperties" in p:
        bits.append(f"at most {p['maxProperties']} entries")
    if "maxItems" in p:
        bits.append(f"at most {p['maxItems']} items")
    return ", ".join(bits)


def _default(field: str, p: dict[str, Any], required: set[str]) -> str:
    if field in required:
        return "**required**"
    if "default" in p:
        return f"`{json.dumps(p['default'])}`"
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(name: str, node: dict[str, Any]) -> list[str]:
    out = [f"### {name}", ""]
    if node.get("description"):
        out += [" ".join(node["description"].split()), ""]
    required = set(node.get("required", []))
    out += ["| field | type | default | range | description |", "|---|---|---|---|---|"]
    for field, p in node.get("properties", {}).items():
        out.append(
            f"| `{field}` | {_cell(_type(p))} | {_cell(_default(field, p, required))} | "
            f"{_cell(_range(p))} | {_cell(' '.join(p.get('description', '').split()))} |"
        )
    return [*out, ""]


def markdown(kind: str = "scenario") -> str:
    """The reference page of a ``kind`` file: one table per block."""
    doc = json_schema(kind)
    command = "povsim schema --markdown" + ("" if kind == "scenario" else " --kind compare")
    lines = [
        f"# {doc['title'].capitalize()}: reference",
        "",
        f"<!-- Generated by `{command}`; do not edit (tests/test_interface.py checks it). -->",
        "",
        "Every key a file may hold, its type, default, allowed range and meaning, from the "
        "models that validate it. The JSON Schema itself (for editor completion) is "
        f"`povsim schema{'' if kind == 'scenario' else ' --kind compare'}`.",
        "",
        "## Top level",
        "",
        *_table(doc["title"], doc)[2:],
        "## Blocks",
        "",
    ]
    for name, node in doc.get("$defs", {}).items():
        lines += _table(name, node)
    return "\n".join(lines).rstrip() + "\n"
