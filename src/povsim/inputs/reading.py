"""Reading input files defensively: only regular files of bounded size, UTF-8 with the
position of the first bad byte, and YAML without duplicate keys, alias bombs or deep nesting.

Every problem is an :class:`InputFileError` whose message is one line without the file name;
each reader (scenario loader, composition, targets) puts its own file and field in front.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Scenario and compare files are a few kB; 10 MB is far beyond any real one and small enough
# to parse in a second or two.
MAX_YAML_BYTES = 10 * 1024 * 1024
# A composition of every LSOA (about 33,000 x 2 sexes x 20 age bands) is about 40 MB.
MAX_CSV_BYTES = 50 * 1024 * 1024
# YAML limits: the deepest real scenario nests 7 levels (arms.a.interventions.0.cost.x);
# aliases may repeat blocks (the shipped local scenarios do), but never expand to more values
# than a scenario could sensibly hold.
MAX_YAML_DEPTH = 50
MAX_YAML_VALUES = 200_000


class InputFileError(ValueError):
    """One-line problem with an input file (without the file name)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.field = field  # dotted path inside the file, when known


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def read_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (never a folder, device or pipe,
    which could be endless, e.g. /dev/zero)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFileError("file not found") from None
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError("is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(
            "not a regular file (a device, pipe or socket, which may never end); "
            "allowed a file on disk"
        )
    if st.st_size > limit:
        raise InputFileError(
            f"file of {_megabytes(st.st_size)} is larger than the {_megabytes(limit)} allowed "
            "for this kind of input"
        )
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:  # grew while we looked
        raise InputFileError(f"file is larger than the {_megabytes(limit)} allowed")
    return data


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def decode_utf8(data: bytes, allow_nul: bool = False) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); bad bytes and NUL characters are
    reported with their line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        bad = data[exc.start + bom : exc.start + bom + 1]
        raise InputFileError(
            f"byte 0x{bad.hex()} at {_position(data, exc.start + bom)} cannot be decoded; "
            "expected UTF-8 text (save the file as UTF-8)"
        ) from None
    if not allow_nul and "\x00" in text:
        offset = len(text[: text.index("\x00")].encode("utf-8"))
        raise InputFileError(f"NUL character at {_position(data, offset)}; expected UTF-8 text")
    return text


def read_text(path: str | os.PathLike, limit: int) -> str:
    """Bounded, regular, UTF-8 text file (see :func:`read_bytes`, :func:`decode_utf8`)."""
    return decode_utf8(read_bytes(path, limit))


# --- YAML -------------------------------------------------------------------------------------


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and documents nested deeper than
    :data:`MAX_YAML_DEPTH` (the composer recurses once per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._root: Node | None = None

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_YAML_DEPTH} levels deep; allowed at most "
                    f"{MAX_YAML_DEPTH} levels of nesting",
                    mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: Node) -> Any:
        self._root = node
        return super().construct_document(node)

    def construct_mapping(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found a list or mapping as a key",
                        key_node.start_mark,
                    ) from None
                if key in seen:
                    where = _path_to(self._root, node)
                    path = ".".join([*where, str(key)])
                    raise InputFileError(
                        f"duplicate key at line {key_node.start_mark.line + 1} (first at line "
                        f"{seen[key]}); allowed each key once",
                        field=path,
                    )
                seen[key] = key_node.start_mark.line + 1
        assert isinstance(node, yaml.MappingNode)  # flatten_mapping above needs one too
        return super().construct_mapping(node, deep=deep)


def _path_to(root: Node | None, target: Node) -> list[str]:
    """Keys and indices from ``root`` to ``target`` (for messages; [] if not found)."""
    stack: list[tuple[Node, list[str]]] = [(root, [])] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                label = k.value if isinstance(k, ScalarNode) else "?"
                stack.append((v, [*path, str(label)]))
        elif isinstance(node, SequenceNode):
            stack.extend((v, [*path, str(i)]) for i, v in enumerate(node.value))
    return []


def _expanded_size(root: Node) -> int:
    """Number of values the document has once every alias is expanded (aliases share nodes,
    so a few lines can stand for billions of values); a node that contains itself is an
    error."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise InputFileError(
                f"an alias at line {node.start_mark.line + 1} refers to the list or mapping "
                "that contains it (a structure without end); allowed aliases of complete blocks"
            )
        active.add(key)
        n = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                n += size(child)
                if n > MAX_YAML_VALUES:
                    break
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                n += size(k) + size(v)
                if n > MAX_YAML_VALUES:
                    break
        active.discard(key)
        sizes[key] = n
        return n

    return size(root)


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely; problems are :class:`InputFileError` (with line and
    column where YAML gives them)."""
    try:
        loader = _GuardedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputFileError(
            f"invalid YAML at line {line}, column {column}: character #x{exc.character:04x} "
            "is not allowed (a control character)"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_YAML_VALUES:
            raise InputFileError(
                f"aliases expand the document to more than {MAX_YAML_VALUES:,} values (an "
                f"'alias bomb'?); allowed at most {MAX_YAML_VALUES:,} values"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = getattr(exc, "problem", None) or getattr(exc, "context", None) or exc
        raise InputFileError(f"invalid YAML{where}: {why}") from None
    except RecursionError:  # belt and braces: the depth limit should come first
        raise InputFileError(
            f"nested too deeply; allowed at most {MAX_YAML_DEPTH} levels of nesting"
        ) from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, limit: int = MAX_YAML_BYTES) -> Any:
    """A bounded, regular, UTF-8 YAML file, parsed by :func:`load_yaml`."""
    return load_yaml(read_text(path, limit))
