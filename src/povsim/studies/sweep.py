"""Run many independent model evaluations in batches, checkpointed, on a local pool or Dask.

A sweep evaluates a model (anything with ``token``, ``output_names`` and
``evaluate(rows) -> outputs``, e.g. :class:`povsim.studies.sample_model.ScenarioModel` or
:class:`FunctionModel`) on every row of a design matrix. Rows are cut into fixed batches that
do not depend on the number of workers; each finished batch is written to the checkpoint
folder (temporary name, then ``os.replace``), so a sweep that is killed and started again with
the same command loads the finished batches and runs only the rest. A ``manifest.json`` in
the folder holds a fingerprint of the command (scenario, method, N, seed, size, design); a
restart with a different command is refused instead of mixing results.

Executors: ``workers == 1`` evaluates in this process (no set-up); ``workers > 1`` a local
process pool (spawned workers, each with one Numba thread, each keeping its model and caches
for the whole sweep); ``client`` a Dask distributed client (e.g. ``Client("tcp://host:8786")``
or a ``LocalCluster``'s). Each row's outputs depend only on the row, so results are identical
whatever the executor and the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class SweepError(Exception):
    """A sweep cannot start or continue (one line, for the CLI)."""


class Model(Protocol):
    token: str
    output_names: list[str]

    def evaluate(self, rows: np.ndarray) -> np.ndarray: ...


@dataclass
class FunctionModel:
    """A plain function of a (n, D) array -> (n,) or (n, K) outputs, as a sweep model (the
    test functions use it; it must be importable by workers, e.g. SALib's Ishigami)."""

    fn: Callable[[np.ndarray], np.ndarray]
    output_names: list[str]
    token: str = "function"
    log: str | None = None  # optional file: one line per evaluated row (tests count them)

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        y = np.asarray(self.fn(np.atleast_2d(rows)), float)
        if self.log:
            with open(self.log, "a") as f:
                f.write("".join(f"{r[0]!r}\n" for r in np.atleast_2d(rows)))
        return y.reshape(len(y), -1)


@dataclass
class SweepResult:
    outputs: np.ndarray  # (n_rows, n_outputs)
    ran_rows: int  # rows evaluated by this call (not loaded from checkpoints)
    ran_batches: int
    loaded_batches: int
    seconds: float
    corrupt: list[str] = field(default_factory=list)  # checkpoint files unreadable, rerun


# --- worker side -------------------------------------------------------------------------

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def _init_worker(threads: int | None) -> None:
    """Pool initialiser: Numba threads per worker (1 when several workers share the cores)."""
    if threads:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def evaluate_batch(
    model: Any, start: int, rows: np.ndarray, threads: int | None = None
) -> tuple[int, np.ndarray]:
    """Evaluate one batch in a worker, reusing that worker's copy of the model (and so its
    caches) across batches of the same sweep."""
    if threads:
        _init_worker(threads)  # thread-local in Numba: set it in the thread that runs
    with _MODELS_LOCK:
        held = _MODELS.get(model.token)
        if held is None:
            _MODELS.clear()  # one sweep at a time per worker: drop other sweeps' caches
            _MODELS[model.token] = held = model
    return start, held.evaluate(rows)


# --- checkpoints -------------------------------------------------------------------------


def fingerprint(parts: dict[str, Any]) -> str:
    """Hash of what defines a sweep (JSON-able parts), for the checkpoint manifest."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _batch_path(directory: Path, start: int) -> Path:
    return directory / f"batch-{start:09d}.npy"


def _open_checkpoints(directory: Path, key: str, described: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    man = directory / "manifest.json"
    if man.exists():
        try:
            old = json.loads(man.read_text()).get("fingerprint")
        except (OSError, ValueError):
            old = None
        if old != key:
            raise SweepError(
                f"{directory}: checkpoints of a different sweep (the scenario or a file it "
                f"names, method, N, seed or size differ); remove the folder or choose another -o"
            )
        return
    _atomic_write(
        man,
        lambda p: p.write_text(
            json.dumps({"fingerprint": key, **described}, indent=2, default=str)
        ),
    )


# --- driver ------------------------------------------------------------------------------


def run_sweep(
    model: Any,
    rows: np.ndarray,
    batch_rows: int,
    checkpoint_dir: Path | None,
    key: str = "",
    described: dict[str, Any] | None = None,
    workers: int = 1,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SweepResult:
    """Evaluate ``model`` on every row of ``rows`` (n, D) in batches of ``batch_rows``.

    ``checkpoint_dir`` (None: no checkpoints) keeps one file per finished batch;
    ``key`` (see :func:`fingerprint`) must match the folder's manifest. ``progress(done,
    total)`` counts rows; ``on_batch(n_finished_this_call)`` is called after each batch is
    saved (tests use it to interrupt a sweep).
    """
    t0 = time.perf_counter()
    rows = np.asarray(rows, float)
    n = len(rows)
    k = len(model.output_names)
    out = np.full((n, k), np.nan)
    starts = list(range(0, n, batch_rows))
    todo = []
    loaded = 0
    corrupt: list[str] = []
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        _open_checkpoints(checkpoint_dir, key, described or {})
    for s in starts:
        e = min(s + batch_rows, n)
        p = _batch_path(checkpoint_dir, s) if checkpoint_dir is not None else None
        if p is not None and p.exists():
            y = _load_batch(p)
            if y is not None and y.shape == (e - s, k):
                out[s:e] = y
                loaded += 1
                continue
            corrupt.append(str(p))  # cut short (a full disk, a copy) or not ours: run again
        todo.append(s)
    done_rows = loaded_rows = n - sum(min(s + batch_rows, n) - s for s in todo)
    if progress:
        progress(done_rows, n)
    finished = 0

    def save(s: int, y: np.ndarray) -> None:
        nonlocal done_rows, finished
        e = min(s + batch_rows, n)
        y = np.asarray(y, float).reshape(e - s, k)
        out[s:e] = y
        if checkpoint_dir is not None:
            _atomic_write(_batch_path(checkpoint_dir, s), lambda p: _save_npy(p, y))
        done_rows += e - s
        finished += 1
        if progress:
            progress(done_rows, n)
        if on_batch:
            on_batch(finished)

    if client is not None:
        _run_dask(client, model, rows, todo, batch_rows, save)
    elif workers <= 1:
        for s in todo:  # in this process: the model object keeps its own caches
            save(s, model.evaluate(rows[s : s + batch_rows]))
    else:
        _run_pool(workers, model, rows, todo, batch_rows, save)
    return SweepResult(
        out,
        ran_rows=done_rows - loaded_rows,
        ran_batches=finished,
        loaded_batches=loaded,
        seconds=time.perf_counter() - t0,
        corrupt=corrupt,
    )


def _load_batch(path: Path) -> np.ndarray | None:
    """A checkpointed batch, or None when the file cannot be read as one."""
    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return y if isinstance(y, np.ndarray) and y.dtype == float else None


def _save_npy(path: Path, y: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, y)


def _run_pool(
    workers: int,
    model: Any,
    rows: np.ndarray,
    todo: list[int],
    batch_rows: int,
    save: Callable[[int, np.ndarray], None],
) -> None:
    import multiprocessing as mp

    # spawn: a forked child would inherit Numba's thread pool state; each worker imports
    # povsim once and keeps its model for the whole sweep.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(1,),
    ) as pool:
        pending: set[Any] = set()
        queue = list(todo)
        try:
            # Keep at most two batches per worker in flight so an interrupt loses little.
            while queue or pending:
                while queue and len(pending) < 2 * workers:
                    s = queue.pop(0)
                    pending.add(pool.submit(evaluate_batch, model, s, rows[s : s + batch_rows], 1))
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=lambda f: f.result()[0]):
                    save(*f.result())
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _run_dask(
    client: Any,
    model: Any,
    rows: np.ndarray,
    todo: list[int],
    batch_rows: int,
    save: Callable[[int, np.ndarray], None],
) -> None:
    from distributed import as_completed

    futures = [
        client.submit(evaluate_batch, model, s, rows[s : s + batch_rows], 1, pure=False)
        for s in todo
    ]
    try:
        for fut in as_completed(futures):
            save(*fut.result())
    except BaseException:
        client.cancel(futures)
        raise


def dask_client(address: str) -> Any:
    """Connect to an existing Dask scheduler (one-line SweepError if it cannot)."""
    try:
        from distributed import Client
    except ImportError:
        raise SweepError(
            "--scheduler needs dask[distributed]: pip install 'povsim[dask]'"
        ) from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(
            f"--scheduler {address}: cannot connect ({exc.__class__.__name__}: {exc})"
        ) from None
