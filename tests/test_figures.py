"""``nploss figures``: every file written and a PNG, every figure labelled, the output reproducible."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from nploss import figures
from nploss.cli import main
from nploss.fewshot.train import LOG_COLUMNS

PNG = b"\x89PNG\r\n\x1a\n"


def _fewshot_log(path):
    """A short log.csv as `nploss train` writes it (the diagnostics every other episode)."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        for episode in range(20):
            row = {k: f"{v:.6g}" for k, v in zip(LOG_COLUMNS, rng.uniform(0.01, 1.0, len(LOG_COLUMNS)))}
            row["episode"] = episode
            for name in ("cos_ce_var", "cos_ce_cov", "cos_var_cov"):
                row[name] = f"{rng.uniform(-1, 1):.6g}" if episode % 2 == 0 else ""
            writer.writerow(row)
    return path


def test_the_command_writes_every_figure_as_a_png(tmp_path, capsys):
    out = tmp_path / "figs"
    log = _fewshot_log(tmp_path / "log.csv")
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(log)]) == 0
    expected = [*figures.figure_functions(fast=True), "fewshot_dynamics.png", "fewshot_interference.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name in expected:
        data = (out / name).read_bytes()
        assert data.startswith(PNG), name
        assert 5_000 < len(data) < 200_000, (name, len(data))
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / name) for name in expected]


def test_every_family_of_the_registry_has_a_gallery():
    from nploss.losses import REGISTRY

    assert {spec.family for spec in REGISTRY.values()} == set(figures.FAMILIES)


@pytest.mark.parametrize("name", list(figures.figure_functions(fast=True)))
def test_each_figure_has_axis_labels_a_legend_and_a_title(name):
    fig = figures.figure_functions(fast=True)[name]()
    assert fig.get_suptitle(), name
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), (name, ax)
        legend = ax.get_legend()
        assert legend is not None and legend.get_texts(), (name, ax.get_title())
        for line in ax.get_lines():  # nothing plotted is NaN or infinite, except where clipped on purpose
            y = np.asarray(line.get_ydata(), dtype=float)
            assert np.isfinite(y).all(), (name, line.get_label())


def test_the_output_is_reproducible(tmp_path):
    a = figures.save(figures.focal_vs_ce(fast=True), tmp_path / "a.png").read_bytes()
    b = figures.save(figures.focal_vs_ce(fast=True), tmp_path / "b.png").read_bytes()
    assert a == b


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown family 'optics'"):
        figures.loss_gallery("optics")
