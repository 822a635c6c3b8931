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


# --- layout: legends clear of the data, grids, zero baselines, distinguishable arms ----------
# (issue 15 item 6)


def _arms_frame() -> pd.DataFrame:
    rows = []
    for arm, shift in (("baseline", 0.0), ("a", 0.3), ("b", -0.2), ("c", 0.1)):
        for y in range(2019, 2025):
            for q in ("1", "2", "3", "4", "5", "all"):
                for m, v in (("le0", 80.0), ("hle0", 63.0)):
                    rows.append(
                        {
                            "arm": arm,
                            "year": y,
                            "sex": "all",
                            "quintile": q,
                            "measure": m,
                            "value": v + shift + int(q if q != "all" else 3),
                            "se": 0.1,
                        }
                    )
            for m, v in (
                ("hle0_gap", 12.0),
                ("hle0_sii", 14.0),
                ("le0_gap", 7.0),
                ("le0_sii", 8.0),
            ):
                rows.append(
                    {
                        "arm": arm,
                        "year": y,
                        "sex": "all",
                        "quintile": "all",
                        "measure": m,
                        "value": v + shift,
                        "se": 0.2,
                    }
                )
    return pd.DataFrame(rows)


def _comparison() -> pd.DataFrame:
    rows = []
    for arm, k in (("a", 1.0), ("b", -1.0)):
        for q in ("1", "2", "3", "4", "5", "all"):
            rows.append(
                {
                    "arm": arm,
                    "year": 2024,
                    "sex": "all",
                    "quintile": q,
                    "measure": "hle0_change",
                    "value": k * 0.05 * int(q if q != "all" else 3),
                }
            )
    return pd.DataFrame(rows)


def _keep(monkeypatch, module) -> dict:
    seen: dict = {}

    def keep(fig, path):
        fig.canvas.draw()
        seen["fig"] = fig

    monkeypatch.setattr(module, "_save", keep)
    return seen


def _no_overlap(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends, "the figure has a legend"
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison:
                assert not box.overlaps(ax.get_window_extent(renderer)), ax.get_title()


def test_legends_sit_outside_every_axis(monkeypatch, tmp_path):
    seen = _keep(monkeypatch, run_figures)
    with run_figures.plt.rc_context(run_figures.STYLE):
        for draw in (
            lambda: run_figures.gap_over_time_figure(_arms_frame(), tmp_path / "g.png"),
            lambda: run_figures.hle_change_figure(_comparison(), tmp_path / "h.png"),
            lambda: run_figures.expectancies_figure(
                _arms_frame().assign(sex="male"), "baseline", tmp_path / "e.png"
            ),
        ):
            draw()
            _no_overlap(seen["fig"])
            run_figures.plt.close(seen["fig"])


def test_change_plots_include_zero_and_arms_differ_by_more_than_colour(monkeypatch, tmp_path):
    seen = _keep(monkeypatch, run_figures)
    with run_figures.plt.rc_context(run_figures.STYLE):
        run_figures.gap_over_time_figure(_arms_frame(), tmp_path / "g.png")
    fig = seen["fig"]
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        assert lo <= 0 <= hi, ax.get_title()  # a gap of 12-14 years is drawn from zero
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in ("baseline", "a", "b", "c")]
    assert len(lines) == 4
    styles = {(str(ln.get_linestyle()), ln.get_marker()) for ln in lines}
    assert len({s for s, _ in styles}) == 4 and len({m for _, m in styles}) == 4
    run_figures.plt.close(fig)
    seen = _keep(monkeypatch, run_figures)
    with run_figures.plt.rc_context(run_figures.STYLE):
        run_figures.hle_change_figure(_comparison(), tmp_path / "h.png")
    ax = seen["fig"].axes[0]
    lo, hi = ax.get_ylim()
    assert lo <= 0 <= hi
    hatches = {p.get_hatch() or "" for p in ax.patches}
    assert len(hatches) == 2  # the two arms' bars differ in pattern as well as colour
    run_figures.plt.close(seen["fig"])


def test_level_figures_say_where_their_axis_starts(monkeypatch, tmp_path):
    seen = _keep(monkeypatch, run_figures)
    with run_figures.plt.rc_context(run_figures.STYLE):
        run_figures.expectancies_figure(
            _arms_frame().assign(sex="male"), "baseline", tmp_path / "e.png"
        )
    fig = seen["fig"]
    title = fig.get_suptitle()
    start = fig.axes[0].get_ylim()[0]
    assert f"start at {start:.0f}" in title and "not zero" in title
    run_figures.plt.close(fig)


def test_an_area_with_one_quintile_gets_a_message_not_an_empty_gap_panel(monkeypatch, tmp_path):
    f = _arms_frame()
    f.loc[f.measure.str.endswith("_gap"), "value"] = float("nan")
    seen = _keep(monkeypatch, run_figures)
    with run_figures.plt.rc_context(run_figures.STYLE):
        run_figures.gap_over_time_figure(f, tmp_path / "g.png")
    ax = seen["fig"].axes[0]
    assert not ax.axison
    assert any("only one IMD quintile" in t.get_text() for t in ax.texts)
    run_figures.plt.close(seen["fig"])


def test_the_convergence_chart_is_a_grid(monkeypatch, tmp_path):
    from povsim.reporting import sensitivity_figures as sf

    outs = [f"arm{k}.{o}" for k in (1, 2) for o in sf.FIGURE_OUTPUTS]  # 8 panels
    conv = pd.DataFrame(
        [
            {"output": o, "parameter": p, "n": n, "ST": 0.3, "conf": 0.1}
            for o in outs
            for p in ("x.a", "x.b")
            for n in (4, 8, 16)
        ]
    )
    seen = {}
    real = sf.plt.Figure.savefig

    def keep(fig, path, **kw):
        fig.canvas.draw()
        seen["fig"] = fig

    monkeypatch.setattr(sf.plt.Figure, "savefig", keep)
    with sf.plt.rc_context(sf.STYLE):
        sf.convergence_figure(conv, tmp_path / "c.png")
    monkeypatch.setattr(sf.plt.Figure, "savefig", real)
    fig = seen["fig"]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 8
    rows = {round(ax.get_position().y0, 3) for ax in panels}
    cols = {round(ax.get_position().x0, 3) for ax in panels}
    assert len(rows) > 1 and len(cols) <= sf.CONVERGENCE_COLUMNS
    for ax in panels:
        assert ax.get_ylim()[0] <= 0  # indices read from zero
    _no_overlap(fig)
    sf.plt.close(fig)


def _texts_clear(fig) -> None:
    """Every text of a panel (title, labels, tick labels) and the suptitle lie inside the
    figure and clear of every other panel; the legend clear of every panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    page = fig.bbox
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    for ax in panels:
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
        for locs, labels, (lo, hi) in (
            (ax.get_xticks(), ax.get_xticklabels(), sorted(ax.get_xlim())),
            (ax.get_yticks(), ax.get_yticklabels(), sorted(ax.get_ylim())),
        ):  # the tick labels drawn: those within the axis' view
            texts += [t for v, t in zip(locs, labels) if lo <= v <= hi and t.get_visible()]
        for t in texts:
            if not t.get_text():
                continue
            box = t.get_window_extent(r)
            assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, t.get_text()
            assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, t.get_text()
            for other in panels:
                if other is not ax:
                    assert not box.overlaps(other.get_window_extent(r)), t.get_text()
    if fig._suptitle is not None:
        top = fig._suptitle.get_window_extent(r)
        assert top.y1 <= page.y1 + 1
        for ax in panels:
            assert not top.overlaps(ax.title.get_window_extent(r)), ax.get_title()
            assert not top.overlaps(ax.get_window_extent(r)), ax.get_title()


def _decomposition() -> pd.DataFrame:
    rows = [
        {"method": "shapley", "measure": m, "sex": s, "pathway": p, "years": 0.5}
        for m in ("le0", "hle0")
        for s in ("male", "female")
        for p in [*run_figures.PATHWAY_LABELS, "total"]
    ]
    return pd.DataFrame(rows)


def test_fixed_layout_figures_keep_texts_inside_and_clear_of_other_panels(monkeypatch, tmp_path):
    """The per-arm figures and the decomposition have a fixed layout (no constrained-layout
    pass, a third of the figures' time): their room must still hold every text, with a
    partial last row of outcomes (x labels above a hidden panel) and a decomposition's longest
    pathway label."""
    seen = _keep(monkeypatch, run_figures)
    ten = {**run_figures.OUTCOME_LABELS, "tenth": "A tenth outcome (%)"}
    frame = _arms_frame().assign(sex="male")
    monkeypatch.setattr(run_figures, "OUTCOME_LABELS", ten)
    with run_figures.plt.rc_context(run_figures.STYLE):
        for draw in (
            lambda: run_figures.expectancies_figure(frame, "baseline", tmp_path / "e.png"),
            lambda: run_figures.inequality_figure(_arms_frame(), "a", tmp_path / "i.png"),
            lambda: run_figures.outcomes_figure(_frame(list(ten)), "baseline", tmp_path / "o"),
            lambda: run_figures.decomposition_figure(_decomposition(), tmp_path / "d.png"),
        ):
            draw()
            fig = seen["fig"]
            assert fig.get_layout_engine() is None
            _texts_clear(fig)
            _no_overlap(fig)
            run_figures.plt.close(fig)


def test_figures_are_saved_faster_with_the_same_pixels(tmp_path):
    """save_figure writes PNGs at a lower zlib level than PIL's default: the pixels are the
    same as matplotlib's default PNG of the same figure, only the compression differs."""
    from matplotlib.image import imread

    from povsim.reporting import figure_store as fs

    fig, ax = fs.plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [1, 3, 2], label="a line")
    ax.legend()
    fig.savefig(tmp_path / "default.png", dpi=110)
    fs.save_figure(fig, tmp_path / "ours.png", dpi=110)
    a, b = imread(tmp_path / "default.png"), imread(tmp_path / "ours.png")
    assert a.shape == b.shape and (a == b).all()
    assert (tmp_path / "default.png").read_bytes() != (tmp_path / "ours.png").read_bytes()
