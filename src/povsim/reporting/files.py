"""Writing output folders safely: atomic replacement, never a user's files, strict JSON.

Everything is written into a hidden sibling folder (``.<name>.partial-<pid>``) first and put
in place at the end in one step, so an interrupted or failed command never leaves a
half-written output folder. An existing folder is replaced only if povsim wrote it (its
``manifest.json`` says so) or it is empty: a folder with anyone else's files, the folder the
user works in, or one that holds an input of the run is refused before anything is computed
(:func:`check_output_folder`). Partial folders left by processes that died (SIGKILL, power
loss) are removed by the next write to the same place.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

WRITTEN_BY = {"written_by": "povsim"}  # first key of every manifest.json povsim writes
_MAX_MANIFEST_BYTES = 50 * 1024 * 1024


class OutputFolderError(ValueError):
    """An output folder povsim must not replace (one line, for the CLI: exit 2)."""


def json_safe(x: Any) -> Any:
    """NaN and infinities -> null, so summary.json is strict JSON."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalars
        return json_safe(x.item())
    return x


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` marked as povsim's (so a later run may replace its folder)."""
    Path(path).write_text(json.dumps({**WRITTEN_BY, **manifest}, indent=2, default=str))


def is_povsim_folder(folder: Path) -> bool:
    """Whether povsim wrote ``folder``: its manifest.json says ``written_by: povsim``, or has
    the ``povsim_version``/``version`` and ``scenario`` keys of manifests from before that."""
    man = Path(folder) / "manifest.json"
    try:
        if not man.is_file() or man.stat().st_size > _MAX_MANIFEST_BYTES:
            return False
        doc = json.loads(man.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    return doc.get("written_by") == "povsim" or (
        ("povsim_version" in doc or "version" in doc) and "scenario" in doc
    )


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_folder(out: Path, inputs: Iterable[str | Path] = (), option: str = "-o") -> None:
    """Refuse (:class:`OutputFolderError`) an output folder that povsim may not replace: the
    working folder or one above it, a folder that holds an input file of the run, a file, or
    a folder with files povsim did not write. Empty and povsim-written folders are fine."""
    given = str(out)
    real = os.path.realpath(out)
    why_whole = "povsim replaces the whole output folder"
    allowed = "allowed a new or empty folder, or one povsim wrote (its manifest.json says so)"
    if _within(os.path.realpath(os.getcwd()), real):
        raise OutputFolderError(
            f"{option} {given}: is the folder you are working in (or holds it); {why_whole}, "
            f"so it refuses; allowed a folder of its own, e.g. {option} results"
        )
    for f in inputs:
        if f and _within(os.path.realpath(f), real):
            raise OutputFolderError(
                f"{option} {given}: holds {f}, an input of this run; {why_whole} and never "
                f"deletes its inputs; allowed a folder of its own"
            )
    if not os.path.lexists(out):
        return
    if not os.path.isdir(out):
        raise OutputFolderError(f"{option} {given}: is a file, not a folder; {allowed}")
    try:
        entries = sorted(os.listdir(out))
    except OSError as exc:
        raise OutputFolderError(f"{option} {given}: cannot list it: {exc.strerror}") from None
    if entries and not is_povsim_folder(Path(out)):
        raise OutputFolderError(
            f"{option} {given}: holds files povsim did not write (e.g. {entries[0]}); "
            f"{why_whole}, so it refuses; {allowed}"
        )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return True
    return True


def clean_stale(out_dir: Path) -> None:
    """Remove ``.<name>.partial-<pid>`` folders beside ``out_dir`` whose process is dead, and
    put back ``.<name>.old-<pid>`` (the previous results) if a process died between moving
    them aside and moving the new ones in; folders of live processes are left alone."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(partial|old)-(\d+)$")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if not m or _pid_alive(int(m.group(2))):
            continue
        path = parent / name
        if path.is_symlink() or not path.is_dir():
            continue
        if m.group(1) == "old" and not os.path.lexists(out_dir):
            os.rename(path, out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where it is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


@contextmanager
def atomic_dir(out_dir: Path, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir`` in one
    step (only if povsim may: see :func:`check_output_folder`), on any error or interrupt it
    is removed and ``out_dir`` is left as it was."""
    out_dir = Path(os.path.abspath(out_dir))
    inputs = list(inputs)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out_dir)
    check_output_folder(out_dir, inputs, option="output folder")
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if not (tmp / "manifest.json").exists():
            write_manifest(tmp / "manifest.json", {})
        check_output_folder(out_dir, inputs, option="output folder")  # it may have changed
        if os.path.lexists(out_dir) and _exchange(tmp, out_dir):
            shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous results
            return
        old = None
        if os.path.lexists(out_dir):
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
