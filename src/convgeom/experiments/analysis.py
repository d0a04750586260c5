"""From run records to conclusions: per-configuration means with 95% confidence intervals,
paired comparisons (same seeds: same data, same batch order, same initial-weight stream) and
the verdict on each tutorial claim.

A claim is *supported* on a dataset when the difference goes the claimed way and the paired
t-test gives p < :data:`ALPHA`, *contradicted* when it goes the other way with p < ALPHA, and
*not shown* otherwise (too small a difference for the seeds run). No correction for multiple
comparisons is applied; the report says how many were made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .config import Claim, Experiment, ModelSpec, variant_label
from .stats import Interval, PairedTest, mean, mean_ci, paired_test

ALPHA = 0.05
#: Metrics that are exact functions of the configuration (from ``convgeom.trace``): any
#: difference is real, no test needed.
EXACT_METRICS = ("macs", "params")


@dataclass(frozen=True)
class Summary:
    """One (dataset, variant) over its seeds."""

    dataset: str
    variant: str
    model: dict[str, Any]
    seeds: tuple[int, ...]
    accuracy: Interval
    train_ms: Interval
    infer_ms: Interval
    params: int
    macs: int
    receptive_field: Optional[list[Any]]
    findings: tuple[str, ...]
    #: per epoch: mean train_loss, train_accuracy, val_loss, val_accuracy over the seeds
    curve: tuple[dict[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "variant": self.variant, **self.model, "n": self.accuracy.n,
            "seeds": list(self.seeds),
            "accuracy_mean": self.accuracy.mean, "accuracy_ci_low": self.accuracy.low,
            "accuracy_ci_high": self.accuracy.high, "accuracy_sd": self.accuracy.sd,
            "train_ms_per_image": self.train_ms.mean, "infer_ms_per_image": self.infer_ms.mean,
            "params": self.params, "macs": self.macs, "receptive_field": self.receptive_field,
            "findings": list(self.findings), "curve": list(self.curve),
        }


def _groups(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["variant"]), []).append(r)
    for runs in groups.values():
        runs.sort(key=lambda r: r["seed"])
    return groups


def summarize(records: Sequence[dict[str, Any]]) -> list[Summary]:
    """One :class:`Summary` per (dataset, variant), in the order the runs were planned."""
    out = []
    for (dataset, variant), runs in _groups(records).items():
        first = runs[0]
        epochs = min(len(r["epochs"]) for r in runs)
        curve = tuple({key: mean([r["epochs"][e][key] for r in runs])
                       for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}
                      for e in range(epochs))
        out.append(Summary(
            dataset, variant, dict(first["model"]), tuple(r["seed"] for r in runs),
            mean_ci([r["test_accuracy"] for r in runs]), mean_ci([r["train_ms_per_image"] for r in runs]),
            mean_ci([r["infer_ms_per_image"] for r in runs]), first["params"], first["macs"],
            first["receptive_field"], tuple(first["findings"]), curve))
    return out


@dataclass(frozen=True)
class Comparison:
    """Variant ``a`` against ``b`` on one dataset and metric, paired by seed."""

    dataset: str
    a: str
    b: str
    metric: str
    a_mean: float
    b_mean: float
    test: Optional[PairedTest]     # None with fewer than 2 paired seeds

    @property
    def significant(self) -> bool:
        """p < ALPHA (False where the test is undefined); any difference for exact metrics."""
        if self.metric in EXACT_METRICS:
            return self.a_mean != self.b_mean
        return self.test is not None and self.test.p_t < ALPHA

    def to_dict(self) -> dict[str, Any]:
        t = self.test
        return {"dataset": self.dataset, "a": self.a, "b": self.b, "metric": self.metric,
                "a_mean": self.a_mean, "b_mean": self.b_mean, "n": None if t is None else t.n,
                "diff_mean": self.a_mean - self.b_mean,
                "diff_ci_low": None if t is None else t.diff.low, "diff_ci_high": None if t is None else t.diff.high,
                "t": None if t is None else t.t, "p_t": None if t is None else t.p_t,
                "p_exact": None if t is None else t.p_exact}


def compare(records: Sequence[dict[str, Any]], dataset: str, a: str, b: str, metric: str) -> Optional[Comparison]:
    """Pair the runs of variants ``a`` and ``b`` on ``dataset`` by seed (None if either has none)."""
    groups = _groups(records)
    ra = {r["seed"]: r[metric] for r in groups.get((dataset, a), ())}
    rb = {r["seed"]: r[metric] for r in groups.get((dataset, b), ())}
    seeds = sorted(set(ra) & set(rb))
    if not seeds:
        return None
    xa, xb = [float(ra[s]) for s in seeds], [float(rb[s]) for s in seeds]
    test = paired_test(xa, xb) if len(seeds) >= 2 else None
    return Comparison(dataset, a, b, metric, mean(xa), mean(xb), test)


def _matches(model: ModelSpec, fixed: Sequence[tuple[str, Any]]) -> bool:
    return all(getattr(model, k) == v for k, v in fixed)


def variant_pairs(experiment: Experiment, a: Sequence[tuple[str, Any]],
                  b: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Labels of the variant pairs that match ``a`` and ``b`` and agree on every other field."""
    keys = {k for k, _ in a} | {k for k, _ in b}
    variants = experiment.variants()
    pairs = []
    for va in variants:
        if not _matches(va, a):
            continue
        for vb in variants:
            same_rest = all(getattr(va, f) == getattr(vb, f) for f in va.to_dict() if f not in keys)
            if vb != va and _matches(vb, b) and same_rest:
                pairs.append((variant_label(va, experiment.varying), variant_label(vb, experiment.varying)))
    return pairs


def axis_comparisons(experiment: Experiment, records: Sequence[dict[str, Any]]) -> list[Comparison]:
    """For each varying grid axis: every other value against the axis's first value, the
    other fields held fixed, on every dataset (test accuracy)."""
    out = []
    for key, values in experiment.grid:
        if len(values) < 2:
            continue
        for value in values[1:]:
            for la, lb in variant_pairs(experiment, ((key, value),), ((key, values[0]),)):
                for d in experiment.datasets:
                    c = compare(records, d.label, la, lb, "test_accuracy")
                    if c is not None:
                        out.append(c)
    return out


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str                              # supported / contradicted / not shown / mixed / not run
    comparisons: tuple[Comparison, ...] = ()
    lines: tuple[str, ...] = ()               # one per dataset (or per comparison), with numbers

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.claim.id, "claim": self.claim.text, "source": self.claim.source,
                "metric": self.claim.metric, "verdict": self.verdict, "details": list(self.lines),
                "comparisons": [c.to_dict() for c in self.comparisons]}


def _one(c: Comparison, expect: str) -> str:
    if not c.significant:
        return "not shown"
    went_up = c.a_mean > c.b_mean
    return "supported" if went_up == (expect == "greater") else "contradicted"


def _fmt(metric: str, value: float) -> str:
    if metric == "test_accuracy":
        return f"{100 * value:.1f}%"
    if metric in ("macs", "params"):
        return f"{value:,.0f}"
    return f"{value:.3f} ms"


def _p(p: float) -> str:
    return "n/a (differences all equal)" if math.isnan(p) else f"{p:.3g}"


def _line(c: Comparison, expect: str) -> str:
    t = c.test
    diff = c.a_mean - c.b_mean
    scale = 100.0 if c.metric == "test_accuracy" else 1.0
    unit = " points" if c.metric == "test_accuracy" else ""
    stat = ("exact, from convgeom.trace" if c.metric in EXACT_METRICS else "one seed: no test" if t is None else
            f"diff {scale * diff:+.3g}{unit} [95% CI {scale * t.diff.low:+.3g}, {scale * t.diff.high:+.3g}], "
            f"paired t p={_p(t.p_t)}, exact sign-flip p={_p(t.p_exact)}, n={t.n}")
    return (f"{c.dataset}: {c.a} {_fmt(c.metric, c.a_mean)} vs {c.b} {_fmt(c.metric, c.b_mean)} "
            f"({stat}) -> {_one(c, expect)}")


def _overall(verdicts: Sequence[str]) -> str:
    if not verdicts:
        return "not run"
    kinds = set(verdicts)
    if len(kinds) == 1:
        return verdicts[0]
    if "supported" in kinds and "contradicted" in kinds:
        return "mixed"
    return "partly supported" if "supported" in kinds else ("partly contradicted" if "contradicted" in kinds else "not shown")


def _trace_verdict(claim: Claim, experiment: Experiment, records: Sequence[dict[str, Any]]) -> Verdict:
    """Seed 001: the mean training loss falls every epoch and the mean training accuracy never
    falls and ends higher (once at 100% it cannot rise further)."""
    lines, verdicts = [], []
    for d in experiment.datasets:
        if claim.datasets and d.name not in claim.datasets and d.label not in claim.datasets:
            continue
        runs = [r for r in records if r["dataset"] == d.label]
        if not runs:
            continue
        epochs = min(len(r["epochs"]) for r in runs)
        loss = [mean([r["epochs"][e]["train_loss"] for r in runs]) for e in range(epochs)]
        acc = [mean([r["epochs"][e]["train_accuracy"] for r in runs]) for e in range(epochs)]
        falling = all(x > y for x, y in zip(loss, loss[1:]))
        rising = all(x <= y for x, y in zip(acc, acc[1:])) and acc[-1] > acc[0]
        each = sum(all(x["train_loss"] > y["train_loss"] for x, y in zip(r["epochs"], r["epochs"][1:])) for r in runs)
        verdict = "supported" if falling and rising else "not shown"
        verdicts.append(verdict)
        lines.append(f"{d.label}: mean train loss {' -> '.join(f'{v:.2f}' for v in loss)}; mean train accuracy "
                     f"{' -> '.join(f'{v:.2f}' for v in acc)}; loss fell every epoch in {each} of {len(runs)} runs "
                     f"-> {verdict}")
    return Verdict(claim, _overall(verdicts), (), tuple(lines))


def judge(claim: Claim, experiment: Experiment, records: Sequence[dict[str, Any]]) -> Verdict:
    """The verdict on ``claim`` from the finished ``records``."""
    if claim.metric == "trace":
        return _trace_verdict(claim, experiment, records)
    comparisons = []
    for la, lb in variant_pairs(experiment, claim.a, claim.b):
        for d in experiment.datasets:
            if claim.datasets and d.name not in claim.datasets and d.label not in claim.datasets:
                continue
            c = compare(records, d.label, la, lb, claim.metric)
            if c is not None:
                comparisons.append(c)
    return Verdict(claim, _overall([_one(c, claim.expect) for c in comparisons]), tuple(comparisons),
                   tuple(_line(c, claim.expect) for c in comparisons))
