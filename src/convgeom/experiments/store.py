"""The output folder: ``runs.jsonl`` (one finished run per line, appended and flushed as each
run ends, so an interrupted sweep keeps them and ``--resume`` skips them), then the tables
written at the end: ``runs.csv``, ``runs.json``, ``epochs.csv``, ``summary.csv``,
``comparisons.csv`` and ``experiment.json`` (the resolved configuration)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from .config import ConfigError

#: Version of the run records; runs of another version are not resumed.
FORMAT = 1
RUNS = "runs.jsonl"
#: Fields that measure time and so differ between otherwise identical runs.
TIMING_FIELDS = ("train_seconds", "train_ms_per_image", "infer_ms_per_image", "backend")
#: Files this package writes into the output folder (``--overwrite`` removes only these).
OWN_FILES = (RUNS, "runs.csv", "runs.json", "epochs.csv", "summary.csv", "comparisons.csv",
             "experiment.json", "report.md")


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without its timings: what must be identical across backends and processes."""
    out = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
    out["epochs"] = [{k: v for k, v in e.items() if k != "seconds"} for e in record.get("epochs", ())]
    return out


class RunStore:
    """Finished runs of one output folder, keyed by trial id."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.path = os.path.join(out, RUNS)

    def exists(self) -> bool:
        return os.path.isfile(self.path) and os.path.getsize(self.path) > 0

    def load(self) -> dict[str, dict[str, Any]]:
        """Every complete, current-format line; a line cut short by an interruption is skipped."""
        runs: dict[str, dict[str, Any]] = {}
        if not os.path.isfile(self.path):
            return runs
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("format") == FORMAT and "id" in record:
                    runs[record["id"]] = record
        return runs

    def append(self, record: dict[str, Any]) -> None:
        """One line, flushed to disk; a line torn by a kill mid-write is closed off first."""
        torn = False
        if os.path.isfile(self.path) and os.path.getsize(self.path):
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(("\n" if torn else "") + json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def prepare(self, resume: bool, overwrite: bool) -> None:
        """Create the folder; refuse to mix a new sweep into old runs unless told how."""
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise ConfigError(f"--out {self.out!r} is a file", fix="give a folder path")
        os.makedirs(self.out, exist_ok=True)
        if overwrite:
            for name in OWN_FILES:
                path = os.path.join(self.out, name)
                if os.path.isfile(path):
                    os.remove(path)
        elif self.exists() and not resume:
            raise ConfigError(f"{self.out} already holds {len(self.load())} finished runs",
                              fix="add --resume to continue them, --overwrite to start afresh, or another --out")


def write_csv(path: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def clean_json(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN), tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(clean_json(data), fh, indent=1, sort_keys=True, allow_nan=False)
        fh.write("\n")


RUN_COLUMNS = ("id", "dataset", "variant", "seed", "test_accuracy", "test_loss", "params", "macs",
               "receptive_field", "train_ms_per_image", "infer_ms_per_image", "train_seconds", "n_train", "n_test",
               "kernel", "padding", "padding_mode", "downsample", "dilation", "depth", "width", "norm", "head",
               "epochs", "batch_size", "lr", "threads", "device", "backend")
EPOCH_COLUMNS = ("id", "dataset", "variant", "seed", "epoch", "train_loss", "train_accuracy", "val_loss",
                 "val_accuracy", "seconds")


def flat_runs(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per run (model and training fields inlined, epochs as a count)."""
    rows = []
    for r in records:
        row = {**r, **r["model"], **r["training"]}
        row["epochs"] = r["training"]["epochs"]
        rows.append(row)
    return rows


def epoch_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": r["id"], "dataset": r["dataset"], "variant": r["variant"], "seed": r["seed"], **e}
            for r in records for e in r["epochs"]]
