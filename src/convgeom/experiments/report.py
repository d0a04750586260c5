"""Everything a finished (or interrupted) sweep writes besides ``runs.jsonl``: the CSV and JSON
tables, the plots and ``report.md``, which states for each tutorial claim whether this data
supports it, with the numbers."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .analysis import ALPHA, Comparison, Summary, Verdict, axis_comparisons, judge, summarize
from .config import Experiment
from .store import EPOCH_COLUMNS, RUN_COLUMNS, epoch_rows, flat_runs, write_csv, write_json
from .sweep import Outcome

SUMMARY_COLUMNS = ("dataset", "variant", "n", "accuracy_mean", "accuracy_ci_low", "accuracy_ci_high", "accuracy_sd",
                   "params", "macs", "receptive_field", "train_ms_per_image", "infer_ms_per_image",
                   "kernel", "padding", "padding_mode", "downsample", "dilation", "depth", "width", "norm", "head")
COMPARISON_COLUMNS = ("dataset", "metric", "a", "b", "n", "a_mean", "b_mean", "diff_mean", "diff_ci_low",
                      "diff_ci_high", "t", "p_t", "p_exact")


@dataclass(frozen=True)
class Findings:
    """What the analysis found, for the report, the terminal and ``--json``."""

    summaries: list[Summary]
    verdicts: list[Verdict]
    comparisons: list[Comparison]
    chance: dict[str, float]
    files: list[str] = field(default_factory=list)


def analyse(experiment: Experiment, records: Sequence[dict[str, Any]]) -> Findings:
    chance: dict[str, float] = {}
    for r in records:
        chance.setdefault(r["dataset"], 1.0 / r["classes"])
    return Findings(summarize(records), [judge(c, experiment, records) for c in experiment.claims],
                    axis_comparisons(experiment, records), chance)


def write_outputs(experiment: Experiment, outcome: Outcome, out: str, plots: bool, command: str) -> Findings:
    """Tables, plots and the report for the runs in ``outcome``; returns what they say."""
    records = outcome.records
    found = analyse(experiment, records)
    files = [os.path.join(out, name) for name in ("runs.csv", "runs.json", "epochs.csv", "summary.csv",
                                                  "comparisons.csv", "report.md")]
    write_csv(files[0], flat_runs(records), RUN_COLUMNS)
    write_json(files[1], {"experiment": experiment.to_dict(), "runs": records})
    write_csv(files[2], epoch_rows(records), EPOCH_COLUMNS)
    write_csv(files[3], [s.to_dict() for s in found.summaries], SUMMARY_COLUMNS)
    write_csv(files[4], [c.to_dict() for c in found.comparisons] + [c.to_dict() for v in found.verdicts
                                                                   for c in v.comparisons], COMPARISON_COLUMNS)
    if plots and records:
        from .plots import write_all

        files += write_all(found.summaries, records, found.chance, experiment.varying, os.path.join(out, "plots"))
    with open(files[5], "w", encoding="utf-8") as fh:
        fh.write(markdown(experiment, outcome, found, out, command, plots and bool(records)))
    return Findings(found.summaries, found.verdicts, found.comparisons, found.chance, files)


def p_value(p: float) -> str:
    """``0.0123``; ``n/a`` where the test is undefined (differences that do not vary)."""
    return "n/a" if math.isnan(p) else f"{p:.3g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(s: Summary) -> str:
    a = s.accuracy
    return f"{_pct(a.mean)}" if math.isnan(a.half) else f"{_pct(a.mean)} ± {_pct(a.half)}"


def _rf(s: Summary) -> str:
    rf = s.receptive_field
    if not rf:
        return "-"
    return str(rf[0]) if len(set(map(str, rf))) == 1 else "x".join(map(str, rf))


def _sizes(run: dict[str, Any]) -> str:
    """``conv1 16x16 -> pool1 8x8 -> ...``: the spatial output of every conv, pad and pool layer."""
    return " → ".join(f"{layer['name']} {'x'.join(map(str, layer['output'][1:]))}"
                      for layer in run["layers"] if layer["op"] in ("conv", "pad", "max_pool", "avg_pool"))


def _machine(records: Sequence[dict[str, Any]], experiment: Experiment) -> str:
    backends = sorted({r["backend"] for r in records}) or ["-"]
    load = f", load average {os.getloadavg()[0]:.1f} when the report was written" if hasattr(os, "getloadavg") else ""
    return (f"{platform.machine()}, {os.cpu_count()} CPUs{load}, Python {platform.python_version()}, "
            f"torch {records[0]['torch'] if records else '-'}; device {experiment.train.device}, "
            f"{experiment.train.threads} thread(s) per trial; backend {', '.join(backends)}")


def _results(found: Findings, records: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for dataset in dict.fromkeys(s.dataset for s in found.summaries):
        items = [s for s in found.summaries if s.dataset == dataset]
        run = next(r for r in records if r["dataset"] == dataset)
        lines += [f"### {dataset}", "",
                  f"{run['n_train']} training, {run['n_val']} validation and {run['n_test']} test images of "
                  f"{run['dataset_spec']['size']}x{run['dataset_spec']['size']} per seed; chance "
                  f"{_pct(found.chance[dataset])}%.", "",
                  "| variant | test accuracy % (mean ± 95% CI) | seeds | params | MACs | receptive field (px) "
                  "| train ms/image | inference ms/image |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in items:
            lines.append(f"| {s.variant} | {_ci(s)} | {s.accuracy.n} | {s.params:,} | {s.macs:,} | {_rf(s)} | "
                         f"{s.train_ms.mean:.3f} | {s.infer_ms.mean:.4f} |")
        lines += ["", "Layer output sizes (`convgeom.trace`):", ""]
        for s in items:
            first = next(r for r in records if r["dataset"] == dataset and r["variant"] == s.variant)
            lines.append(f"- {s.variant}: {_sizes(first)}")
            lines += [f"  - finding: {f}" for f in s.findings]
        lines.append("")
    return lines


def _trace_table(found: Findings) -> list[str]:
    lines = []
    for dataset in dict.fromkeys(s.dataset for s in found.summaries):
        s = next(x for x in found.summaries if x.dataset == dataset)
        lines += [f"{dataset}, {s.variant} (mean over {s.accuracy.n} seeds):", "",
                  "| epoch | loss | accuracy | validation loss | validation accuracy |", "|---|---|---|---|---|"]
        lines += [f"| {i} | {c['train_loss']:.2f} | {c['train_accuracy']:.2f} | {c['val_loss']:.2f} | "
                  f"{c['val_accuracy']:.2f} |" for i, c in enumerate(s.curve, 1)]
        lines.append("")
    return lines


def markdown(experiment: Experiment, outcome: Outcome, found: Findings, out: str, command: str, plots: bool) -> str:
    records = outcome.records
    status = (f"{len(records)} of {outcome.total} runs finished" +
              (f" ({outcome.reused} from an earlier call)" if outcome.reused else "") +
              (" — interrupted: continue with `--resume`" if outcome.interrupted or len(records) < outcome.total else ""))
    lines = [f"# Experiment `{experiment.name}`", "", experiment.description, "",
             f"Command: `{command}`", "", f"Machine: {_machine(records, experiment)}.", "", f"Runs: {status}.", ""]
    if not records:
        return "\n".join(lines + ["No finished runs yet.", ""])
    lines += ["## Seed claims", "",
              f"A claim is *supported* when the difference goes the claimed way with paired t-test p < {ALPHA}, "
              f"*contradicted* when it goes the other way with p < {ALPHA}, *not shown* otherwise. Pairs share the "
              "seed (same data split, batch order and initial-weight stream); differences in accuracy are in "
              "percentage points. No correction for multiple comparisons.", ""]
    if not found.verdicts:
        lines += ["(This experiment tests no named claims; see the comparisons below.)", ""]
    for v in found.verdicts:
        lines += [f"### {v.claim.id}: **{v.verdict}**", "", f"> {v.claim.text} — {v.claim.source}", ""]
        lines += [f"- {line}" for line in v.lines] or ["- no finished runs compare these variants"]
        lines.append("")
    lines += ["## Results", ""] + _results(found, records)
    if found.comparisons:
        lines += ["## Comparisons along each grid axis", "",
                  "Each value against the axis's first value, other fields fixed (test accuracy, a − b in points).", "",
                  "| dataset | a | b | a − b | 95% CI | paired t p | exact sign-flip p |", "|---|---|---|---|---|---|---|"]
        for c in found.comparisons:
            t = c.test
            ci = "-" if t is None or math.isnan(t.diff.half) else f"[{100 * t.diff.low:+.1f}, {100 * t.diff.high:+.1f}]"
            lines.append(f"| {c.dataset} | {c.a} | {c.b} | {100 * (c.a_mean - c.b_mean):+.1f} | {ci} | "
                         f"{'-' if t is None else p_value(t.p_t)} | {'-' if t is None else p_value(t.p_exact)} |")
        lines.append("")
    lines += ["## Training trace (seed 001 style)", ""] + _trace_table(found)
    if plots:
        lines += ["## Plots", ""] + [f"![{name}](plots/{name}.png)" for name in
                                     ("accuracy", "learning_curves", "receptive_field", "cost")
                                     if os.path.isfile(os.path.join(out, "plots", f"{name}.png"))] + [""]
    lines += ["## Determinism", "",
              "Each run's numbers are a function of its configuration and seed on this machine and software "
              "(deterministic PyTorch kernels, a fixed thread count per trial, seeded weights, batch order and "
              "generated images): `--backend local` and `--backend ray` give identical results. Timings vary "
              "between runs; results may differ on another CPU type, torch build or on a GPU.", ""]
    return "\n".join(lines)
