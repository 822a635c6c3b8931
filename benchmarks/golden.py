"""Golden outputs: prove a refactor changes no number.

Runs every shipped scenario (``povsim run``), both budget questions (``povsim compare``) and a
small Sobol and PSA sweep (``povsim sensitivity``) end to end through the CLI at a small size,
and records a SHA-256 of every numeric table they write (CSV files and ``summary.json`` without
timings). ``--write FILE`` stores the digests; ``--check FILE`` reruns and lists every file whose
digest differs. A refactor that claims to be bit-identical must pass ``--check`` against digests
written before it.

    python benchmarks/golden.py --write benchmarks/results/golden-before.json
    python benchmarks/golden.py --check benchmarks/results/golden-before.json

Takes about 3 minutes on 2 cores. Digests depend on the machine's floating point (numpy and
numba versions), so compare digests made on the same machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"

RUNS = [  # (scenario, size) for povsim run
    ("baseline.yaml", 4000),
    ("stop_smoking_core20.yaml", 4000),
    ("warm_homes_core20.yaml", 4000),
    ("income_support_families.yaml", 4000),
    ("hypertension_case_finding.yaml", 4000),
    ("community_social_prescribing.yaml", 4000),
    ("proportionate_package.yaml", 4000),
    ("local_urban_deprived.yaml", 4000),
    ("local_rural_affluent.yaml", 4000),
]
COMPARES = [("invest_10m.yaml", 2000), ("invest_local_urban.yaml", 2000)]
SWEEPS = [  # (scenario, method, n, size)
    ("warm_homes_core20.yaml", "sobol", 4, 1000),
    ("warm_homes_core20.yaml", "psa", 8, 1000),
]
# Keys of summary.json / manifest that are timings or paths, not results.
VOLATILE = {
    "timings",
    "elapsed_s",
    "created",
    "date",
    "seconds",
    "runs_per_s",
    "output",
    "path",
    "composition",  # an absolute path to the input file: differs between checkouts
}


def _scrub(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def _digest(path: Path) -> str:
    if path.suffix == ".json":
        data = _scrub(json.loads(path.read_text()))
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _povsim(*args: str) -> None:
    cmd = [sys.executable, "-m", "povsim.cli", *args, "-q", "--no-figures"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stdout}\n{done.stderr}")


def collect() -> dict[str, str]:
    """Run every command into a temporary folder; digest of each output table by name."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs: list[tuple[str, list[str]]] = []
        for scen, size in RUNS:
            jobs.append((f"run/{scen}", ["run", str(SCEN / scen), "--size", str(size)]))
        for scen, size in COMPARES:
            jobs.append(
                (
                    f"compare/{scen}",
                    ["compare", str(SCEN / scen), "--size", str(size), "--replicates", "1"],
                )
            )
        for scen, method, n, size in SWEEPS:
            jobs.append(
                (
                    f"sensitivity-{method}/{scen}",
                    [
                        "sensitivity",
                        str(SCEN / scen),
                        "--method",
                        method,
                        "-n",
                        str(n),
                        "--size",
                        str(size),
                        "--resamples",
                        "50",
                    ],
                )
            )
        for i, (name, args) in enumerate(jobs):
            dest = Path(tmp) / f"job{i}"
            print(f"[{i + 1}/{len(jobs)}] {name}", flush=True)
            _povsim(*args, "-o", str(dest))
            for f in sorted(dest.rglob("*")):
                if f.suffix in (".csv", ".json") and f.name != "manifest.json":
                    out[f"{name}/{f.relative_to(dest)}"] = _digest(f)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path)
    g.add_argument("--check", type=Path)
    args = ap.parse_args()
    digests = collect()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(digests, indent=1, sort_keys=True))
        print(f"{len(digests)} digests written to {args.write}")
        return
    before = json.loads(args.check.read_text())
    changed = sorted(k for k in before.keys() | digests.keys() if before.get(k) != digests.get(k))
    for k in changed:
        print(f"DIFFERS: {k}")
    print(f"{len(before) - len(changed)} of {len(before)} outputs identical")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
