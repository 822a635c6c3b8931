"""Helpers shared by the hostile-input, data-loss and fault tests: run the CLI (in this process
or as a subprocess with a time and memory limit), check a refusal is one clean line, and
snapshot a folder tree to prove nothing was written or lost."""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
CLASSES = ("data_loss", "non_finite", "dos", "yaml", "names", "bounds", "messages")

# What a message for people must not contain: tracebacks, exception class names, Python
# type names and reprs of Python objects.
FORBIDDEN = [
    re.compile(r"Traceback"),
    re.compile(r"\b[A-Z]\w*(Error|Exception)\b"),
    re.compile(r"\b(dict|list|tuple|set|Union|Optional|Literal)\["),
    re.compile(r"\bpovsim\.[a-z_]+\.[A-Za-z_]"),  # povsim.scenario.Arm, ...
    re.compile(r"<class "),
    re.compile(r"\bdatetime\.(date|datetime)\("),
    re.compile(r"(?:^|[\s(\[=,:])b'[^']*'"),  # bytes reprs
]

# Command-line defaults per command: quick, quiet, no figures.
DEFAULTS = {
    "run": ["-q", "--no-figures"],
    "compare": ["-q", "--no-figures"],
    "sensitivity": ["-q", "--no-figures", "--method", "psa", "-n", "2"],
}


@dataclass
class Case:
    path: Path
    cls: str
    command: str
    args: list[str]
    expect: str
    messages: list[str]
    cli_only: bool
    why: str

    @property
    def id(self) -> str:
        return f"{self.cls}/{self.path.name}"


def read_case(path: Path) -> Case:
    meta: dict[str, list[str]] = {}
    for raw in path.read_bytes().split(b"\n"):
        if not raw.startswith(b"# "):
            break
        key, _, value = raw[2:].decode("utf-8").partition(": ")
        meta.setdefault(key, []).append(value)
    one = lambda k, d="": meta.get(k, [d])[0]  # noqa: E731
    return Case(
        path,
        path.parent.name,
        one("command", "run"),
        shlex.split(one("args")),
        one("expect", "refuse"),
        meta.get("message", []),
        one("cli-only", "false") == "true",
        one("hostile"),
    )


def corpus() -> list[Case]:
    return [read_case(p) for cls in CLASSES for p in sorted((HOSTILE / cls).glob("*.yaml"))]


def stage(case: Case, tmp: Path) -> Path:
    """Copy the case's class folder to ``tmp/tests/hostile/<class>`` (with ``tmp/scenarios``
    linked to the shipped scenarios, so ``extends`` resolves); return the copy's folder."""
    work = tmp / "tests" / "hostile" / case.cls
    shutil.copytree(HOSTILE / case.cls, work, symlinks=True)
    (tmp / "scenarios").symlink_to(REPO / "scenarios", target_is_directory=True)
    return work


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> content hash ("dir" for folders), not following symlinks."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in list(dirnames):
            p = base / d
            if p.is_symlink():
                dirnames.remove(d)
                out[str(p.relative_to(root))] = "link"
            else:
                out[str(p.relative_to(root))] = "dir"
        for f in filenames:
            p = base / f
            rel = str(p.relative_to(root))
            out[rel] = "link" if p.is_symlink() else hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    crash: str | None = None  # an exception that escaped the CLI (in-process runs)
    # RuntimeWarning/UserWarning raised in-process: a real run prints them on stderr
    warned: list[str] = field(default_factory=list)


def run_inprocess(args: list[str], cwd: Path) -> Outcome:
    import warnings

    from click.testing import CliRunner

    from povsim.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            r = CliRunner().invoke(main, args, catch_exceptions=True)
    finally:
        os.chdir(old)
    warned = [
        f"{w.category.__name__}: {w.message}"
        for w in seen
        if issubclass(w.category, (RuntimeWarning, UserWarning))
    ]
    crash = None
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        crash = "".join(traceback.format_exception(r.exception))
    return Outcome(r.exit_code, r.stdout, r.stderr, crash, warned)


def _limits(memory_bytes: int) -> None:
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def run_subprocess(
    args: list[str], cwd: Path, timeout: float = 60, memory_bytes: int = 6 << 30
) -> Outcome:
    """``python -m povsim.cli ARGS`` with a wall-clock and an address-space limit, so a
    denial-of-service input fails the test instead of hanging or swapping the machine."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "povsim.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _limits(memory_bytes),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Outcome(-9, out, err, crash=f"timed out after {timeout} s: {' '.join(args)}")
    return Outcome(proc.returncode, out, err)


def problems_with_refusal(o: Outcome, must: list[str]) -> list[str]:
    """Why ``o`` is not a clean refusal: exit 2, one line on stderr, naming ``must``."""
    bad = []
    if o.crash:
        bad.append(f"crashed: {o.crash[-1500:]}")
    if o.code != 2:
        bad.append(f"exit code {o.code}, not 2")
    if o.warned:
        bad.append(f"warnings would print on stderr too: {o.warned[:2]}")
    lines = [ln for ln in o.stderr.splitlines() if ln.strip()]
    if len(lines) != 1:
        bad.append(f"{len(lines)} lines on stderr, not 1: {o.stderr[-800:]!r}")
    text = " ".join(lines)
    for m in must:
        if m not in text:
            bad.append(f"message lacks {m!r}: {text[:400]!r}")
    for pat in FORBIDDEN:
        if pat.search(text):
            bad.append(f"message shows {pat.pattern!r}: {text[:400]!r}")
    if len(text) > 600:
        bad.append(f"message of {len(text)} characters")
    return bad


def output_arg(args: list[str]) -> str:
    """The value of the last -o/--output in ``args``."""
    value = None
    for i, a in enumerate(args):
        if a in ("-o", "--output") and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--output="):
            value = a.split("=", 1)[1]
    return value or ""
