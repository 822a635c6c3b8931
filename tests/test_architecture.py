"""The package's shape, as tested facts: layers in order, no import cycles, no private names
imported across modules. (`lint-imports` checks the layer contract too; this test keeps the
rule in the README's test command and adds the two checks import-linter does not make.)"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "povsim"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, str, int]]]:
    """module -> [(imported povsim module, imported name or '', line)], every import in the
    file, function-local ones included (they hid the old cycles)."""
    modules = {_module(p) for p in SRC.rglob("*.py")}
    out: dict[str, list[tuple[str, str, int]]] = {}
    for path in SRC.rglob("*.py"):
        mod = _module(path)
        found = out.setdefault(mod, [])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if not node.module.startswith("povsim"):
                    continue
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    target = sub if sub in modules else node.module
                    found.append((target, a.name, node.lineno))
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{mod}:{node.lineno}: use absolute povsim imports")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("povsim"):
                        found.append((a.name, "", node.lineno))
    return out


def _layers() -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return list(reversed(contract["layers"]))  # first = lowest (imported by all others)


def _layer_of(module: str, layers: list[str]) -> int | None:
    for i, layer in enumerate(layers):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def test_each_layer_imports_only_the_layers_before_it():
    layers = _layers()
    assert layers[0] == "povsim.inputs" and layers[-1] == "povsim.cli"
    bad = []
    for mod, imps in _imports().items():
        mine = _layer_of(mod, layers)
        for target, _, line in imps:
            theirs = _layer_of(target, layers)
            if mine is not None and theirs is not None and theirs > mine:
                bad.append(f"{mod}:{line} imports {target}")
    assert not bad, "layer order broken:\n" + "\n".join(bad)


def test_no_import_cycles_between_modules():
    # The root package is the public facade: it imports its API lazily (inside __getattr__)
    # and everyone may read povsim.__version__ from it, so it is not a node here.
    graph = {
        m: {t for t, _, _ in imps if t not in (m, "povsim")}
        for m, imps in _imports().items()
        if m != "povsim"
    }
    # Tarjan's strongly connected components: any component of size > 1 is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue  # a package __init__ attribute such as povsim.__version__
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_names_imported_across_modules():
    bad = [
        f"{mod}:{line} imports {name} from {target}"
        for mod, imps in _imports().items()
        for target, name, line in imps
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not bad, "\n".join(bad)


def test_the_engine_uses_neither_pandas_nor_pydantic():
    for path in (SRC / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for n in names:
                assert n.split(".")[0] not in ("pandas", "pydantic"), f"{path.name}: {n}"
