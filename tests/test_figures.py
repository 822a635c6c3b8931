"""Figures follow the data: no outcome is silently dropped by a fixed grid."""

from __future__ import annotations

import pandas as pd

from povsim.reporting import run_figures


def _frame(measures: list[str]) -> pd.DataFrame:
    rows = [
        {"arm": "baseline", "year": y, "sex": "all", "quintile": q, "measure": m, "value": 0.1}
        for y in (2019, 2020)
        for q in ("1", "2", "3", "4", "5", "all")
        for m in measures
    ]
    return pd.DataFrame(rows)


def test_outcomes_figure_has_one_panel_per_labelled_outcome(monkeypatch, tmp_path):
    labels = {**run_figures.OUTCOME_LABELS, "tenth": "A tenth outcome (%)"}
    monkeypatch.setattr(run_figures, "OUTCOME_LABELS", labels)
    seen = {}

    def keep(fig, path):
        seen["titles"] = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        run_figures.plt.close(fig)

    monkeypatch.setattr(run_figures, "_save", keep)
    run_figures.outcomes_figure(_frame(list(labels)), "baseline", tmp_path / "o.png")
    assert len(labels) == 10
    assert seen["titles"] == list(labels.values())  # all ten, in order; none dropped


def test_outcomes_figure_skips_outcomes_the_frame_lacks(monkeypatch, tmp_path):
    seen = {}

    def keep(fig, path):
        seen["titles"] = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        run_figures.plt.close(fig)

    monkeypatch.setattr(run_figures, "_save", keep)
    run_figures.outcomes_figure(_frame(["smoking", "poverty"]), "baseline", tmp_path / "o.png")
    assert seen["titles"] == [
        run_figures.OUTCOME_LABELS["poverty"],
        run_figures.OUTCOME_LABELS["smoking"],
    ]
