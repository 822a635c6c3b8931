"""The hostile-input corpus (tests/hostile/, see make_corpus.py): every case through
`povsim validate` and through the command it belongs to. A refused case gives exit 2, one line
on stderr naming the file and the field (or the command-line option), no traceback or Python
type name, and writes and deletes nothing; `validate` and the command agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile_helpers import (
    DEFAULTS,
    Case,
    corpus,
    output_arg,
    problems_with_refusal,
    run_inprocess,
    run_subprocess,
    snapshot,
    stage,
)

CASES = corpus()


def test_corpus_is_there():
    by_class: dict[str, int] = {}
    for c in CASES:
        by_class[c.cls] = by_class.get(c.cls, 0) + 1
    assert len(CASES) >= 150 and len(by_class) == 7, by_class
    assert {c.command for c in CASES} == {"run", "compare", "sensitivity"}


def _invoke(case: Case, args: list[str], cwd: Path):
    # Denial-of-service cases run in a child with a time and memory limit.
    if case.cls == "dos":
        return run_subprocess(args, cwd, timeout=60)
    return run_inprocess(args, cwd)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_case(case: Case, tmp_path: Path):
    work = stage(case, tmp_path)
    before = snapshot(tmp_path)
    name = case.path.name
    problems: list[str] = []

    v = _invoke(case, ["validate", name], work)
    after_validate = snapshot(tmp_path)
    if after_validate != before:
        problems.append(f"validate changed files: {_diff(before, after_validate)}")
    validate_ok = case.expect == "ok" or case.cli_only
    if validate_ok:
        if v.code != 0 or v.crash:
            problems.append(
                f"validate should accept it: exit {v.code} {v.stderr[-600:]!r} "
                f"{(v.crash or '')[-600:]}"
            )
    else:
        problems += [f"validate: {p}" for p in problems_with_refusal(v, [name, *case.messages])]

    args = [case.command, name, *DEFAULTS[case.command], "-o", "out", *case.args]
    c = _invoke(case, args, work)
    after = snapshot(tmp_path)
    if case.expect == "ok":
        if c.code != 0 or c.crash:
            problems.append(
                f"{case.command} should run it: exit {c.code} "
                f"{c.stderr[-600:]!r} {(c.crash or '')[-1500:]}"
            )
        out = os.path.normpath(os.path.join(str(work.relative_to(tmp_path)), output_arg(args)))
        lost = {
            k: h
            for k, h in before.items()
            if not (k == out or k.startswith(out + os.sep)) and after.get(k) != h
        }
        if lost:
            problems.append(
                f"{case.command} changed or removed files it did not write: {sorted(lost)[:5]}"
            )
    else:
        must = case.messages if case.cli_only else [name, *case.messages]
        problems += [f"{case.command}: {p}" for p in problems_with_refusal(c, must)]
        if after != before:
            problems.append(f"{case.command} changed files: {_diff(before, after)}")
    assert not problems, f"{case.id} ({case.why}):\n  " + "\n  ".join(problems)


def _diff(a: dict[str, str], b: dict[str, str]) -> str:
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    return f"added {added[:4]}, removed {removed[:4]}, changed {changed[:4]}"
