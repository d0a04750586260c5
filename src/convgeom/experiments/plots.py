"""The sweep's plots (matplotlib's object API on the Agg canvas: no pyplot, no global state):
test accuracy per variant, accuracy against receptive field, accuracy against cost, and the
learning curves. Each returns the PNG path it wrote."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from .analysis import Summary

_DPI = 110


def _figure(rows: int, cols: int, width: float, height: float) -> tuple[Any, list[list[Any]]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), dpi=_DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [list(r) for r in axes]


def _save(fig: Any, path: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path)
    return path


def _by_dataset(summaries: Sequence[Summary]) -> dict[str, list[Summary]]:
    out: dict[str, list[Summary]] = {}
    for s in summaries:
        out.setdefault(s.dataset, []).append(s)
    return out


def _err(s: Summary) -> float:
    return 0.0 if math.isnan(s.accuracy.half) else 100 * s.accuracy.half


def accuracy_bars(summaries: Sequence[Summary], runs: Sequence[dict[str, Any]], chance: dict[str, float],
                  title: str, path: str) -> str:
    """One panel per dataset: mean test accuracy per variant with its 95% CI, every seed as a dot,
    chance as a dashed line."""
    groups = _by_dataset(summaries)
    fig, axes = _figure(1, len(groups), max(3.2, 0.9 * max(len(v) for v in groups.values()) + 1.2), 3.6)
    for ax, (dataset, items) in zip(axes[0], groups.items()):
        xs = range(len(items))
        ax.bar(xs, [100 * s.accuracy.mean for s in items], yerr=[_err(s) for s in items], capsize=4,
               color="#9ecae1", edgecolor="#3182bd", label="mean, 95% CI")
        for x, s in zip(xs, items):
            seeds = [100 * r["test_accuracy"] for r in runs if r["dataset"] == dataset and r["variant"] == s.variant]
            ax.plot([x] * len(seeds), seeds, "o", color="#08519c", markersize=3, alpha=0.8)
        if dataset in chance:
            ax.axhline(100 * chance[dataset], color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks(list(xs), [_short(s.variant) for s in items], rotation=30, ha="right")
        low = min(min(100 * s.accuracy.low if not math.isnan(s.accuracy.half) else 100 * s.accuracy.mean
                      for s in items), 100 * chance.get(dataset, 1.0))
        ax.set_ylim(max(0.0, low - 10), 100)
        ax.set_title(dataset)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle(title)
    return _save(fig, path)


def _short(label: str) -> str:
    """``padding_mode=reflect`` -> ``reflect`` when one field varies."""
    parts = label.split(", ")
    return label if len(parts) > 1 else label.split("=", 1)[-1]


def _scatter(ax: Any, items: Sequence[Summary], x_of: Any, title: str, xlabel: str) -> None:
    """Mean accuracy (95% CI) of each variant at ``x_of(summary)``; a legend, not text labels,
    names them (variants often share an x: the same MACs or receptive field)."""
    for s in items:
        ax.errorbar([x_of(s)], [100 * s.accuracy.mean], yerr=[_err(s)], fmt="o", capsize=3, label=_short(s.variant))
    ax.legend(fontsize="x-small")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)


def accuracy_vs_rf(summaries: Sequence[Summary], path: str) -> str:
    """Mean accuracy (95% CI) against the receptive field of the last spatial layer."""
    groups = _by_dataset(summaries)
    fig, axes = _figure(1, len(groups), 4.2, 3.6)
    for ax, (dataset, items) in zip(axes[0], groups.items()):
        _scatter(ax, items, lambda s: s.receptive_field[0] if s.receptive_field else float("nan"), dataset,
                 "receptive field (px, convgeom.trace)")
    fig.suptitle("Accuracy vs receptive field (mean, 95% CI)")
    return _save(fig, path)


def accuracy_vs_cost(summaries: Sequence[Summary], path: str) -> str:
    """Mean accuracy against MACs per image (exact) and measured training time per image."""
    from matplotlib.ticker import EngFormatter

    groups = _by_dataset(summaries)
    fig, axes = _figure(len(groups), 2, 4.2, 3.2)
    for row, (dataset, items) in zip(axes, groups.items()):
        _scatter(row[0], items, lambda s: s.macs, dataset, "MACs per image (convgeom.trace)")
        row[0].xaxis.set_major_formatter(EngFormatter(sep=""))       # 55k, not 55000 run into 75000
        _scatter(row[1], items, lambda s: s.train_ms.mean, dataset, "training time per image (ms)")
    fig.suptitle("Accuracy vs cost (mean, 95% CI)")
    return _save(fig, path)


def learning_curves(summaries: Sequence[Summary], path: str) -> str:
    """Per dataset: mean training loss and mean validation accuracy per epoch, one line per variant."""
    groups = _by_dataset(summaries)
    fig, axes = _figure(len(groups), 2, 4.4, 3.0)
    for row, (dataset, items) in zip(axes, groups.items()):
        for s in items:
            epochs = range(1, len(s.curve) + 1)
            row[0].plot(epochs, [c["train_loss"] for c in s.curve], marker=".", label=_short(s.variant))
            row[1].plot(epochs, [100 * c["val_accuracy"] for c in s.curve], marker=".", label=_short(s.variant))
        row[0].set_title(f"{dataset}: training loss")
        row[1].set_title(f"{dataset}: validation accuracy (%)")
        for ax in row:
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        row[1].legend(fontsize="x-small")
    fig.suptitle("Learning curves (mean over seeds)")
    return _save(fig, path)


def write_all(summaries: Sequence[Summary], runs: Sequence[dict[str, Any]], chance: dict[str, float],
              varying: Sequence[str], folder: str) -> list[str]:
    """All plots into ``folder``; returns the paths."""
    os.makedirs(folder, exist_ok=True)
    what = " x ".join(v.replace("_", " ") for v in varying) or "configuration"
    paths = [
        accuracy_bars(summaries, runs, chance, f"Test accuracy by {what} (mean, 95% CI; dots: seeds)",
                      os.path.join(folder, "accuracy.png")),
        learning_curves(summaries, os.path.join(folder, "learning_curves.png")),
        accuracy_vs_cost(summaries, os.path.join(folder, "cost.png")),
    ]
    rf_varies = any(len({str(s.receptive_field) for s in items}) > 1 for items in _by_dataset(summaries).values())
    stale = os.path.join(folder, "receptive_field.png")
    if rf_varies:
        paths.append(accuracy_vs_rf(summaries, stale))
    elif os.path.isfile(stale):          # from an earlier sweep into this folder
        os.remove(stale)
    return paths
