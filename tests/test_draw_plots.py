"""The matplotlib plots: the staircase's data against live PyTorch, byte-identical files, and the
receptive-field growth of a traced model."""

from __future__ import annotations

from pathlib import Path

import pytest

import convgeom as cg

pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")
F = torch.nn.functional

from convgeom.draw import plots  # noqa: E402


def test_staircase_torch_line_is_what_torch_returns() -> None:
    sizes = range(1, 40)
    for params, fn in (({"kernel": 5, "stride": 3, "padding": 1}, lambda x: F.conv1d(x, torch.ones(1, 1, 5), None, 3, 1)),
                       ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                        lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True))):
        op = "conv" if "ceil_mode" not in params else "max_pool"
        table = plots.output_sizes(op, sizes, ("torch",), **params)
        for n, got in zip(sizes, table["torch"]):
            try:
                want = fn(torch.zeros(1, 1, n)).shape[-1]
            except RuntimeError:
                want = None
            assert got == want, (op, n)


def test_figure_lines_are_the_table_grouped_by_agreement() -> None:
    sizes = list(range(1, 20))
    params = {"kernel": 4, "stride": 3, "padding": "valid"}
    fig = plots.staircase("max_pool", sizes, **params)
    table = plots.output_sizes("max_pool", sizes, **params)
    groups = plots.agreeing(table)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    for names, column in groups:
        label = " = ".join(plots._LABELS[n] for n in names)
        if any(v is not None for v in column):
            line = fig.axes[0].get_lines()[labels.index(label)]
            xs, ys = line.get_data()
            got = [round(y) for y in ys]
            assert list(xs) == [n for n, v in zip(sizes, column) if v is not None]
            assert got == [v for v in column if v is not None]
        if None in column:
            assert f"{label}: refused" in labels
    assert len(groups) >= 2  # the frameworks differ here (PyTorch refuses n < 4, the others give 0)


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_plots_are_byte_identical(ext: str, tmp_path: Path) -> None:
    for name in ("a", "b"):
        fig = plots.staircase("conv", range(1, 12), kernel=3, stride=2, padding="same")
        plots.save(fig, str(tmp_path / f"{name}.{ext}"))
    assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()
    with pytest.raises(cg.GeometryError, match="cannot write a plot as 'gif'"):
        plots.save(fig, str(tmp_path / "c.gif"))


def test_rf_growth_plots_the_traced_fields() -> None:
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, (3, 5), 2, (1, 2)),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    t = cg.trace(model, (1, 1, 32, 32))
    fig = plots.rf_growth(t)
    sizes_h = [float(r.receptive_field.fields[0].size) for r in t.layers if r.receptive_field is not None]
    sizes_w = [float(r.receptive_field.fields[1].size) for r in t.layers if r.receptive_field is not None]
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines["receptive field size (H)"] == sizes_h and lines["receptive field size (W)"] == sizes_w
    text = plots.rf_growth_text(t)
    assert text.splitlines()[1].split() == ["0", "3", "3", "2", "2"]
    assert "whole" in text.splitlines()[-1]


def test_too_many_sizes_is_refused() -> None:
    with pytest.raises(cg.GeometryError, match="cap of 4,096"):
        plots.output_sizes("conv", range(1, 5000), kernel=3)
